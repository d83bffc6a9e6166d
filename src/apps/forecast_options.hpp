// The options a user gives a forecaster, as `lstm train --task forecast` and the Python
// forecasters (lstm.Forecaster, lstm.GlobalForecaster) take them, and the one builder that turns
// them into a ForecastSetup: a new forecasting option is added here once and reaches all three.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/forecast.hpp"

namespace lstm::apps {

struct ForecastOptions {
  std::string target;                 // one series; empty for several (multi_series.hpp)
  std::vector<std::string> features;  // other columns
  int64_t window = 0;                 // ForecastSetup::window
  int64_t horizon = 0;                // ForecastSetup::horizon (0: the M4 horizon if it fits)
  int64_t season = -1;                // ForecastSetup::season
  int differencing = -1;              // ForecastSetup::differencing
  int log_target = -1, deseasonalize = -1;  // ForecastSetup's per-series normalisation
  double validation = 0.2;            // ForecastSetup::validation_fraction
  std::string cell = "lstm";          // a cell or a variant (lstm::apply_cell_variant)
  bool layer_norm = false;            // with cell lstm or cifg: layer-normalised (--layer-norm)
  int64_t hidden = 64;                // ForecastSetup::hidden_size
  int64_t layers = 1;                 // ForecastSetup::num_layers
  uint64_t seed = 0;                  // weight initialisation
};

// Throws lstm::Error for an unknown cell, or layer_norm with a cell it does not combine with.
ForecastSetup forecast_setup(const ForecastOptions& options);

}  // namespace lstm::apps
