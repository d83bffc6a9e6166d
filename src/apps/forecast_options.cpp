// ForecastOptions → ForecastSetup, the one place where a forecaster's options are filled in.
#include "apps/forecast_options.hpp"

#include "apps/cell_variant.hpp"
#include "lstm/config.hpp"

namespace lstm::apps {

ForecastSetup forecast_setup(const ForecastOptions& options) {
  ForecastSetup setup;
  setup.target = options.target;
  setup.features = options.features;
  setup.window = options.window;
  setup.horizon = options.horizon;
  setup.season = options.season;
  setup.differencing = options.differencing;
  setup.log_target = options.log_target;
  setup.deseasonalize = options.deseasonalize;
  setup.validation_fraction = options.validation;
  set_cell_variant(setup, options.cell, options.layer_norm);
  setup.hidden_size = options.hidden;
  setup.num_layers = options.layers;
  setup.seed = options.seed;
  return setup;
}

}  // namespace lstm::apps
