// The sections of a training report.
#include "apps/training_report.hpp"

#include "apps/inspect.hpp"

namespace lstm::apps {
namespace {

std::vector<std::string> metrics_row(const std::string& name, const ForecastMetrics& metrics) {
  return {name, report::fixed(metrics.rmse, 4), report::fixed(metrics.mae, 4), report::fixed(metrics.mase, 3)};
}

}  // namespace

void add_loss_curves(report::Document& document, const std::vector<EpochReport>& epochs,
                     const std::string& unit, double scale) {
  report::LineChart chart;
  chart.title = "Loss by epoch";
  chart.x_label = "epoch";
  chart.y_label = unit;
  chart.lines = {{.name = "training (mean over the epoch)"}, {.name = "validation"}};
  for (const EpochReport& epoch : epochs) {
    for (report::Line& line : chart.lines) line.x.push_back(static_cast<double>(epoch.epoch));
    chart.lines[0].y.push_back(epoch.train_loss * scale);
    chart.lines[1].y.push_back(epoch.validation_loss * scale);
  }
  document.add(chart);
}

void add_forecast_section(report::Document& document, SequenceModel& model,
                          const ForecastInfo& info, const Series& series, int64_t split,
                          const ForecastReport& report, int64_t future,
                          const std::string& errors_title) {
  document.heading("Forecasts of '" + info.target + "'");
  const std::vector<double> actual = series.column(0);
  const int64_t first = std::max(split, info.window);
  const int64_t horizon = report.horizon;
  const std::vector<double> predicted = target_predictions(model, info, series, first);
  // A direct model forecasts its H rows at once; a one-step model recursively.
  const std::vector<double> ahead =
      forecast_future(model, info, series, horizon > 1 ? horizon : future);
  report::LineChart chart;
  chart.title = "Validation part: actual and forecast one step ahead, then the future";
  if (horizon > 1) chart.title += " (a direct model of " + std::to_string(horizon) + " steps)";
  chart.x_label = series.index.name.empty() ? "row" : "row (" + series.index.name + ")";
  chart.y_label = info.target;
  report::Line truth{.name = "actual"}, model_line{.name = "model, one step ahead"},
      future_line{.name = "forecast after the last row", .dashed = true};
  const int64_t context = std::max<int64_t>(0, first - 2 * std::max<int64_t>(info.season, 12));
  for (int64_t t = context; t < series.rows; ++t) {
    truth.x.push_back(static_cast<double>(t));
    truth.y.push_back(actual[t]);
  }
  for (size_t k = 0; k * static_cast<size_t>(horizon) < predicted.size(); ++k) {
    model_line.x.push_back(static_cast<double>(first + static_cast<int64_t>(k)));
    model_line.y.push_back(predicted[k * static_cast<size_t>(horizon)]);
  }
  for (size_t k = 0; k < ahead.size(); ++k) {
    future_line.x.push_back(static_cast<double>(series.rows + static_cast<int64_t>(k)));
    future_line.y.push_back(ahead[k]);
  }
  chart.lines = {truth, model_line, future_line};
  document.add(chart);

  report::Table table;
  table.title = !errors_title.empty()
                    ? errors_title
                    : "Validation errors, original units (" + std::to_string(report.model.count) +
                          " forecasts; MASE scaled by the seasonal-naive error in the training "
                          "part)";
  table.header = {"", "RMSE", "MAE", "MASE"};
  table.rows = {metrics_row("model", report.model), metrics_row("naive", report.naive)};
  if (report.seasonal_naive)
    table.rows.push_back(metrics_row("seasonal-naive " + std::to_string(report.season),
                                     *report.seasonal_naive));
  document.add(table);
}

void add_text_sections(report::Document& document, SequenceModel& model, const CharLmData& data,
                       int64_t window) {
  const std::span<const int32_t> validation =
      std::span<const int32_t>(data.ids).subspan(static_cast<size_t>(data.split));
  const std::span<const int32_t> prompt = validation.first(std::min<size_t>(validation.size(), 60));
  std::vector<int32_t> sample;
  generate(model, prompt, 400, 0.8, 0, [&](int32_t id) { sample.push_back(id); });
  document.heading("A sample");
  document.paragraph("The first " + std::to_string(prompt.size()) +
                     " characters of the validation text, then 400 drawn at temperature 0.8:");
  document.preformatted(data.vocabulary.decode(prompt) + "▸" + data.vocabulary.decode(sample));

  document.heading("Gates and states over the start of the validation text");
  const std::string piece = data.vocabulary.decode(
      validation.first(std::min<size_t>(validation.size(), static_cast<size_t>(window))));
  add_gate_sections(document, trace_text_gates(model, "the model", "the validation text", piece,
                                               window, -1));
}

}  // namespace lstm::apps
