// `lstm eval`: a forecast model's errors on a CSV series (one-step, or over every horizon of a
// direct model) next to the naive and seasonal-naive baselines, and its multi-step forecasts
// from rolling origins over the series' last part next to the classical methods, scored alike
// (MASE, sMAPE, RMSE); the last line is a JSON object. --report also writes those scores, the
// validation part and the forecast after the last row as an HTML page.
#include <cmath>
#include <iostream>
#include <optional>

#include "apps/charlm.hpp"
#include "apps/forecast.hpp"
#include "apps/forecast_report.hpp"
#include "apps/model_choice.hpp"
#include "apps/multi_series.hpp"
#include "apps/training_report.hpp"
#include "commands.hpp"
#include "data/json_text.hpp"

namespace lstm_cli {
namespace {

struct EvalOptions {
  std::string model, data, report;
  int64_t report_series = 20;  // --report of several series: the series drawn
  int64_t horizon = 0;  // 0: a direct model's H, else the M4 horizon of the series
  int64_t window = 0;   // charlm: the scoring window (0: the model's training window)
};

// The report's first lines: which model was scored on which file.
lstm::report::Document report_document(const EvalOptions& options, const lstm::SequenceModel& model,
                                       const std::string& what, int64_t window) {
  lstm::report::Document document(what + " on " + options.data);
  document.paragraph("Model " + options.model + ": " + model.config().rnn.describe() + "; window " +
                     std::to_string(window) +
                     ". The forecasts drawn after the last row are those 'lstm forecast' writes "
                     "by default at the horizon of the rolling-origin validation (the mean of "
                     "the three best, with an 80% interval).");
  return document;
}

void save_report(const EvalOptions& options, const lstm::report::Document& document) {
  lstm::report::save(document, options.report);
  std::cout << "report written to " << options.report << '\n';
}

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
  // Multi-step forecasts from rolling origins over the last part, next to the classical methods.
  const int64_t horizon = options.horizon > 0   ? options.horizon
                          : info.horizon > 1    ? info.horizon
                                                : lstm::apps::default_horizon(series, info.season);
  const lstm::apps::RollingSetup setup = lstm::apps::validation_setup(info, series, horizon);
  if (setup.horizon == 0)
    throw lstm::Error(options.data + ": too short to evaluate " + std::to_string(horizon) +
                      "-step forecasts after the model's window" +
                      (info.horizon > 1 && horizon > info.horizon
                           ? " (a direct model forecasts at most " +
                                 std::to_string(info.horizon) + " steps)"
                           : std::string()) +
                      "; give a smaller --horizon");
  const std::vector<double> y = series.column(0);
  const std::vector<lstm::apps::Candidate> candidates =
      lstm::apps::forecast_candidates(model, info, series, y);
  // --report: also the forecast after the last row, chosen as 'lstm forecast' does by default.
  std::optional<lstm::apps::ChosenForecast> chosen;
  if (!options.report.empty())
    chosen = lstm::apps::forecast_with_choice(y, candidates, setup,
                                              lstm::apps::ModelChoice::combine, "lstm", 0.8);
  const lstm::apps::RollingEvaluation evaluation =
      chosen ? chosen->evaluation : lstm::apps::evaluate_rolling(y, setup, candidates);
  const lstm::apps::Selection best =
      lstm::apps::select_model(evaluation, lstm::apps::ModelChoice::best, "lstm");
  std::cout << horizon << "-step forecasts from " << evaluation.origins.size()
            << " rolling origins (rows " << evaluation.origins.front() << ".."
            << evaluation.origins.back() << "; MASE scaled on the rows before " << setup.first
            << "):\n"
            << lstm::apps::scores_table(evaluation) << "best: " << best.name << '\n';
  auto number = [](double value) {
    return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
  };
  nlohmann::ordered_json models = nlohmann::ordered_json::object();
  for (const auto& result : evaluation.results)
    models[result.name] = {{"mase", number(result.scores.mase)},
                           {"smape", number(result.scores.smape)},
                           {"rmse", number(result.scores.rmse)}};
  out["rolling"] = {{"horizon", horizon},
                    {"origins", evaluation.origins.size()},
                    {"first_origin", evaluation.origins.front()},
                    {"models", models},
                    {"best", best.name},
                    {"lstm_beaten", best.network_beaten},
                    {"lstm_validated", best.network_validated}};
  if (chosen) {
    lstm::report::Document document =
        report_document(options, model, "Evaluation of '" + info.target + "'", info.window);
    lstm::apps::add_forecast_section(
        document, model, info, series, setup.trained_until, report,
        std::max<int64_t>(info.season, 12),
        "Errors over the file, original units (" + std::to_string(report.model.count) +
            " forecasts from origins " + std::to_string(info.window) + ".." +
            std::to_string(info.window + origins - 1) +
            "; MASE scaled by the in-sample seasonal-naive error of the whole file)");
    lstm::apps::add_rolling_section(document, series, *chosen);
    save_report(options, document);
  }
  std::cout << lstm::json_text::dump(out) << '\n';
}

void run_eval(const EvalOptions& options, const GlobalOptions& global) {
  if (!options.report.empty()) check_output_path(options.report);
  apply_compute_options(global);
  lstm::SequenceModel model = lstm::load_sequence_model(options.model);
  if (lstm::apps::is_charlm(model)) {
    if (!options.report.empty())
      throw lstm::Error(options.model +
                        ": --report is for forecast models; this is a language "
                        "model ('lstm train --report' writes its report)");
    eval_charlm(model, options.model, options.data, options.window);
    return;
  }
  if (options.window != 0)
    throw lstm::Error(options.model + ": --window is for language models; this is a forecast model");
  if (lstm::apps::is_multi_series_model(model)) {
    const lstm::apps::MultiSeriesInfo info = lstm::apps::multi_series_info(model, options.model);
    const std::vector<lstm::Series> series = lstm::apps::load_model_series(info, options.data);
    const int64_t horizon = lstm::apps::evaluation_horizon(info, series, options.horizon);
    // --report: each series' validation with the forecast 'lstm forecast' writes by default.
    std::optional<std::vector<std::optional<lstm::apps::ChosenForecast>>> chosen;
    if (!options.report.empty())
      chosen = lstm::apps::choose_many(model, info, series, horizon,
                                       lstm::apps::ModelChoice::combine, 0.8);
    std::string table;
    const std::string json = lstm::apps::evaluate_many_json(
        model, info, series, options.data, horizon, table, chosen ? &*chosen : nullptr);
    std::cout << options.data << ": " << series.size() << " series\n" << table;
    if (chosen) {
      lstm::report::Document document = report_document(
          options, model, "Evaluation of " + std::to_string(series.size()) + " series",
          info.series.front().window);
      lstm::apps::add_many_series_overview(document, info, series, *chosen, horizon);
      lstm::apps::add_many_series_charts(document, info, series, *chosen, horizon,
                                         options.report_series);
      save_report(options, document);
    }
    std::cout << json << '\n';
  } else {
    evaluate_forecast_model(options, model);
  }
}

}  // namespace

void add_eval_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* command = app.add_subcommand(
      "eval",
      "Evaluate a model on a file; the last line printed is a JSON object. A language model: "
      "bits per character (and loss, nats) on a text, scored in windows of the model's training "
      "window (or --window), each from a fresh state, every character after the first predicted once. A "
      "forecast model on a CSV series: RMSE, MAE and MASE of its one-step forecasts "
      "(a direct model: of every horizon 1..H from every origin) next to the naive and "
      "seasonal-naive baselines scored the same way; then its --horizon-step forecasts from up "
      "to 40 rolling origins over the series' last part (the model's validation fraction) next "
      "to the classical methods, with MASE, sMAPE and RMSE (JSON key 'rolling').");
  command->add_option("--model", options->model, "Model trained by 'lstm train'")->required();
  command->add_option("--data", options->data, "CSV series with the model's columns, or a text")
      ->required();
  command
      ->add_option("--horizon", options->horizon,
                   "forecast: steps of the rolling-origin evaluation (0: a direct model's H, else "
                   "the M4 horizon: monthly 18, quarterly 8, yearly 6, weekly 13, daily 14, "
                   "hourly 48)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  command
      ->add_option("--window", options->window,
                   "charlm: characters of context per scoring window, each from a fresh state "
                   "(0: the model's training window)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  command->add_option("--report", options->report,
                      "forecast: also write a self-contained HTML report: the validation part "
                      "with the one-step forecasts and the errors next to the baselines, and the "
                      "rolling-origin scores with the forecast after the last row. Several "
                      "series: a table of every series and the charts of the first "
                      "--report-series");
  add_report_series_option(*command, options->report_series);
  add_compute_options(*command, global);
  command->callback([options, &global] { run_eval(*options, global); });
}

}  // namespace lstm_cli
