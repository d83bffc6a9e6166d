// int8 sums on the AMX tile units (AMX-INT8, Sapphire Rapids and later): TDPBUSD multiplies a
// 16 × 64-byte tile of A (unsigned) by a 16 × 64-byte tile of a panel (signed, 16 groups of 4
// depths × 16 rows: the panel's own layout) into 16 × 16 int32 sums.
#include <cstdint>

#include "core/amx_tiles.hpp"
#include "core/int8_gemm.hpp"

#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 11)
#include <immintrin.h>

namespace lstm::int8 {
namespace {

// Tiles 0-3: the sums of up to 4 panels; 4: A; 5-7: panels (the fourth reuses 5).
template <int NP>
__attribute__((target("amx-tile,amx-int8"))) void panels_tile(const uint8_t* a, int64_t lda, const int8_t* panels,
                                                              int64_t kpad, int32_t* sums) {
  _tile_zero(0);
  if constexpr (NP > 1) _tile_zero(1);
  if constexpr (NP > 2) _tile_zero(2);
  if constexpr (NP > 3) _tile_zero(3);
  const int64_t panel_stride = kPanel * kpad;
  for (int64_t chunk = 0; chunk < kpad / 64; ++chunk) {
    const int8_t* b = panels + chunk * 1024;
    _tile_loadd(4, a + chunk * 64, lda);
    _tile_loadd(5, b, 64);
    _tile_dpbusd(0, 4, 5);
    if constexpr (NP > 1) {
      _tile_loadd(6, b + panel_stride, 64);
      _tile_dpbusd(1, 4, 6);
    }
    if constexpr (NP > 2) {
      _tile_loadd(7, b + 2 * panel_stride, 64);
      _tile_dpbusd(2, 4, 7);
    }
    if constexpr (NP > 3) {
      _tile_loadd(5, b + 3 * panel_stride, 64);
      _tile_dpbusd(3, 4, 5);
    }
  }
  _tile_stored(0, sums, kSumsLd * 4);
  if constexpr (NP > 1) _tile_stored(1, sums + 16, kSumsLd * 4);
  if constexpr (NP > 2) _tile_stored(2, sums + 32, kSumsLd * 4);
  if constexpr (NP > 3) _tile_stored(3, sums + 48, kSumsLd * 4);
}

// 32 rows (two A tiles, 4 and 5) by NP ≤ 2 panels (tiles 6 and 7): sums in tiles 0-3, [row
// half][panel]. Each panel tile is loaded once for both halves, half as many loads from L2 as
// two calls of panels_tile for the recurrent product, whose weights do not stay in L1.
template <int NP>
__attribute__((target("amx-tile,amx-int8"))) void two_halves_tile(const uint8_t* a, int64_t lda, const int8_t* panels,
                                                                  int64_t kpad, int32_t* sums) {
  _tile_zero(0);
  _tile_zero(2);
  if constexpr (NP > 1) {
    _tile_zero(1);
    _tile_zero(3);
  }
  const int64_t panel_stride = kPanel * kpad;
  const uint8_t* lower = a + 16 * lda;
  for (int64_t chunk = 0; chunk < kpad / 64; ++chunk) {
    const int8_t* b = panels + chunk * 1024;
    _tile_loadd(4, a + chunk * 64, lda);
    _tile_loadd(6, b, 64);
    _tile_dpbusd(0, 4, 6);
    _tile_loadd(5, lower + chunk * 64, lda);
    _tile_dpbusd(2, 5, 6);
    if constexpr (NP > 1) {
      _tile_loadd(7, b + panel_stride, 64);
      _tile_dpbusd(1, 4, 7);
      _tile_dpbusd(3, 5, 7);
    }
  }
  _tile_stored(0, sums, kSumsLd * 4);
  _tile_stored(2, sums + 16 * kSumsLd, kSumsLd * 4);
  if constexpr (NP > 1) {
    _tile_stored(1, sums + 16, kSumsLd * 4);
    _tile_stored(3, sums + 16 * kSumsLd + 16, kSumsLd * 4);
  }
}

}  // namespace

__attribute__((target("amx-tile,amx-int8"))) void amx_configure() {
  static const AmxTileConfig config;  // in memory: ldtilecfg reads it behind the compiler's back
  _tile_loadconfig(&config);
}

__attribute__((target("amx-tile,amx-int8"))) void amx_release() { _tile_release(); }

// A tile always reads 16 rows: Rows keeps a whole block of rows beyond its last, whose sums
// land in rows of `sums` that the caller does not read. Over 16 rows, both halves at once.
__attribute__((target("amx-tile,amx-int8"))) void amx_sums(const uint8_t* a, int64_t lda, int64_t rows,
                                                           const int8_t* panels, int64_t panels_count, int64_t kpad,
                                                           int32_t* sums) {
  if (rows > 16) {
    for (int64_t p = 0; p < panels_count; p += 2) {
      if (panels_count - p >= 2) two_halves_tile<2>(a, lda, panels + p * kPanel * kpad, kpad, sums + p * kPanel);
      else two_halves_tile<1>(a, lda, panels + p * kPanel * kpad, kpad, sums + p * kPanel);
    }
    return;
  }
  switch (panels_count) {
    case 1: panels_tile<1>(a, lda, panels, kpad, sums); break;
    case 2: panels_tile<2>(a, lda, panels, kpad, sums); break;
    case 3: panels_tile<3>(a, lda, panels, kpad, sums); break;
    default: panels_tile<4>(a, lda, panels, kpad, sums); break;
  }
}

}  // namespace lstm::int8

#endif
