// `lstm forecast`: N future values of a forecast model's target after the last row of a series,
// in original units, written as CSV (a date/step column, the target, the interval's lower and
// upper bounds and the model that produced the numbers). Before forecasting, the network and the
// classical methods are validated on the series' last part at N steps (rolling origin); by
// default the mean of the best three is used, and a network beaten by a classical method is
// reported. --report also writes that forecast and its validation as an HTML page.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "apps/forecast.hpp"
#include "apps/forecast_report.hpp"
#include "apps/model_choice.hpp"
#include "apps/multi_series.hpp"
#include "commands.hpp"

namespace lstm_cli {
namespace {

struct ForecastOptions {
  std::string model, data, output, model_choice = "combine", report;
  int64_t steps = 1;
  int64_t report_series = 20;  // --report of several series: the series drawn
  double interval = 0.8;
  bool quiet = false;
};

std::string fixed_text(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  char number[64];
  std::snprintf(number, sizeof number, "%.*f", decimals, value);
  return number;
}

// The report's first lines: what forecast what, and where it was written.
lstm::report::Document report_document(const ForecastOptions& options,
                                       const lstm::SequenceModel& model, const std::string& what,
                                       int64_t window) {
  lstm::report::Document document(what + " from " + options.data);
  document.paragraph("Model " + options.model + ": " + model.config().rnn.describe() + "; window " +
                     std::to_string(window) + ". 'lstm forecast --steps " +
                     std::to_string(options.steps) + " --model-choice " + options.model_choice +
                     " --interval " + fixed_text(options.interval, 2) + "' wrote the forecast to " +
                     options.output + ".");
  return document;
}

// A global model: every series forecast, validated and chosen on its own; one long CSV.
void run_multi_series_forecast(const ForecastOptions& options, lstm::SequenceModel& model,
                               lstm::apps::ModelChoice choice) {
  const lstm::apps::MultiSeriesInfo info = lstm::apps::multi_series_info(model, options.model);
  const std::vector<lstm::Series> series = lstm::apps::load_model_series(info, options.data);
  const std::vector<std::optional<lstm::apps::ChosenForecast>> chosen =
      lstm::apps::choose_many(model, info, series, options.steps, choice, options.interval);
  const std::vector<lstm::apps::SeriesForecast> forecasts =
      lstm::apps::forecast_many(model, info, series, options.steps, chosen);
  std::vector<std::string> beaten, unvalidated, too_short;
  for (const auto& forecast : forecasts) {
    if (!options.quiet)
      std::cout << forecast.name << ": forecast by " << forecast.model
                << (forecast.validated || forecast.model != "lstm"
                        ? "; interval coverage on validation " + fixed_text(100 * forecast.coverage, 1) + "%"
                        : std::string("; too short to validate, no interval"))
                << '\n';
    if (forecast.network_beaten) beaten.push_back(forecast.name);
    if (forecast.lower.empty() || !std::isfinite(forecast.lower.front())) too_short.push_back(forecast.name);
    else if (!forecast.validated) unvalidated.push_back(forecast.name);
  }
  auto names = [](const std::vector<std::string>& list) {
    std::string text;
    for (size_t k = 0; k < list.size() && k < 10; ++k) text += (k ? ", " : "") + list[k];
    return list.size() > 10 ? text + ", ..." : text;
  };
  if (!beaten.empty())
    std::cerr << "WARNING: on validation at " << options.steps << " steps a classical method beats "
              << "the LSTM on " << beaten.size() << " of " << forecasts.size() << " series (" << names(beaten)
              << "); their rows say which model was written (--model-choice " << options.model_choice << ")\n";
  if (!unvalidated.empty() && choice != lstm::apps::ModelChoice::network)
    std::cerr << "WARNING: " << unvalidated.size() << " series (" << names(unvalidated)
              << ") have too few rows after the LSTM's training part to validate it; the classical methods "
              << "forecast them (--model-choice lstm for the network's)\n";
  if (!too_short.empty())
    std::cerr << "warning: " << too_short.size() << " series (" << names(too_short) << ") are too short to "
              << "validate " << options.steps << "-step forecasts; the LSTM's forecast without an interval\n";
  lstm::write_file_atomically(options.output, lstm::apps::many_forecasts_csv(info, series, forecasts));
  if (options.report.empty()) return;
  lstm::report::Document document =
      report_document(options, model, "Forecasts of " + std::to_string(series.size()) + " series",
                      info.series.front().window);
  lstm::apps::add_many_series_overview(document, info, series, chosen, options.steps, choice);
  lstm::apps::add_many_series_charts(document, info, series, chosen, options.steps,
                                     options.report_series);
  lstm::report::save(document, options.report);
  if (!options.quiet) std::cout << "report written to " << options.report << '\n';
}

void run_forecast(const ForecastOptions& options, const GlobalOptions& global) {
  check_output_files({{"--output", options.output}, {"--report", options.report}});
  apply_compute_options(global);
  const lstm::apps::ModelChoice choice = lstm::apps::parse_model_choice(options.model_choice);
  if (!(options.interval > 0.0 && options.interval < 1.0))
    throw lstm::Error("--interval must be in (0, 1), e.g. 0.8");
  lstm::SequenceModel model = lstm::load_sequence_model(options.model);
  if (lstm::apps::is_multi_series_model(model))
    return run_multi_series_forecast(options, model, choice);
  const lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, options.model);
  const lstm::Series series =
      lstm::load_series(options.data, info.target,
                        std::vector<std::string>(info.columns.begin() + 1, info.columns.end()));
  const std::vector<double> y = series.column(0);
  const lstm::apps::RollingSetup setup = lstm::apps::validation_setup(info, series, options.steps);
  std::vector<double> values, lower, upper;
  std::string model_name = "lstm";
  std::optional<lstm::apps::ChosenForecast> validated;  // for the report
  if (setup.horizon == 0) {
    // Too short to validate N steps: the network's forecast, without an interval.
    values = lstm::apps::forecast_future(model, info, series, options.steps);
    lower.assign(values.size(), std::nan(""));
    upper = lower;
    std::cerr << "warning: " << options.data << " is too short to validate a forecast of "
              << options.steps << " steps; writing the LSTM's forecast without an interval and "
              << "without comparing it to the classical methods\n";
  } else {
    const std::vector<lstm::apps::Candidate> candidates =
        lstm::apps::forecast_candidates(model, info, series, y);
    const lstm::apps::ChosenForecast chosen =
        lstm::apps::forecast_with_choice(y, candidates, setup, choice, "lstm", options.interval);
    values = chosen.mean;
    lower = chosen.lower;
    upper = chosen.upper;
    model_name = chosen.selection.name;
    if (!options.report.empty()) validated = chosen;
    const lstm::apps::Selection& selection = chosen.selection;
    const auto& evaluation = chosen.evaluation;
    if (!options.quiet) {
      std::cout << "validation of " << options.steps << "-step forecasts from "
                << evaluation.origins.size() << " origins (rows " << evaluation.origins.front()
                << ".." << evaluation.origins.back() << "), original units:\n";
      std::cout << lstm::apps::scores_table(evaluation);
      if (!selection.network_validated)
        std::cout << "  (lstm: scored from origins before row " << setup.trained_until
                  << ", where it was trained: not comparable, left out of the choice)\n";
      std::cout << "forecast by " << model_name << " (--model-choice " << options.model_choice
                << "); " << static_cast<int>(std::lround(100 * options.interval))
                << "% interval from its validation errors per step; it covered "
                << fixed_text(100 * chosen.interval.coverage, 1)
                << "% of validation values left out of its calibration\n";
    }
    if (!selection.network_validated && choice != lstm::apps::ModelChoice::network)
      std::cerr << "WARNING: " << options.data << " has too few rows after the LSTM's training "
                << "part (row " << setup.trained_until << " on) to validate " << options.steps
                << "-step forecasts; writing the forecast of " << model_name
                << " from the classical methods (--model-choice lstm for the network's)\n";
    if (selection.network_beaten) {
      const double network_mase = [&] {
        for (const auto& result : evaluation.results)
          if (result.name == "lstm") return result.scores.mase;
        return std::nan("");
      }();
      std::cerr << "WARNING: on validation at " << options.steps << " steps, "
                << selection.best_classical << " (MASE "
                << fixed_text(selection.best_classical_scores.mase, 3) << ") beats the LSTM (MASE "
                << fixed_text(network_mase, 3) << "); ";
      if (choice == lstm::apps::ModelChoice::network)
        std::cerr << "writing the LSTM's forecast as --model-choice lstm asks\n";
      else
        std::cerr << "writing the forecast of " << model_name << " (--model-choice "
                  << options.model_choice << "; 'lstm' keeps the network's)\n";
    }
  }
  const std::vector<std::string> index = series.future_index(options.steps);
  const std::string index_name =
      series.index.kind == lstm::IndexKind::none || series.index.name.empty() ? "step"
                                                                              : series.index.name;
  std::string text = lstm::csv_field(index_name) + ',' + lstm::csv_field(info.target) + ",lower,upper,model\n";
  for (int64_t k = 0; k < options.steps; ++k) {
    if (!std::isfinite(values[k]))  // (an interval's bounds are empty fields when there is none)
      throw lstm::Error(options.output + ": not written: the forecast of step " + std::to_string(k + 1) +
                        " is not a finite number in original units");
    text += lstm::csv_field(index[k]) + ',' + lstm::csv_number(values[k]) + ',' + lstm::csv_number(lower[k]) + ',' +
            lstm::csv_number(upper[k]) + ',' + lstm::csv_field(model_name) + '\n';
  }
  lstm::write_file_atomically(options.output, text);
  if (options.report.empty()) return;
  lstm::report::Document document =
      report_document(options, model, "Forecast of '" + info.target + "'", info.window);
  if (validated)
    lstm::apps::add_rolling_section(document, series, *validated);
  else
    lstm::apps::add_unvalidated_forecast_section(document, series, values, info.season);
  lstm::apps::add_forecast_values(document, index_name, index, values, lower, upper, model_name);
  lstm::report::save(document, options.report);
  if (!options.quiet) std::cout << "report written to " << options.report << '\n';
}

}  // namespace

void add_forecast_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<ForecastOptions>();
  CLI::App* command = app.add_subcommand(
      "forecast",
      "Forecast the next N values of a forecast model's target after the last row of a CSV "
      "series, in original units, as CSV: a date/step column, the target, lower and upper "
      "bounds of a prediction interval, and the model used. First the network and the classical "
      "methods (naive, seasonal-naive, exponential smoothing, Holt-Winters, Theta, Comb) are "
      "validated at N steps from several origins of the series' last part; by default the mean "
      "of the best three forecasts, and a network beaten by a classical method is reported on "
      "stderr. A "
      "one-step model forecasts recursively (any N); a direct model (trained with --horizon H) "
      "forecasts its H steps at once, so N may be at most H. A model of several series (trained "
      "with --target a,b,c, --all-columns or --series-column) forecasts each of them, with its "
      "own validation, choice and interval, into one long CSV: series, date, value, lower, upper, "
      "model");
  command->add_option("--model", options->model, "Model trained by 'lstm train --task forecast'")
      ->required();
  command->add_option("--data", options->data, "CSV series with the model's columns")->required();
  command->add_option("--steps", options->steps, "How many future rows")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  command->add_option("--output", options->output, "CSV file to write")->required();
  command
      ->add_option("--model-choice", options->model_choice,
                   "lstm: the network's forecast; best: the model with the lowest validation "
                   "MASE at N steps; combine: the mean of the three lowest (more robust: the "
                   "single best on a short validation part is often luck)")
      ->check(CLI::IsMember({"lstm", "best", "combine"}))
      ->capture_default_str();
  command
      ->add_option("--interval", options->interval,
                   "Central prediction interval level, from the empirical quantiles of the "
                   "chosen model's validation errors at each step")
      ->check(CLI::Range(0.01, 0.99))
      ->capture_default_str();
  command->add_option("--report", options->report,
                      "Also write a self-contained HTML report: the forecast with its interval "
                      "and the baselines' forecasts after the last rows, the rolling-origin "
                      "validation table and the values written. Several series: a table of "
                      "every series' validation and the charts of the first --report-series");
  add_report_series_option(*command, options->report_series);
  command->add_flag("--quiet", options->quiet, "Print only warnings and errors");
  add_compute_options(*command, global);
  command->callback([options, &global] { run_forecast(*options, global); });
}

}  // namespace lstm_cli
