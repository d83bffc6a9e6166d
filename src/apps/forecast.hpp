// Time-series forecasting with an LSTM: windows of W rows × F columns → the next row, a model
// whose metadata carries everything needed to forecast (columns, normalisation, window, season),
// recursive multi-step forecasts, and metrics against the naive and seasonal-naive baselines.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/trainer.hpp"
#include "lstm/data.hpp"
#include "lstm/train.hpp"

namespace lstm::apps {

struct ForecastSetup {
  std::string target;
  std::vector<std::string> features;  // other columns, also forecast (so recursion can continue)
  int64_t window = 0;  // W; 0: 2×season capped at 104 (52 without one), ≤ half the training rows
  int64_t season = -1;  // -1: detected on the training part; 0: none
  // Differencing: inputs relative to the window's last row, outputs the change to the next row
  // (in units of the training part's step changes). -1: on when the training target trends.
  int differencing = -1;
  double validation_fraction = 0.2;  // the last part, chronological
  CellType cell = CellType::lstm;
  int64_t hidden_size = 64;
  int64_t num_layers = 1;
  uint64_t seed = 0;  // weight initialisation
};

// A series prepared for training: the split, season, window, normalisation and the samples.
struct ForecastData {
  Series series;
  int64_t split = 0;                     // rows [0, split) train, [split, N) validation
  int64_t season = 0;                    // 0: none
  int64_t window = 0;                    // W
  Normalization normalization;           // fitted on rows [0, split)
  std::vector<double> difference_scale;  // [F] differencing: std of step changes; empty: off
  std::vector<double> normalized;        // [N, F]
  SampleSet train, validation;           // inputs [count, W, F], targets [count, F]
};

// Loads and prepares `path`; throws lstm::Error naming the file for a series too short to make
// at least one training and one validation window.
ForecastData prepare_forecast_data(const std::string& path, const ForecastSetup& setup);
// A fresh model for the data: RNN core → Linear head (last_step) → F outputs, with the metadata.
SequenceModel make_forecast_model(const ForecastData& data, const ForecastSetup& setup);

// What a forecast model file says about its task (read from its metadata, validated).
struct ForecastInfo {
  std::string target;
  std::vector<std::string> columns;  // [F] the target first
  int64_t window = 0;
  int64_t season = 0;
  Normalization normalization;
  std::vector<double> difference_scale;  // [F] or empty (no differencing)
};
ForecastInfo forecast_info(const SequenceModel& model, const std::string& path);

// Forecasts `steps` rows after the last row of `series` (columns as in `info`), recursively:
// each forecast row is appended to the history. Returns the target in original units [steps].
std::vector<double> forecast_recursive(SequenceModel& model, const ForecastInfo& info,
                                       const Series& series, int64_t steps);

// One-step forecasts of the target for every origin t in [first, N) (first >= W), original units.
std::vector<double> one_step_predictions(SequenceModel& model, const ForecastInfo& info,
                                         const Series& series, int64_t first);

// The model's one-step metrics next to the baselines, for origins [first, N) of a series.
struct ForecastReport {
  ForecastMetrics model;
  ForecastMetrics naive;
  std::optional<ForecastMetrics> seasonal_naive;
  int64_t season = 0;
};
// MASE scale: the seasonal-naive in-sample MAE over rows [0, scale_end).
ForecastReport evaluate_forecast(SequenceModel& model, const ForecastInfo& info,
                                 const Series& series, int64_t first, int64_t scale_end);

}  // namespace lstm::apps
