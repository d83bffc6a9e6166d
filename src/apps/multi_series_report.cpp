// The report sections of a global model: the mean scores over the series, an overview row per
// series with the ones that need attention first, and the single-series section of the first few.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "apps/forecast_report.hpp"

namespace lstm::apps {
namespace {

// The MASE of a candidate in a series' evaluation (NaN when it did not run there).
double mase_of(const RollingEvaluation& evaluation, const std::string& name) {
  for (const CandidateResult& result : evaluation.results)
    if (result.name == name) return result.scores.mase;
  return std::nan("");
}

bool worse_than_seasonal_naive(const ChosenForecast& chosen) {
  return chosen.selection.scores.mase > mase_of(chosen.evaluation, "seasonal-naive");
}

// Up to ten names, then "and K more".
std::string some_names(const std::vector<std::string>& names) {
  std::string text;
  for (size_t k = 0; k < names.size() && k < 10; ++k) text += (k ? ", " : "") + names[k];
  return names.size() > 10 ? text + " and " + std::to_string(names.size() - 10) + " more" : text;
}

}  // namespace

void add_many_series_overview(report::Document& document, const MultiSeriesInfo& info,
                              const std::vector<Series>& series,
                              const std::vector<std::optional<ChosenForecast>>& chosen,
                              int64_t horizon, ModelChoice choice) {
  const std::string steps = std::to_string(horizon) + " steps";
  std::vector<std::string> beaten, worse, too_short;
  std::vector<const RollingEvaluation*> evaluations;
  double chosen_mase = 0, chosen_smape = 0;
  for (size_t s = 0; s < series.size(); ++s) {
    if (!chosen[s]) {
      too_short.push_back(info.names[s]);
      continue;
    }
    evaluations.push_back(&chosen[s]->evaluation);
    chosen_mase += chosen[s]->selection.scores.mase;
    chosen_smape += chosen[s]->selection.scores.smape;
    if (chosen[s]->selection.network_beaten) beaten.push_back(info.names[s]);
    if (worse_than_seasonal_naive(*chosen[s])) worse.push_back(info.names[s]);
  }
  document.heading("Every series at " + steps);
  std::string summary =
      "One network for " + std::to_string(series.size()) +
      " series. Each series was validated on its own as 'lstm eval' scores it: the network and "
      "the classical methods (refitted at every origin) forecast " +
      steps +
      " from rolling origins of its last part, scored with MASE and sMAPE; the forecast chosen "
      "for it is " +
      (choice == ModelChoice::combine
           ? "the one 'lstm forecast --steps " + std::to_string(horizon) +
                 "' writes by default (the mean of the three best)."
       : choice == ModelChoice::best
           ? std::string("the one with the lowest validation MASE (--model-choice best).")
           : std::string("the network's (--model-choice lstm)."));
  if (!beaten.empty())
    summary += " A classical method beats the network on " + std::to_string(beaten.size()) +
               " series (" + some_names(beaten) + ").";
  if (!worse.empty())
    summary += " The chosen forecast is worse than seasonal-naive on " +
               std::to_string(worse.size()) + " series (" + some_names(worse) + ").";
  if (!too_short.empty())
    summary += " " + std::to_string(too_short.size()) + " series (" + some_names(too_short) +
               ") are too short to validate " + steps + ".";
  document.paragraph(summary + (beaten.empty() && worse.empty() && too_short.empty()
                                    ? ""
                                    : " They are listed first in the table below."));

  std::vector<MeanScores> mean_scores = mean_rolling_scores(evaluations);
  if (!evaluations.empty()) {
    const auto count = static_cast<double>(evaluations.size());
    mean_scores.push_back({"the chosen forecasts", chosen_mase / count, chosen_smape / count,
                           static_cast<int64_t>(evaluations.size())});
  }
  std::stable_sort(mean_scores.begin(), mean_scores.end(),
                   [](const MeanScores& a, const MeanScores& b) {
                     return !std::isnan(a.mase) && (std::isnan(b.mase) || a.mase < b.mase);
                   });
  report::Table means;
  means.title = "Mean over the series at " + steps + ", best first (lower is better)";
  means.header = {"model", "mean MASE", "mean sMAPE %", "series"};
  for (const MeanScores& mean : mean_scores)
    means.rows.push_back({mean.name, report::fixed(mean.mase, 3), report::fixed(mean.smape, 2),
                          std::to_string(mean.series)});
  document.add(means);

  // The series that need attention first: worse than seasonal-naive, then the network beaten,
  // then too short; the rest in the file's order.
  auto rank = [&](size_t s) {
    if (!chosen[s]) return 2;
    if (worse_than_seasonal_naive(*chosen[s])) return 0;
    return chosen[s]->selection.network_beaten ? 1 : 3;
  };
  std::vector<size_t> order(series.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rank(a) < rank(b); });
  report::Table table;
  double level = 0.8;
  for (const auto& one : chosen)
    if (one) level = one->interval.level;
  table.title = "Per series at " + steps + ": the chosen forecast and the baselines (MASE; " +
                "lower is better; coverage of the " + report::fixed(100 * level, 0) +
                "% interval on validation)";
  table.header = {"series",     "rows",      "forecast by",         "MASE",
                  "sMAPE %",    "lstm MASE", "seasonal-naive MASE", "naive MASE",
                  "coverage %", "note"};
  for (const size_t s : order) {
    std::vector<std::string> row{info.names[s], std::to_string(series[s].rows)};
    if (!chosen[s]) {
      for (int k = 0; k < 7; ++k) row.push_back("–");
      row.push_back("too short to validate " + steps);
      table.rows.push_back(std::move(row));
      continue;
    }
    const ChosenForecast& one = *chosen[s];
    std::string note;
    if (worse_than_seasonal_naive(one)) note = "worse than seasonal-naive; ";
    if (one.selection.network_beaten) note += one.selection.best_classical + " beats the lstm; ";
    if (!one.selection.network_validated) note += "lstm not validated (trained on these rows); ";
    if (!note.empty()) note.resize(note.size() - 2);
    row.insert(row.end(), {one.selection.name, report::fixed(one.selection.scores.mase, 3),
                           report::fixed(one.selection.scores.smape, 2),
                           report::fixed(mase_of(one.evaluation, "lstm"), 3),
                           report::fixed(mase_of(one.evaluation, "seasonal-naive"), 3),
                           report::fixed(mase_of(one.evaluation, "naive"), 3),
                           report::fixed(100 * one.interval.coverage, 1), note});
    table.rows.push_back(std::move(row));
  }
  document.add(table);
}

void add_many_series_charts(report::Document& document, const MultiSeriesInfo& info,
                            const std::vector<Series>& series,
                            const std::vector<std::optional<ChosenForecast>>& chosen,
                            int64_t horizon, int64_t charted) {
  const size_t shown = std::min(series.size(), static_cast<size_t>(std::max<int64_t>(charted, 0)));
  for (size_t s = 0; s < shown; ++s) {
    const std::string title = "Series '" + info.names[s] +
                              "': the forecast and its validation at " + std::to_string(horizon) +
                              " steps";
    if (chosen[s]) {
      add_rolling_section(document, series[s], *chosen[s], title);
    } else {
      document.heading(title);
      document.paragraph("Too short to validate " + std::to_string(horizon) +
                         "-step forecasts after the model's window: no chart.");
    }
  }
  if (shown == series.size()) return;
  const std::vector<std::string> rest(info.names.begin() + static_cast<std::ptrdiff_t>(shown),
                                      info.names.end());
  document.heading("The other series");
  document.paragraph(std::to_string(rest.size()) + " series (" + some_names(rest) +
                     ") are left out of the charts to keep the report small; they are in the "
                     "table above, 'lstm forecast' writes every forecast, and --report-series "
                     "draws more.");
}

}  // namespace lstm::apps
