// The report sections of validated forecasts: for one series, the chosen forecast with its
// interval and the baselines' forecasts after the series on one chart, and the rolling-origin
// table; the forecast's values as written; for a global model, an overview of every series, then
// those sections per series.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apps/model_choice.hpp"
#include "apps/multi_series.hpp"
#include "apps/report.hpp"
#include "lstm/data.hpp"

namespace lstm::apps {

// `heading`: the section's title (empty: "The forecast and its validation at H steps").
void add_rolling_section(report::Document& document, const Series& series,
                         const ChosenForecast& chosen, const std::string& heading = "");

// A series too short to validate its forecast: the last rows and the network's `forecast` after
// them (no interval, no baselines).
void add_unvalidated_forecast_section(report::Document& document, const Series& series,
                                      const std::vector<double>& forecast, int64_t season);

// The forecast as `lstm forecast` wrote it: one row per future step (its date or step under
// `index_name`), the value and the interval's bounds ("–" when there is none), by `model`.
void add_forecast_values(report::Document& document, const std::string& index_name,
                         const std::vector<std::string>& index, const std::vector<double>& mean,
                         const std::vector<double>& lower, const std::vector<double>& upper,
                         const std::string& model);

// A global model's series validated at `horizon` steps (chosen[s]: nullopt when too short, as
// choose_many returns them): the mean scores of every model over the series, then one row per
// series (name, rows, the chosen model, its MASE and sMAPE, the network's, seasonal-naive's and
// naive's MASE, the interval's coverage), those where the chosen forecast is worse than
// seasonal-naive or a classical method beats the network first. `choice`: how `chosen` was
// chosen (--model-choice), for the text.
void add_many_series_overview(report::Document& document, const MultiSeriesInfo& info,
                              const std::vector<Series>& series,
                              const std::vector<std::optional<ChosenForecast>>& chosen,
                              int64_t horizon, ModelChoice choice = ModelChoice::combine);
// add_rolling_section for the first `charted` series in the file's order; the others named.
void add_many_series_charts(report::Document& document, const MultiSeriesInfo& info,
                            const std::vector<Series>& series,
                            const std::vector<std::optional<ChosenForecast>>& chosen,
                            int64_t horizon, int64_t charted);

}  // namespace lstm::apps
