// `lstm forecast`: N future values of a forecast model's target after the last row of a series,
// in original units (recursive for a one-step model, one pass for a direct one), written as CSV
// (a date/step column and the target).
#include <cmath>
#include <cstdio>
#include <iostream>

#include "apps/forecast.hpp"
#include "commands.hpp"

namespace lstm_cli {
namespace {

struct ForecastOptions {
  std::string model, data, output;
  int64_t steps = 1;
};

// A CSV field, quoted when it holds a delimiter, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char ch : text) {
    if (ch == '"') quoted += '"';
    quoted += ch;
  }
  return quoted + "\"";
}

void run_forecast(const ForecastOptions& options, const GlobalOptions& global) {
  check_output_path(options.output);
  apply_compute_options(global);
  lstm::SequenceModel model = lstm::load_sequence_model(options.model);
  const lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, options.model);
  const lstm::Series series =
      lstm::load_series(options.data, info.target,
                        std::vector<std::string>(info.columns.begin() + 1, info.columns.end()));
  const std::vector<double> values =
      lstm::apps::forecast_future(model, info, series, options.steps);
  const std::vector<std::string> index = series.future_index(options.steps);
  const std::string index_name =
      series.index.kind == lstm::IndexKind::none || series.index.name.empty() ? "step"
                                                                              : series.index.name;
  std::string text = csv_field(index_name);
  text += ',';
  text += csv_field(info.target);
  text += '\n';
  for (int64_t k = 0; k < options.steps; ++k) {
    if (!std::isfinite(values[k]))
      throw lstm::Error(options.output + ": not written: the forecast of step " +
                        std::to_string(k + 1) + " is not a finite number in original units");
    char number[64];
    std::snprintf(number, sizeof number, "%.9g", values[k]);
    text += csv_field(index[k]);
    text += ',';
    text += number;
    text += '\n';
  }
  lstm::write_file_atomically(options.output, text);
}

}  // namespace

void add_forecast_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<ForecastOptions>();
  CLI::App* command = app.add_subcommand(
      "forecast",
      "Forecast the next N values of a forecast model's target after the last row of a CSV "
      "series, in original units, as CSV: a date/step column and the target. A one-step model "
      "forecasts recursively (any N); a direct model (trained with --horizon H) forecasts its "
      "H steps at once, so N may be at most H");
  command->add_option("--model", options->model, "Model trained by 'lstm train --task forecast'")
      ->required();
  command->add_option("--data", options->data, "CSV series with the model's columns")->required();
  command->add_option("--steps", options->steps, "How many future rows")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  command->add_option("--output", options->output, "CSV file to write")->required();
  add_compute_options(*command, global);
  command->callback([options, &global] { run_forecast(*options, global); });
}

}  // namespace lstm_cli
