// Time-series forecasting with an LSTM: windows of W rows × F columns → the next row (a one-step
// model, forecast recursively) or the target's next H values at once (a direct model); a model
// whose metadata carries everything needed to forecast (columns, normalisation, window, horizon,
// season); and metrics against the naive and seasonal-naive baselines over the same horizons.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/forecast_normalization.hpp"
#include "apps/rolling_origin.hpp"
#include "apps/trainer.hpp"
#include "lstm/data.hpp"
#include "lstm/train.hpp"

namespace lstm::apps {

struct ForecastSetup {
  std::string target;
  std::vector<std::string> features;  // other columns; a one-step model forecasts them too
  int64_t window = 0;  // W; 0: 2×season capped at 104 (52 without one), ≤ half the training rows
  // H. 1: a one-step model of every column, forecast recursively; H > 1: a direct model of the
  // target's next H values (the features are inputs only); 0: the series' M4 horizon
  // (default_horizon) when its windows fit the training and validation parts, else 1.
  int64_t horizon = 1;
  int64_t season = -1;  // -1: detected on the training part; 0: none
  // Differencing: inputs relative to the window's last row, outputs the change from it (in units
  // of the training part's one-step changes). -1: on when the training target trends.
  int differencing = -1;
  double validation_fraction = 0.2;  // the last part, chronological
  CellType cell = CellType::lstm;
  bool peephole = false, coupled_gates = false, reset_before = false;  // variants (NetworkConfig)
  // LSTM: the forget gate's initial bias (SequenceModel::set_forget_bias), NaN for chrono
  // initialisation over the window (set_chrono_forget_bias); none: PyTorch's initialisation.
  std::optional<double> forget_bias;
  int64_t hidden_size = 64;
  int64_t num_layers = 1;
  bool layer_norm = false;  // the layer-normalised LSTM (NetworkConfig::layer_norm)
  double zoneout = 0.0;     // NetworkConfig::zoneout
  bool residual = false;    // NetworkConfig::residual
  bool highway = false;     // NetworkConfig::highway
  uint64_t seed = 0;  // weight initialisation
  // Per-series normalisation of the target (apps/forecast_normalization.hpp): 1 on, 0 off, -1
  // automatic (log when the training part is positive; the season when it tests seasonal).
  int log_target = -1;
  int deseasonalize = -1;
};

// A series prepared for training: the split, season, window, normalisation and the samples.
struct ForecastData {
  Series series;
  int64_t split = 0;                     // rows [0, split) train, [split, N) validation
  int64_t season = 0;                    // 0: none
  int64_t window = 0;                    // W
  int64_t horizon = 1;                   // H
  Normalization normalization;           // fitted on rows [0, split)
  std::vector<double> difference_scale;  // [F] differencing: std of step changes; empty: off
  std::vector<double> normalized;        // [N, F]
  // Inputs [count, W, F]; targets [count, F] (H = 1) or [count, H]. Origins t: train
  // [W, split - H], validation [split, N - H].
  SampleSet train, validation;
  TargetTransform target_transform;  // applied to the target before `normalization`
};

// Loads and prepares `path`; throws lstm::Error naming the file for a series too short to make
// at least one training and one validation window (with their H targets).
ForecastData prepare_forecast_data(const std::string& path, const ForecastSetup& setup);
// The same for a series already loaded (its path names it in messages), e.g. one of several.
ForecastData prepare_forecast_data(Series series, const ForecastSetup& setup);
// A fresh model for the data: RNN core → Linear head (last_step) → F outputs (H = 1) or H, with
// the metadata.
SequenceModel make_forecast_model(const ForecastData& data, const ForecastSetup& setup);

// What a forecast model file says about its task (read from its metadata, validated).
struct ForecastInfo {
  std::string target;
  std::vector<std::string> columns;  // [F] the target first
  int64_t window = 0;
  int64_t horizon = 1;  // absent in the metadata: 1
  int64_t season = 0;
  Normalization normalization;
  std::vector<double> difference_scale;  // [F] or empty (no differencing)
  double validation_fraction = 0.2;      // absent in the metadata: 0.2
  TargetTransform target_transform;      // absent in the metadata: none
};
ForecastInfo forecast_info(const SequenceModel& model, const std::string& path);

// Forecasts `steps` rows after the last row of `series` (columns as in `info`) with a one-step
// model, recursively: each forecast row is appended to the history. Returns the target in
// original units [steps].
std::vector<double> forecast_recursive(SequenceModel& model, const ForecastInfo& info,
                                       const Series& series, int64_t steps);

// The model's input for forecasting the row after the last one of `series`: its last `steps`
// rows [steps, F], normalised and, with differencing, relative to the last row (what
// forecast_recursive feeds the model, with steps = the window).
std::vector<float> forecast_input(const ForecastInfo& info, const Series& series, int64_t steps);

// The next `steps` values of the target, original units [steps]: recursive for a one-step model,
// one forward for a direct model (steps ≤ H; more is an error, not chained).
std::vector<double> forecast_future(SequenceModel& model, const ForecastInfo& info,
                                    const Series& series, int64_t steps);

// Forecasts of the target y[t + h], h = 0..H-1, from every origin t in [first, N - H] (first is
// raised to W), original units [origins, H].
std::vector<double> target_predictions(SequenceModel& model, const ForecastInfo& info,
                                       const Series& series, int64_t first);

// The network as a rolling-origin candidate named "lstm": from origin t it forecasts with the
// first t rows of `series` (recursively or directly, as forecast_future). `model` and `series`
// must outlive it.
Candidate network_candidate(SequenceModel& model, const ForecastInfo& info, const Series& series);

// The classical methods' pool for a model's series (classical_pool on the training part, i.e. the
// rows before the model's validation split, with the dates' calendar period).
ClassicalPool classical_pool(const ForecastInfo& info, const Series& series);

// What forecast, eval and train compare for a model's series: the network, then the classical
// pool's methods on `y`, the series' target column, which must outlive them (as `model`, `series`).
std::vector<Candidate> forecast_candidates(SequenceModel& model, const ForecastInfo& info,
                                           const Series& series, std::span<const double> y);

// The setup of a rolling-origin validation of `steps`-step forecasts on `series` for a model:
// origins from the model's validation split of the series (trained_until), or earlier ones too
// when fewer than 3 fit after it (then at least 5 where the series allows), none before the
// window and, with a season, two seasons; MASE scaled on the rows before the first origin.
// Returns horizon 0 when no origin fits.
RollingSetup validation_setup(const ForecastInfo& info, const Series& series, int64_t steps);

// The model's metrics over every horizon 1..H from every origin t in [first, N - H], next to
// the baselines scored the same way (evaluate_baselines).
struct ForecastReport {
  ForecastMetrics model;  // count = origins × H
  ForecastMetrics naive;
  std::optional<ForecastMetrics> seasonal_naive;  // absent without a season or if first ≤ season
  int64_t season = 0;
  int64_t horizon = 1;
};
// MASE scale, for the model and the baselines: the seasonal-naive in-sample MAE over rows
// [0, scale_end).
ForecastReport evaluate_forecast(SequenceModel& model, const ForecastInfo& info,
                                 const Series& series, int64_t first, int64_t scale_end);

}  // namespace lstm::apps
