// Many series, one model (a global model, as DeepAR and N-BEATS train): several target columns
// of a CSV (wide) or one value column with a series id column (long) are read as separate
// series, each normalised with its own training part's statistics; the training windows of all
// of them train one network, and each series is forecast, validated and scored on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/forecast.hpp"
#include "apps/model_choice.hpp"
#include "lstm/data.hpp"

namespace lstm::apps {

// Where the series are in a CSV file.
struct SeriesLayout {
  // Wide: one series per column. `columns` names them; empty with all_columns: every column
  // after the first (which is the date or index column).
  std::vector<std::string> columns;
  bool all_columns = false;
  // Long: one row per (series, date); set when series_column is not empty.
  std::string series_column;  // the series id
  std::string value_column;   // the values (--target)
  std::string date_column;    // empty: the first column that is neither of the two, if any

  bool is_long() const { return !series_column.empty(); }
};

// The series of a file, in order (wide: the columns' order; long: the order in which the ids
// first appear). Each has one column named after its series (the column name or the id) and its
// own index; a long file's series may start and end at different dates but must have one step.
// Its path names it in messages: "file.csv (series 'b')". Throws lstm::Error for ragged rows, a
// missing id, an unknown or empty column, a series without any value, or different steps.
std::vector<Series> load_many_series(const std::string& path, const SeriesLayout& layout);

struct MultiSeriesData {
  std::vector<ForecastData> series;  // [S] each with its own split and normalisation
  SampleSet train, validation;       // the windows of every series, pooled (series after series)
  int64_t season = 0, window = 0, horizon = 1;
  bool differencing = false;
};
// Prepares every series with one window, horizon, season and differencing: the season given or
// the one detected on most series' training parts; the window given or 2 × season (capped at
// 104; 52 without one), at most half the median series' training rows; differencing given or on
// when most training parts trend. A series too short for them is an error naming it.
MultiSeriesData prepare_multi_series(const std::string& path, const SeriesLayout& layout,
                                     ForecastSetup setup);
// The global model: as make_forecast_model for one series (input one column), with metadata
// 'multi_series' holding the layout, the names and every series' forecast metadata.
SequenceModel make_multi_series_model(const MultiSeriesData& data, const ForecastSetup& setup,
                                      const SeriesLayout& layout);

// What a global model file says: the layout (columns = the series names in wide files) and,
// per series, the single-series view that forecast_future, validation_setup and
// evaluate_forecast take.
struct MultiSeriesInfo {
  SeriesLayout layout;
  std::vector<std::string> names;    // [S]
  std::vector<ForecastInfo> series;  // [S]
};
bool is_multi_series_model(const SequenceModel& model);
MultiSeriesInfo multi_series_info(SequenceModel& model, const std::string& path);
// Reads a file in the model's layout: exactly the model's series, in its order (a series the
// model does not know, or one of its own that is missing, is an error naming it).
std::vector<Series> load_model_series(const MultiSeriesInfo& info, const std::string& path);

// After training: each series' validation MASE (one-step, or every horizon of a direct model)
// next to naive and seasonal-naive, the first 20 series listed, and the means over all.
std::string multi_series_validation_text(SequenceModel& model, const MultiSeriesInfo& info,
                                         const MultiSeriesData& data);

// Every series validated at `horizon` steps from rolling origins, the network next to the
// classical methods, with the choice and interval as `lstm forecast` makes them; nullopt for a
// series too short to validate that horizon after the model's window.
std::vector<std::optional<ChosenForecast>> choose_many(SequenceModel& model,
                                                       const MultiSeriesInfo& info,
                                                       const std::vector<Series>& series,
                                                       int64_t horizon, ModelChoice choice,
                                                       double level);
// The horizon of eval's rolling-origin comparison: `requested`, else the direct model's H, else
// the first series' M4 horizon.
int64_t evaluation_horizon(const MultiSeriesInfo& info, const std::vector<Series>& series,
                           int64_t requested);
// Each candidate's mean MASE and sMAPE over the evaluations that scored it, in the order the
// candidates first appear; `series`: how many.
struct MeanScores {
  std::string name;
  double mase = 0.0, smape = 0.0;
  int64_t series = 0;
};
std::vector<MeanScores> mean_rolling_scores(
    const std::vector<const RollingEvaluation*>& evaluations);

// One series' forecast as `lstm forecast` writes it.
struct SeriesForecast {
  std::string name;
  std::vector<std::string> index;          // [steps] the future dates or steps
  std::vector<double> mean, lower, upper;  // [steps] original units; no interval: NaN
  std::string model;                       // which model produced the numbers
  bool validated = false;                  // false: too short to validate, network only
  bool network_beaten = false;
  std::string best_classical;
  double coverage = 0.0;  // the interval's leave-one-origin-out coverage on validation
};
// Per series: the network and the classical methods validated at `steps` steps from rolling
// origins, the choice, the interval (as `lstm forecast` does for one series).
std::vector<SeriesForecast> forecast_many(SequenceModel& model, const MultiSeriesInfo& info,
                                          const std::vector<Series>& series, int64_t steps,
                                          ModelChoice choice, double level);
// The same from validations already made: `chosen` as choose_many returns it at `steps` (kept,
// e.g., for a report); a series without one gets the network's forecast alone.
std::vector<SeriesForecast> forecast_many(SequenceModel& model, const MultiSeriesInfo& info,
                                          const std::vector<Series>& series, int64_t steps,
                                          const std::vector<std::optional<ChosenForecast>>& chosen);
// The long-format CSV: series,<date>,<value>,lower,upper,model (the header names: a long file's
// own id, date and value columns; a wide file's "series", its date column and "value"; "step"
// without a date column).
std::string many_forecasts_csv(const MultiSeriesInfo& info, const std::vector<Series>& series,
                               const std::vector<SeriesForecast>& forecasts);

// `lstm eval`'s JSON for a global model: per series the one-step (or every-horizon) metrics next
// to naive and seasonal-naive and the rolling-origin scores at `horizon` steps (0: the direct
// model's H, else each series' M4 horizon); aggregate: the mean MASE and sMAPE of every model
// over the series. `table` receives a readable summary. `chosen`: choose_many's validations at
// evaluation_horizon(info, series, horizon), used instead of validating again (e.g. when they are
// kept for a report), or null.
std::string evaluate_many_json(SequenceModel& model, const MultiSeriesInfo& info,
                               const std::vector<Series>& series, const std::string& path,
                               int64_t horizon, std::string& table,
                               const std::vector<std::optional<ChosenForecast>>* chosen = nullptr);

}  // namespace lstm::apps
