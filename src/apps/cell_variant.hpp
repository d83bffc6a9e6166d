// A cell and its variant (--cell NAME, --layer-norm) copied into a task's setup: the language
// model's and the forecaster's setups carry the same fields as NetworkConfig.
#pragma once

#include <string_view>

#include "lstm/config.hpp"

namespace lstm::apps {

// Sets setup.cell, .peephole, .coupled_gates, .reset_before and .layer_norm as
// apply_cell_variant reads `name` and `layer_norm` (and throws on what it refuses).
template <typename Setup>
void set_cell_variant(Setup& setup, std::string_view name, bool layer_norm) {
  NetworkConfig variant;
  apply_cell_variant(variant, name, layer_norm);
  setup.cell = variant.cell;
  setup.peephole = variant.peephole;
  setup.coupled_gates = variant.coupled_gates;
  setup.reset_before = variant.reset_before;
  setup.layer_norm = variant.layer_norm;
}

}  // namespace lstm::apps
