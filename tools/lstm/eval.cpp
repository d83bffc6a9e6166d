// `lstm eval`: a forecast model's one-step errors on a CSV series next to the naive and
// seasonal-naive baselines; the last line is a JSON object with the metrics.
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

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

void run_eval(const EvalOptions& options, const GlobalOptions& global) {
  apply_threads(global);
  lstm::SequenceModel model = lstm::load_sequence_model(options.model);
  const lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, options.model);
  const lstm::Series series =
      lstm::load_series(options.data, info.target,
                        std::vector<std::string>(info.columns.begin() + 1, info.columns.end()));
  const lstm::apps::ForecastReport report =
      lstm::apps::evaluate_forecast(model, info, series, info.window, series.rows);
  std::cout << options.data << ": " << report.model.count << " one-step forecasts of '"
            << info.target << "' (rows " << info.window << ".." << series.rows - 1
            << "); MASE scaled by the in-sample seasonal-naive MAE of the whole file\n";
  nlohmann::ordered_json out = {{"file", options.data},
                                {"target", info.target},
                                {"window", info.window},
                                {"season", info.season}};
  out["count"] = report.model.count;
  const nlohmann::ordered_json model_metrics = metrics_json(report.model);
  for (const auto& [key, value] : model_metrics.items()) out[key] = value;
  out["naive"] = metrics_json(report.naive);
  out["seasonal_naive"] = report.seasonal_naive ? metrics_json(*report.seasonal_naive)
                                                : nlohmann::ordered_json(nullptr);
  std::cout << out.dump() << '\n';
}

}  // namespace

void add_eval_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* command = app.add_subcommand(
      "eval",
      "Evaluate a forecast model on a CSV series: one-step RMSE, MAE and MASE next to the naive "
      "and seasonal-naive baselines; the last line printed is a JSON object");
  command->add_option("--model", options->model, "Model trained by 'lstm train --task forecast'")
      ->required();
  command->add_option("--data", options->data, "CSV series with the model's columns")->required();
  add_threads_option(*command, global);
  command->callback([options, &global] { run_eval(*options, global); });
}

}  // namespace lstm_cli
