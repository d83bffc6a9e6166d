// Per-series normalisation of a forecast target before the network sees it (as Smyl's ES-RNN
// does): an optional logarithm (positive series, so that the level becomes a ratio) and the
// seasonal indices of a classical decomposition of the training part removed, so that the
// network forecasts the deseasonalised remainder; the level is then taken out by the forecaster's
// differencing (inputs and outputs relative to the window's last row).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lstm/data.hpp"

namespace lstm::apps {

struct TargetTransform {
  bool log = false;  // z = log y (every training value was > 0), before the season is removed
  // [m] subtracted from the (log) target at row t from the series' first row: index t mod m.
  // With the log, log of the multiplicative decomposition's figure; else the additive figure.
  // Empty: no season removed.
  std::vector<double> seasonal;
  bool active() const { return log || !seasonal.empty(); }
};

// Classical additive decomposition (R's decompose(type = "additive")$figure): the mean by
// position (t mod m from the series' start) of y − the centred moving average over one period
// (2×m for even m), centred to sum 0 [m]. Throws for fewer than two periods.
std::vector<double> additive_season(std::span<const double> y, int64_t period);

// The period the dates imply: monthly 12, quarterly 4, weekly 52, daily 7, hourly 24; 1 for
// other dated steps (yearly, ...); 0 without dates.
int64_t calendar_period(const SeriesIndex& index);

// Fits the transform on the training part of the target. log_mode / season_mode: 1 on, 0 off,
// -1 automatic, only for a series with a calendar season (`calendar` > 1, or no dates, calendar
// 0, and a season m > 1): the log when every value is > 0; the season when m equals the calendar
// period (if dated), the training part holds three periods and passes the 90% autocorrelation
// test that thetaf and M4's Comb use. (Measured on bench/forecast_vs_r.py: on yearly series, and
// on cycles such as lynx's that are not a calendar season, the network did better without.)
// A requested log with a value ≤ 0 is an error; a requested season needs two periods.
TargetTransform fit_target_transform(std::span<const double> train, int64_t season, int log_mode,
                                     int season_mode, int64_t calendar = 0);

// The target value y at row `row` into the network's space, and back. `where` names the place
// in errors (a log of a value ≤ 0, or a non-finite result).
double transform_target(const TargetTransform& transform, double y, int64_t row,
                        const std::string& where);
double invert_target(const TargetTransform& transform, double z, int64_t row);

// {"log":true,"seasonal":[...]} for the forecast metadata, and back (validated; errors name
// `path`).
std::string target_transform_json(const TargetTransform& transform);
TargetTransform target_transform_from_json(const std::string& path, const std::string& text);

}  // namespace lstm::apps
