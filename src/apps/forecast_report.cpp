// The rolling-origin section of a forecasting report: chart of the future with interval and
// baselines, table of validation scores.
#include "apps/forecast_report.hpp"

#include <algorithm>
#include <cmath>

namespace lstm::apps {

void add_rolling_section(report::Document& document, const Series& series,
                         const ChosenForecast& chosen, const std::string& heading) {
  const RollingEvaluation& evaluation = chosen.evaluation;
  const int64_t horizon = evaluation.setup.horizon, n = series.rows;
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
  report::LineChart chart;
  chart.title = "The last rows and the next " + std::to_string(horizon) + ": " +
                chosen.selection.name + " with its " + level + "% interval, and the baselines";
  chart.x_label = series.index.name.empty() ? "row" : "row (" + series.index.name + ")";
  chart.y_label = series.columns.at(0);
  const std::vector<double> y = series.column(0);
  report::Line actual{.name = "actual"};
  for (int64_t t = std::max<int64_t>(0, n - 3 * std::max(horizon, evaluation.setup.season)); t < n;
       ++t) {
    actual.x.push_back(static_cast<double>(t));
    actual.y.push_back(y[t]);
  }
  auto future_line = [&](const std::string& name, const std::vector<double>& values, bool dashed) {
    report::Line line{.name = name, .dashed = dashed};
    for (size_t h = 0; h < values.size(); ++h) {
      line.x.push_back(static_cast<double>(n + static_cast<int64_t>(h)));
      line.y.push_back(values[h]);
    }
    return line;
  };
  chart.lines = {actual, future_line("forecast: " + chosen.selection.name, chosen.mean, false),
                 future_line("lower " + level + "%", chosen.lower, true),
                 future_line("upper " + level + "%", chosen.upper, true)};
  for (size_t k = 0; k < evaluation.results.size(); ++k) {
    const std::string& name = evaluation.results[k].name;
    const bool shown = name == "lstm" || name == "naive" || name == "seasonal-naive" ||
                       name == chosen.selection.best_classical;
    if (shown && chosen.selection.name != name)
      chart.lines.push_back(future_line(name, chosen.future[k], true));
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
  for (const CandidateResult& result : evaluation.results)
    table.rows.push_back(
        row(result.name, result.scores, result.name == chosen.selection.name ? "chosen" : ""));
  if (chosen.selection.members.size() > 1)
    table.rows.push_back(row(chosen.selection.name, chosen.selection.scores, "chosen"));
  document.add(table);
}

}  // namespace lstm::apps
