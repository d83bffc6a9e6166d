// The rolling-origin section of a forecasting report: chart of the future with interval and
// baselines, table of validation scores.
#include "apps/forecast_report.hpp"

#include <algorithm>
#include <cmath>

namespace lstm::apps {
namespace {

// The last rows of the series' target, before a forecast of `horizon` steps with `season`.
report::Line history_line(const Series& series, int64_t horizon, int64_t season) {
  const std::vector<double> y = series.column(0);
  report::Line actual{.name = "actual"};
  for (int64_t t = std::max<int64_t>(0, series.rows - 3 * std::max(horizon, season));
       t < series.rows; ++t) {
    actual.x.push_back(static_cast<double>(t));
    actual.y.push_back(y[t]);
  }
  return actual;
}

// `values` drawn at the rows after the series' last one.
report::Line future_line(const Series& series, const std::string& name,
                         const std::vector<double>& values, bool dashed) {
  report::Line line{.name = name, .dashed = dashed};
  for (size_t h = 0; h < values.size(); ++h) {
    line.x.push_back(static_cast<double>(series.rows + static_cast<int64_t>(h)));
    line.y.push_back(values[h]);
  }
  return line;
}

report::LineChart future_chart(const Series& series, const std::string& title) {
  report::LineChart chart;
  chart.title = title;
  chart.x_label = series.index.name.empty() ? "row" : "row (" + series.index.name + ")";
  chart.y_label = series.columns.at(0);
  return chart;
}

}  // namespace

void add_rolling_section(report::Document& document, const Series& series,
                         const ChosenForecast& chosen, const std::string& heading) {
  const RollingEvaluation& evaluation = chosen.evaluation;
  const int64_t horizon = evaluation.setup.horizon;
  const std::string level =
      std::to_string(static_cast<int>(std::lround(100 * chosen.interval.level)));
  document.heading(heading.empty()
                       ? "The forecast and its validation at " + std::to_string(horizon) + " steps"
                       : heading);
  document.paragraph(
      "Every model forecast " + std::to_string(horizon) + " steps from " +
      std::to_string(evaluation.origins.size()) + " origins (rows " +
      std::to_string(evaluation.origins.front()) + " to " +
      std::to_string(evaluation.origins.back()) +
      "), knowing only the rows before each; the classical methods were refitted at every origin. "
      "MASE divides the mean absolute error by the in-sample (seasonal-)naive error of the rows "
      "before the first origin; sMAPE is the M4 competition's. The forecast below is by " +
      chosen.selection.name + "; its " + level +
      "% interval adds the empirical quantiles of its validation errors at each step, which "
      "covered " +
      report::fixed(100 * chosen.interval.coverage, 1) +
      "% of the validation values left out of the calibration.");
  report::LineChart chart = future_chart(
      series, "The last rows and the next " + std::to_string(horizon) + ": " +
                  chosen.selection.name + " with its " + level + "% interval, and the baselines");
  chart.lines = {history_line(series, horizon, evaluation.setup.season),
                 future_line(series, "forecast: " + chosen.selection.name, chosen.mean, false),
                 future_line(series, "lower " + level + "%", chosen.lower, true),
                 future_line(series, "upper " + level + "%", chosen.upper, true)};
  for (size_t k = 0; k < evaluation.results.size(); ++k) {
    const std::string& name = evaluation.results[k].name;
    const bool shown = name == "lstm" || name == "naive" || name == "seasonal-naive" ||
                       name == chosen.selection.best_classical;
    if (shown && chosen.selection.name != name)
      chart.lines.push_back(future_line(series, name, chosen.future[k], true));
  }
  document.add(chart);

  report::Table table;
  table.title = "Rolling-origin validation at " + std::to_string(horizon) +
                " steps, original units (lower is better)";
  table.header = {"model", "MASE", "sMAPE %", "RMSE", ""};
  auto row = [](const std::string& name, const Scores& scores, const std::string& note) {
    return std::vector<std::string>{name, report::fixed(scores.mase, 3),
                                    report::fixed(scores.smape, 2), report::fixed(scores.rmse, 4),
                                    note};
  };
  const Selection& selection = chosen.selection;
  // Why each row is (or is not) the forecast: chosen, one of the averaged, left out, beating.
  auto note = [&](const std::string& name) {
    std::vector<std::string> notes;
    if (name == selection.name) notes.push_back("chosen");
    if (selection.members.size() > 1 &&
        std::find(selection.members.begin(), selection.members.end(), name) !=
            selection.members.end())
      notes.push_back("in the chosen mean");
    if (name == "lstm" && !selection.network_validated)
      notes.push_back("not validated: trained on these rows, left out of the choice");
    if (name == selection.best_classical && selection.network_beaten)
      notes.push_back("beats the lstm");
    std::string text;
    for (const std::string& part : notes) text += (text.empty() ? "" : "; ") + part;
    return text;
  };
  for (const CandidateResult& result : evaluation.results)
    table.rows.push_back(row(result.name, result.scores, note(result.name)));
  if (selection.members.size() > 1)
    table.rows.push_back(row(selection.name, selection.scores, "chosen"));
  document.add(table);
}

void add_unvalidated_forecast_section(report::Document& document, const Series& series,
                                      const std::vector<double>& forecast, int64_t season) {
  const std::string steps = std::to_string(forecast.size());
  document.heading("The forecast, not validated");
  document.paragraph("The series is too short to validate " + steps +
                     "-step forecasts after the model's window, so this is the network's "
                     "forecast alone, without an interval and without comparing it to the "
                     "classical methods.");
  report::LineChart chart =
      future_chart(series, "The last rows and the network's forecast of the next " + steps);
  chart.lines = {history_line(series, static_cast<int64_t>(forecast.size()), season),
                 future_line(series, "forecast: lstm", forecast, false)};
  document.add(chart);
}

void add_forecast_values(report::Document& document, const std::string& index_name,
                         const std::vector<std::string>& index, const std::vector<double>& mean,
                         const std::vector<double>& lower, const std::vector<double>& upper,
                         const std::string& model) {
  report::Table table;
  table.title = "The forecast written, by " + model;
  table.header = {index_name, "forecast", "lower", "upper"};
  auto number = [](double value) {
    return std::isfinite(value) ? report::significant(value, 8) : std::string("–");
  };
  for (size_t k = 0; k < mean.size(); ++k)
    table.rows.push_back({index.at(k), number(mean[k]), number(lower.at(k)), number(upper.at(k))});
  document.add(table);
}

}  // namespace lstm::apps
