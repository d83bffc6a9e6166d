// Counter-based random numbers: value k of stream `seed` is a pure function of (seed, k), so
// results do not depend on thread count or on the order in which elements are visited.
#pragma once

#include <cstdint>

namespace lstm {

// SplitMix64's finaliser, a well-mixed 64-bit hash.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) with 53 random bits.
inline double uniform01(uint64_t seed, uint64_t index) {
  return static_cast<double>(mix64(mix64(seed) ^ index) >> 11) * 0x1.0p-53;
}

}  // namespace lstm

namespace lstm {

// Inverted dropout on layer `layer`'s output: element `index` of its [T, B, Hcat] output is kept
// (and scaled by 1/(1-p)) iff this returns true. A pure function, so any implementation that
// calls it (the driver, the naive reference in tests) draws the same mask.
inline bool dropout_keep(uint64_t seed, int64_t layer, uint64_t index, double p) {
  return uniform01(mix64(seed) ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(layer + 1)), index) >= p;
}

// Zoneout (training only): element `index` = (t·B + b)·width + unit of layer `layer`, direction
// `direction`'s h (which = 0, width Hout) or c (which = 1, width H) keeps its previous value at
// step t iff this returns true, with probability p. A pure function, like dropout_keep.
inline bool zoneout_holds(uint64_t seed, int64_t layer, int64_t direction, int which, uint64_t index, double p) {
  const uint64_t stream = static_cast<uint64_t>((layer * 2 + direction) * 2 + which + 1);
  return uniform01(mix64(seed ^ 0x2F0E1A5C3B7D9E41ull) ^ (0x8CB92BA72F3D8DD7ull * stream), index) < p;
}

}  // namespace lstm
