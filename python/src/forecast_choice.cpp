// lstm.Forecaster's model choice and intervals: the logic of `lstm forecast` (tools/lstm/
// forecast.cpp) over the same library calls, returning values and warnings instead of printing.
#include "forecast_choice.hpp"

#include <pybind11/stl.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace lstm_python {

namespace py = pybind11;

namespace {

std::string fixed_text(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  char number[64];
  std::snprintf(number, sizeof number, "%.*f", decimals, value);
  return number;
}

py::object number(double value) {
  return std::isfinite(value) ? py::object(py::float_(value)) : py::object(py::none());
}

}  // namespace

ChoiceForecast forecast_by_choice(lstm::SequenceModel& model, const lstm::apps::ForecastInfo& info,
                                  const lstm::Series& series, int64_t steps,
                                  lstm::apps::ModelChoice choice, double level,
                                  const std::string& data_name) {
  ChoiceForecast result;
  const std::vector<double> y = series.column(0);
  const lstm::apps::RollingSetup setup = lstm::apps::validation_setup(info, series, steps);
  if (setup.horizon == 0) {  // too short to validate `steps` steps: the network, no interval
    result.values = lstm::apps::forecast_future(model, info, series, steps);
    result.lower.assign(result.values.size(), std::nan(""));
    result.upper = result.lower;
    result.warnings.push_back(data_name + " is too short to validate a forecast of " +
                              std::to_string(steps) +
                              " steps; the LSTM's forecast without an interval and without "
                              "comparing it to the classical methods");
    return result;
  }
  result.chosen = lstm::apps::forecast_with_choice(
      y, lstm::apps::forecast_candidates(model, info, series, y), setup, choice, "lstm", level);
  const lstm::apps::ChosenForecast& chosen = *result.chosen;
  result.values = chosen.mean;
  result.lower = chosen.lower;
  result.upper = chosen.upper;
  result.model = chosen.selection.name;
  const lstm::apps::Selection& selection = chosen.selection;
  if (!selection.network_validated && choice != lstm::apps::ModelChoice::network)
    result.warnings.push_back(
        data_name + " has too few rows after the LSTM's training part (row " +
        std::to_string(setup.trained_until) + " on) to validate " + std::to_string(steps) +
        "-step forecasts; the forecast of " + result.model +
        " from the classical methods (model_choice='lstm' for the network's)");
  if (selection.network_beaten) {
    double network_mase = std::nan("");
    for (const auto& candidate : chosen.evaluation.results)
      if (candidate.name == "lstm") network_mase = candidate.scores.mase;
    std::string text = "on validation at " + std::to_string(steps) + " steps, " +
                       selection.best_classical + " (MASE " +
                       fixed_text(selection.best_classical_scores.mase, 3) +
                       ") beats the LSTM (MASE " + fixed_text(network_mase, 3) + "); ";
    text += choice == lstm::apps::ModelChoice::network
                ? std::string("the LSTM's forecast as model_choice='lstm' asks")
                : "the forecast of " + result.model + " (model_choice='lstm' keeps the network's)";
    result.warnings.push_back(text);
  }
  return result;
}

py::dict rolling_dict(const lstm::apps::ChosenForecast& chosen) {
  const lstm::apps::RollingEvaluation& evaluation = chosen.evaluation;
  py::dict models;
  for (const auto& result : evaluation.results) {
    py::dict scores;
    scores["mase"] = number(result.scores.mase);
    scores["smape"] = number(result.scores.smape);
    scores["rmse"] = number(result.scores.rmse);
    scores["mae"] = number(result.scores.mae);
    models[py::str(result.name)] = scores;
  }
  py::dict d;
  d["horizon"] = evaluation.setup.horizon;
  d["origins"] = evaluation.origins.size();
  d["first_origin"] = evaluation.origins.front();
  d["last_origin"] = evaluation.origins.back();
  d["models"] = models;
  d["skipped"] = evaluation.skipped;
  d["best"] = lstm::apps::select_model(evaluation, lstm::apps::ModelChoice::best, "lstm").name;
  d["chosen"] = chosen.selection.name;
  d["members"] = chosen.selection.members;
  d["lstm_beaten"] = chosen.selection.network_beaten;
  d["lstm_validated"] = chosen.selection.network_validated;
  d["interval"] = chosen.interval.level;
  d["interval_coverage"] = chosen.interval.coverage;
  return d;
}

}  // namespace lstm_python
