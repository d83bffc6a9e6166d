// bf16 products with VDPBF16PS (AVX512-BF16: Zen 4, Cooper Lake): each instruction multiplies
// 16 pairs of a panel's tile row by one pair of A broadcast to every lane, and adds both products
// to 16 float sums.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/bf16_gemm.hpp"
#include "core/thread_team.hpp"
#include "core/vector_kernels.hpp"

#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 11)
#include <immintrin.h>
#define LSTM_DOT_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

namespace lstm::bf16 {
namespace {

// out [MR, NP*32] = A16 rows [MR, kpad] × NP consecutive panels (panel_stride apart). MR·NP·2
// float sums stay in registers: at most 24 of the 32.
template <int MR, int NP>
LSTM_DOT_TARGET void dot_tile(const uint16_t* a16, int64_t kpad, const uint16_t* panels, int64_t panel_stride,
                              float* out) {
  __m512 acc[MR][NP][2];
  for (auto& row : acc)
    for (auto& panel : row) panel[0] = panel[1] = _mm512_setzero_ps();
  for (int64_t pair = 0; pair < kpad / 2; ++pair) {
    // Within a 32-deep chunk of 1024 elements: two tiles of 16 rows of 32, one row per pair.
    const int64_t offset = pair / 16 * 1024 + pair % 16 * 32;
    __m512i b[NP][2];
    for (int p = 0; p < NP; ++p) {
      b[p][0] = _mm512_loadu_si512(panels + p * panel_stride + offset);
      b[p][1] = _mm512_loadu_si512(panels + p * panel_stride + offset + 512);
    }
    for (int r = 0; r < MR; ++r) {
      int32_t a_pair;
      std::memcpy(&a_pair, a16 + r * kpad + 2 * pair, sizeof a_pair);
      const __m512bh a = (__m512bh)_mm512_set1_epi32(a_pair);
      for (int p = 0; p < NP; ++p) {
        acc[r][p][0] = _mm512_dpbf16_ps(acc[r][p][0], a, (__m512bh)b[p][0]);
        acc[r][p][1] = _mm512_dpbf16_ps(acc[r][p][1], a, (__m512bh)b[p][1]);
      }
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int p = 0; p < NP; ++p) {
      _mm512_storeu_ps(out + r * NP * 32 + p * 32, acc[r][p][0]);
      _mm512_storeu_ps(out + r * NP * 32 + p * 32 + 16, acc[r][p][1]);
    }
}

using DotTile = void (*)(const uint16_t*, int64_t, const uint16_t*, int64_t, float*);

// The tile for `rows` (≤ R) rows over `panels` (≤ NP) panels: one panel less until they exist.
template <int NP, int R>
DotTile pick_tile(int64_t panels, int64_t rows) {
  if constexpr (NP > 1) {
    if (panels < NP) return pick_tile<NP - 1, R>(panels, rows);
  }
  if constexpr (R == 1) return dot_tile<1, NP>;
  else return rows >= R ? dot_tile<R, NP> : pick_tile<NP, R - 1>(panels, rows);
}

// Row tiles of up to MaxRows rows over NP panels at a time (fewer for the last columns: tiles
// read whole panels, which must exist). With panels of at most 32 KiB (depth ≤ 512), many rows go
// in blocks of about 256 KiB of A, each multiplied by every panel before the next, so that A
// comes from L2 and only the panels stream, instead of all of A streaming past every panel (the
// input part over every step, bf16, GFLOP/s a thread: lstm 256/256/64/100 161 → 179, 512/512/64/50
// 180 → 190). Deeper panels do not stay in L1 for a block's tiles: blocks at depth 1024 were
// slower (189 → 172–179), and so were the deep products split into chunks of depth 512, whose
// sums then make several passes over C (the weight gradients 168 → 152, lstm 1024 input 191 → 157).
template <int NP, int MaxRows>
void run_tiles(int64_t m, const uint16_t* a16, int64_t kpad, const uint16_t* panels, float* c, int64_t ldc,
               int64_t columns, const Store& store) {
  alignas(64) float out[MaxRows * NP * 32];
  const int64_t panel_stride = kpad * 32;
  const int64_t block_rows =
      kpad > 512 ? m : std::max<int64_t>(1, (int64_t{256} << 10) / (kpad * 2 * MaxRows)) * MaxRows;
  for (int64_t block = 0; block < m; block += block_rows)
    for (int64_t first = 0; first < columns; first += NP * 32) {
      const int64_t width = std::min<int64_t>(NP * 32, columns - first);
      const int64_t panels_here = (width + 31) / 32;
      const int64_t block_end = std::min(m, block + block_rows);
      const int64_t tiles = (block_end - block + MaxRows - 1) / MaxRows;
      for (int t = 0; t < tiles; ++t) {  // the block's rows shared evenly
        const auto [begin, end] = split_range(block_end - block, static_cast<int>(tiles), t);
        const int64_t row = block + begin, rows = end - begin;
        const uint16_t* tile_panels = panels + first / 32 * panel_stride;
        const DotTile tile = pick_tile<NP, MaxRows>(panels_here, rows);
        if (store.accumulate && !store.transposed)
          prefetch_block(c + row * ldc + first, ldc, rows, width);
        tile(a16 + row * kpad, kpad, tile_panels, panel_stride, out);
        store_block(out, panels_here * 32, rows, width, c, ldc, row, first, store);
      }
    }
}

}  // namespace

// Few rows (small batches) would leave too few independent sums to cover the instruction's
// latency unless a tile spans several panels. Otherwise tiles of 6 rows by two panels: each pair of
// A read serves four instructions, where 12 rows by one panel read twice as much of A for the same
// sums, which for deep products comes from L3 (one thread, the product alone, GFLOP/s, 12 × 1 → 6 ×
// 2: the lstm 1024/1024/64/25 input part 207–210 → 212–218, its weight gradients 185 → 197–199;
// at depth 512 and 64 rows 219 → 221; 4 rows 197 → 220).
void dot_multiply(int64_t m, const uint16_t* a16, int64_t kpad, const uint16_t* panels, float* c, int64_t ldc,
                  int64_t columns, const Store& store) {
  if (m >= 4) run_tiles<2, 6>(m, a16, kpad, panels, c, ldc, columns, store);
  else run_tiles<4, 3>(m, a16, kpad, panels, c, ldc, columns, store);
}

}  // namespace lstm::bf16

#endif
