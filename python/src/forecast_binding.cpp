// lstm.Forecaster's engine: trains a forecaster on a CSV series as `lstm train --task forecast`
// does (same defaults), forecasts ahead of a series, and saves/loads the same model files.
#include "forecast_binding.hpp"

#include <pybind11/stl.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "apps/forecast.hpp"
#include "apps/forecast_options.hpp"
#include "apps/model_choice.hpp"
#include "forecast_choice.hpp"
#include "lstm/lstm.hpp"

namespace lstm_python {

namespace py = pybind11;

namespace {

// A trained (or loaded) forecaster and the series it forecasts after by default.
struct ForecastModel {
  lstm::SequenceModel model;
  lstm::apps::ForecastInfo info;
  std::optional<lstm::Series> series;  // the fitted series; absent after load()
};

py::dict metrics_dict(const lstm::ForecastMetrics& m) {
  py::dict d;
  d["rmse"] = m.rmse;
  d["mae"] = m.mae;
  d["mase"] = m.mase;
  d["count"] = m.count;
  return d;
}

py::dict report_dict(const lstm::apps::ForecastReport& report) {
  py::dict d;
  d["model"] = metrics_dict(report.model);
  d["naive"] = metrics_dict(report.naive);
  if (report.seasonal_naive) d["seasonal_naive"] = metrics_dict(*report.seasonal_naive);
  d["season"] = report.season;
  d["horizon"] = report.horizon;
  return d;
}

struct FitOptions {
  std::string path;
  lstm::apps::ForecastOptions forecast;  // target, features, window, ..., cell, seed
  int64_t epochs = 200;
  double time_limit = 0.0;
  std::string model_choice = "combine";  // and `interval`: for the rolling-origin validation
  double interval = 0.8;
  std::string data_name;  // how warnings name the data
};

// Trains; `on_epoch(dict)` is called after every epoch (with the GIL). Ctrl-C (a pending
// KeyboardInterrupt, checked after every epoch) stops the run cleanly with the best weights.
py::tuple fit(const FitOptions& o, py::object on_epoch) {
  const lstm::apps::ForecastSetup setup = lstm::apps::forecast_setup(o.forecast);
  const lstm::apps::ModelChoice choice = lstm::apps::parse_model_choice(o.model_choice);
  lstm::apps::TrainerOptions trainer;  // the CLI's forecast defaults: lr 3e-3, cosine, batch 32
  trainer.max_epochs = o.epochs;
  trainer.time_limit_seconds = o.time_limit;
  trainer.seed = o.forecast.seed;
  std::atomic<bool> stop{false};
  trainer.stop_requested = &stop;
  std::optional<py::error_already_set> callback_error;
  bool interrupted = false;

  py::gil_scoped_release release;
  lstm::apps::ForecastData data = lstm::apps::prepare_forecast_data(o.path, setup);
  lstm::SequenceModel model = lstm::apps::make_forecast_model(data, setup);
  auto epoch = [&](const lstm::apps::EpochReport& r) {
    py::gil_scoped_acquire acquire;
    if (!on_epoch.is_none() && !callback_error) {
      py::dict d;
      d["epoch"] = r.epoch;
      d["max_epochs"] = r.max_epochs;
      d["train_loss"] = r.train_loss;
      d["validation_loss"] = r.validation_loss;
      d["improved"] = r.improved;
      d["samples_per_second"] = r.samples_per_second;
      d["eta_seconds"] = r.eta_seconds;
      try {
        on_epoch(d);
      } catch (py::error_already_set& error) {
        if (error.matches(PyExc_KeyboardInterrupt))
          interrupted = true;
        else
          callback_error = std::move(error);
        stop = true;
      }
    }
    if (PyErr_CheckSignals() != 0) {  // Ctrl-C: the handler raised KeyboardInterrupt
      PyErr_Clear();
      interrupted = true;
      stop = true;
    }
  };
  const lstm::apps::TrainResult result =
      lstm::apps::train_model(model, data.train, data.validation, trainer, epoch);
  lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, o.path);
  const lstm::apps::ForecastReport report =
      lstm::apps::evaluate_forecast(model, info, data.series, data.split, data.split);
  // As `lstm train` does after training: H-step forecasts from rolling origins of the validation
  // part, next to the classical methods (H: a direct model's, else the series' M4 horizon).
  const int64_t rolling_horizon =
      info.horizon > 1 ? info.horizon : lstm::apps::default_horizon(data.series, info.season);
  ChoiceForecast rolling = forecast_by_choice(model, info, data.series, rolling_horizon, choice,
                                              o.interval, o.data_name);
  if (!rolling.chosen)
    rolling.warnings = {"the validation part is too short for " + std::to_string(rolling_horizon) +
                        "-step forecasts from rolling origins; no comparison with the classical "
                        "methods"};
  py::gil_scoped_acquire acquire;
  if (callback_error) throw std::move(*callback_error);
  py::dict summary = report_dict(report);
  summary["rolling"] = rolling.chosen ? py::object(rolling_dict(*rolling.chosen)) : py::none();
  summary["warnings"] = rolling.warnings;
  summary["epochs"] = result.epochs;
  summary["best_epoch"] = result.best_epoch;
  summary["best_validation_loss"] = result.best_validation_loss;
  summary["stop"] = interrupted ? "interrupted" : lstm::apps::stop_reason_name(result.stop);
  summary["window"] = data.window;
  summary["train_rows"] = data.split;
  summary["rows"] = data.series.rows;
  return py::make_tuple(ForecastModel{std::move(model), std::move(info), std::move(data.series)},
                        summary);
}

// `lstm forecast` from Python: the next `steps` values after the last row of `path` (or of the
// fitted series if empty) by `model_choice`, with the `interval` bounds, the model's name, the
// future dates or steps, the rolling-origin validation (None if too short) and the warnings.
py::dict forecast(ForecastModel& m, const std::string& path, int64_t steps,
                  const std::string& model_choice, double interval, const std::string& data_name) {
  if (steps < 1) throw py::value_error("steps: expected at least 1, got " + std::to_string(steps));
  const lstm::apps::ModelChoice choice = lstm::apps::parse_model_choice(model_choice);
  std::optional<lstm::Series> loaded;
  if (!path.empty())
    loaded = lstm::load_series(
        path, m.info.target,
        std::vector<std::string>(m.info.columns.begin() + 1, m.info.columns.end()));
  else if (!m.series)
    throw py::value_error("data: a loaded Forecaster needs the series to forecast after");
  const lstm::Series& series = loaded ? *loaded : *m.series;
  ChoiceForecast result;
  {
    py::gil_scoped_release release;
    result = forecast_by_choice(m.model, m.info, series, steps, choice, interval, data_name);
  }
  py::dict d;
  d["values"] = result.values;
  d["lower"] = result.lower;
  d["upper"] = result.upper;
  d["model"] = result.model;
  d["index"] = series.future_index(steps);
  d["index_name"] = series.index.kind == lstm::IndexKind::none ? std::string() : series.index.name;
  static const char* const kinds[] = {"none", "date", "number", "label"};
  d["index_kind"] = kinds[static_cast<int>(series.index.kind)];
  d["validation"] = result.chosen ? py::object(rolling_dict(*result.chosen)) : py::none();
  d["warnings"] = result.warnings;
  return d;
}

}  // namespace

void bind_forecast(py::module_& module) {
  py::class_<ForecastModel>(module, "ForecastModel")
      .def_property_readonly("target", [](const ForecastModel& m) { return m.info.target; })
      .def_property_readonly("columns", [](const ForecastModel& m) { return m.info.columns; })
      .def_property_readonly("window", [](const ForecastModel& m) { return m.info.window; })
      .def_property_readonly("horizon", [](const ForecastModel& m) { return m.info.horizon; })
      .def_property_readonly("season", [](const ForecastModel& m) { return m.info.season; })
      .def("forecast", &forecast, py::arg("path"), py::arg("steps"), py::arg("model_choice"),
           py::arg("interval"), py::arg("data_name"))
      .def("save", [](const ForecastModel& m, const std::string& path) {
        lstm::save_sequence_model(path, m.model);
      });
  module.def("forecast_load", [](const std::string& path) {
    lstm::SequenceModel model = lstm::load_sequence_model(path);
    lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, path);
    return ForecastModel{std::move(model), std::move(info), std::nullopt};
  });
  module.def(
      "forecast_fit",
      [](const std::string& path, const std::string& target,
         const std::vector<std::string>& features, int64_t window, int64_t horizon, int64_t season,
         int64_t hidden, int64_t layers, const std::string& cell, int64_t epochs, double time_limit,
         double validation, uint64_t seed, const std::string& model_choice, double interval,
         const std::string& data_name, py::object on_epoch) {
        FitOptions o;
        o.path = path;
        o.forecast.target = target;
        o.forecast.features = features;
        o.forecast.window = window;
        o.forecast.horizon = horizon;
        o.forecast.season = season;
        o.forecast.hidden = hidden;
        o.forecast.layers = layers;
        o.forecast.cell = cell;
        o.forecast.validation = validation;
        o.forecast.seed = seed;
        o.epochs = epochs;
        o.time_limit = time_limit;
        o.model_choice = model_choice;
        o.interval = interval;
        o.data_name = data_name;
        return fit(o, on_epoch);
      },
      py::arg("path"), py::arg("target"), py::arg("features"), py::arg("window"),
      py::arg("horizon"), py::arg("season"), py::arg("hidden"), py::arg("layers"), py::arg("cell"),
      py::arg("epochs"), py::arg("time_limit"), py::arg("validation"), py::arg("seed"),
      py::arg("model_choice"), py::arg("interval"), py::arg("data_name"), py::arg("on_epoch"));
}

}  // namespace lstm_python
