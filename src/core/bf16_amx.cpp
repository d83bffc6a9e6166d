// bf16 products on the AMX tile units (Sapphire Rapids and later): 16×32 tiles of A times
// 32×16 tiles of a panel, accumulated in float tiles.
#include <algorithm>
#include <cstdint>

#include "core/amx_tiles.hpp"
#include "core/bf16_gemm.hpp"

#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 11)
#include <immintrin.h>
#define LSTM_AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw")))

namespace lstm::bf16 {

namespace {

// Tiles: 0-3 accumulate C (row group g, half h at 2g + h), 4-5 hold A's row groups, 6-7 B's
// halves. `Groups` (1 or 2) row groups of 16 times one panel, into out [16*groups, 32].
template <int Groups>
LSTM_AMX_TARGET void panel_tile(const uint16_t* a16, int64_t kpad, const uint16_t* panel, float* out) {
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (Groups == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
  const int64_t a_stride = kpad * 2;
  for (int64_t chunk = 0; chunk < kpad / 32; ++chunk) {
    const uint16_t* b = panel + chunk * 1024;
    _tile_loadd(6, b, 64);
    _tile_loadd(7, b + 512, 64);
    _tile_loadd(4, a16 + chunk * 32, a_stride);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if constexpr (Groups == 2) {
      _tile_loadd(5, a16 + 16 * kpad + chunk * 32, a_stride);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, out, 128);
  _tile_stored(1, out + 16, 128);
  if constexpr (Groups == 2) {
    _tile_stored(2, out + 16 * 32, 128);
    _tile_stored(3, out + 16 * 32 + 16, 128);
  }
}

}  // namespace

LSTM_AMX_TARGET void amx_multiply(int64_t m, const uint16_t* a16, int64_t kpad, const uint16_t* panels,
                              float* c, int64_t ldc, int64_t columns, const Store& store) {
  static const AmxTileConfig config;  // in memory: ldtilecfg reads it behind the compiler's back
  _tile_loadconfig(&config);
  alignas(64) float out[32 * 32];  // [32, 32] one tile pair's result
  const int64_t groups = padded_rows(m) / 16;
  for (int64_t first = 0; first < columns; first += 32) {
    const uint16_t* panel = panels + (first / 32) * kpad * 32;
    const int64_t width = std::min<int64_t>(32, columns - first);
    for (int64_t g = 0; g < groups; g += 2) {
      const uint16_t* a = a16 + g * 16 * kpad;
      if (g + 1 < groups) panel_tile<2>(a, kpad, panel, out);
      else panel_tile<1>(a, kpad, panel, out);
      store_block(out, 32, std::min<int64_t>(m - g * 16, 32), width, c, ldc, g * 16, first, store);
    }
  }
  _tile_release();
}

}  // namespace lstm::bf16

#endif
