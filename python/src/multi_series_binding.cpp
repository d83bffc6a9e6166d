// lstm.GlobalForecaster's engine: one model of several series of a CSV file (wide or long), as
// `lstm train --task forecast --target a,b,c | --all-columns | --series-column` trains it, and
// `lstm forecast` / `lstm eval` on it (the long CSV and the JSON line, parsed on the Python side).
#include "multi_series_binding.hpp"

#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "apps/forecast_options.hpp"
#include "apps/multi_series.hpp"
#include "lstm/lstm.hpp"

namespace lstm_python {

namespace py = pybind11;

namespace {

struct MultiSeriesModel {
  lstm::SequenceModel model;
  lstm::apps::MultiSeriesInfo info;
};

lstm::apps::SeriesLayout make_layout(const std::vector<std::string>& columns,
                                     const std::string& series_column,
                                     const std::string& value_column,
                                     const std::string& date_column) {
  lstm::apps::SeriesLayout layout;
  layout.columns = columns;
  layout.all_columns = columns.empty() && series_column.empty();
  layout.series_column = series_column;
  layout.value_column = value_column;
  layout.date_column = date_column;
  return layout;
}

MultiSeriesModel fit(const std::string& path, const lstm::apps::SeriesLayout& layout,
                     const lstm::apps::ForecastOptions& options, int64_t epochs, double time_limit) {
  const lstm::apps::ForecastSetup setup = lstm::apps::forecast_setup(options);
  lstm::apps::TrainerOptions trainer;  // the CLI's forecast defaults
  trainer.max_epochs = epochs;
  trainer.time_limit_seconds = time_limit;
  trainer.seed = options.seed;
  py::gil_scoped_release release;
  const lstm::apps::MultiSeriesData data = lstm::apps::prepare_multi_series(path, layout, setup);
  lstm::SequenceModel model = lstm::apps::make_multi_series_model(data, setup, layout);
  lstm::apps::train_model(model, data.train, data.validation, trainer);
  lstm::apps::MultiSeriesInfo info = lstm::apps::multi_series_info(model, path);
  return MultiSeriesModel{std::move(model), std::move(info)};
}

}  // namespace

void bind_multi_series(py::module_& module) {
  py::class_<MultiSeriesModel>(module, "MultiSeriesModel")
      .def_property_readonly("names", [](const MultiSeriesModel& m) { return m.info.names; })
      .def_property_readonly("is_long",
                             [](const MultiSeriesModel& m) { return m.info.layout.is_long(); })
      .def_property_readonly("window",
                             [](const MultiSeriesModel& m) { return m.info.series.front().window; })
      .def_property_readonly("season",
                             [](const MultiSeriesModel& m) { return m.info.series.front().season; })
      .def(
          "forecast_csv",
          [](MultiSeriesModel& m, const std::string& path, int64_t steps,
             const std::string& model_choice, double interval) {
            if (steps < 1)
              throw py::value_error("steps: expected at least 1, got " + std::to_string(steps));
            const lstm::apps::ModelChoice choice = lstm::apps::parse_model_choice(model_choice);
            py::gil_scoped_release release;
            const std::vector<lstm::Series> series = lstm::apps::load_model_series(m.info, path);
            const auto forecasts =
                lstm::apps::forecast_many(m.model, m.info, series, steps, choice, interval);
            return lstm::apps::many_forecasts_csv(m.info, series, forecasts);
          },
          py::arg("path"), py::arg("steps"), py::arg("model_choice"), py::arg("interval"))
      .def(
          "evaluate_json",
          [](MultiSeriesModel& m, const std::string& path, int64_t horizon) {
            py::gil_scoped_release release;
            const std::vector<lstm::Series> series = lstm::apps::load_model_series(m.info, path);
            std::string table;
            return lstm::apps::evaluate_many_json(m.model, m.info, series, path, horizon, table);
          },
          py::arg("path"), py::arg("horizon"))
      .def("save", [](const MultiSeriesModel& m, const std::string& path) {
        lstm::save_sequence_model(path, m.model);
      });
  module.def("multi_series_load", [](const std::string& path) {
    lstm::SequenceModel model = lstm::load_sequence_model(path);
    lstm::apps::MultiSeriesInfo info = lstm::apps::multi_series_info(model, path);
    return MultiSeriesModel{std::move(model), std::move(info)};
  });
  module.def(
      "multi_series_fit",
      [](const std::string& path, const std::vector<std::string>& columns,
         const std::string& series_column, const std::string& value_column,
         const std::string& date_column, int64_t window, int64_t horizon, int64_t season,
         int64_t hidden, int64_t layers, const std::string& cell, int64_t epochs, double time_limit,
         double validation, uint64_t seed) {
        lstm::apps::ForecastOptions options;
        options.window = window;
        options.horizon = horizon;
        options.season = season;
        options.hidden = hidden;
        options.layers = layers;
        options.cell = cell;
        options.validation = validation;
        options.seed = seed;
        return fit(path, make_layout(columns, series_column, value_column, date_column), options,
                   epochs, time_limit);
      },
      py::arg("path"), py::arg("columns"), py::arg("series_column"), py::arg("value_column"),
      py::arg("date_column"), py::arg("window"), py::arg("horizon"), py::arg("season"),
      py::arg("hidden"), py::arg("layers"), py::arg("cell"), py::arg("epochs"),
      py::arg("time_limit"), py::arg("validation"), py::arg("seed"));
}

}  // namespace lstm_python
