// `lstm eval`: a forecast model's errors on a CSV series (one-step, or over every horizon of a
// direct model) next to the naive and seasonal-naive baselines; the last line is a JSON object.
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/charlm.hpp"
#include "apps/forecast.hpp"
#include "commands.hpp"

namespace lstm_cli {
namespace {

struct EvalOptions {
  std::string model, data;
};

nlohmann::ordered_json metrics_json(const lstm::ForecastMetrics& metrics) {
  auto number = [](double value) {
    return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
  };
  return {{"rmse", number(metrics.rmse)},
          {"mae", number(metrics.mae)},
          {"mase", number(metrics.mase)},
          {"count", metrics.count}};
}

void evaluate_forecast_model(const EvalOptions& options, lstm::SequenceModel& model) {
  const lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, options.model);
  const lstm::Series series =
      lstm::load_series(options.data, info.target,
                        std::vector<std::string>(info.columns.begin() + 1, info.columns.end()));
  const lstm::apps::ForecastReport report =
      lstm::apps::evaluate_forecast(model, info, series, info.window, series.rows);
  const int64_t origins = report.model.count / info.horizon;
  std::cout << options.data << ": ";
  if (info.horizon == 1)
    std::cout << origins << " one-step forecasts";
  else
    std::cout << origins << " origins x horizons 1.." << info.horizon << " = " << report.model.count
              << " forecasts";
  std::cout << " of '" << info.target << "' (origins " << info.window << ".."
            << info.window + origins - 1
            << "); MASE scaled by the in-sample seasonal-naive MAE of the whole file\n";
  nlohmann::ordered_json out = {{"file", options.data},
                                {"target", info.target},
                                {"window", info.window},
                                {"horizon", info.horizon},
                                {"season", info.season}};
  out["count"] = report.model.count;
  const nlohmann::ordered_json model_metrics = metrics_json(report.model);
  for (const auto& [key, value] : model_metrics.items()) out[key] = value;
  out["naive"] = metrics_json(report.naive);
  out["seasonal_naive"] = report.seasonal_naive ? metrics_json(*report.seasonal_naive)
                                                : nlohmann::ordered_json(nullptr);
  std::cout << out.dump() << '\n';
}

void run_eval(const EvalOptions& options, const GlobalOptions& global) {
  apply_compute_options(global);
  lstm::SequenceModel model = lstm::load_sequence_model(options.model);
  if (lstm::apps::is_charlm(model))
    eval_charlm(model, options.model, options.data);
  else
    evaluate_forecast_model(options, model);
}

}  // namespace

void add_eval_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* command = app.add_subcommand(
      "eval",
      "Evaluate a model on a file; the last line printed is a JSON object. A language model: "
      "bits per character (and loss, nats) on a text, scored in windows of the model's training "
      "window, each from a fresh state, every character after the first predicted once. A "
      "forecast model on a CSV series: RMSE, MAE and MASE of its one-step forecasts "
      "(a direct model: of every horizon 1..H from every origin) next to the naive and "
      "seasonal-naive baselines scored the same way.");
  command->add_option("--model", options->model, "Model trained by 'lstm train'")->required();
  command->add_option("--data", options->data, "CSV series with the model's columns, or a text")
      ->required();
  add_compute_options(*command, global);
  command->callback([options, &global] { run_eval(*options, global); });
}

}  // namespace lstm_cli
