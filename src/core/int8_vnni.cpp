// int8 sums with VPDPBUSD: each instruction multiplies 4 unsigned bytes of A (broadcast to every
// lane) by 4 signed bytes of each of 16 (AVX512-VNNI) or 8 (AVX-VNNI) panel rows and adds the
// four products to that lane's int32 sum — exactly, without the int16 saturation of VPMADDUBSW.
#include <cstdint>
#include <cstring>

#include "core/int8_gemm.hpp"

#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 11)
#include <immintrin.h>

namespace lstm::int8 {
namespace {

inline int32_t four_bytes(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// acc + the products of u8 `a` and s8 `b`, 4 per lane. As inline assembly with `acc` in and out
// of one register: GCC 12 compiles the intrinsic in this loop with two register copies per
// instruction and a spill to the stack every iteration.
__attribute__((target("avx512f,avx512vnni"))) inline __m512i dpbusd(__m512i acc, __m512i a,
                                                                    __m512i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}
__attribute__((target("avx2,avxvnni"))) inline __m256i dpbusd(__m256i acc, __m256i a, __m256i b) {
  asm("%{vex%} vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// sums [MR, NP*16] for MR rows of A and NP panels: MR·NP sums in registers (at most 16).
template <int MR, int NP>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void tile512(const uint8_t* a, int64_t lda,
                                                                    const int8_t* panels,
                                                                    int64_t kpad, int64_t k0,
                                                                    int64_t k1, int32_t* sums) {
  __m512i acc[MR][NP];
  for (auto& row : acc)
    for (auto& v : row) v = _mm512_setzero_si512();
  const int64_t panel_stride = kPanel * kpad;
  for (int64_t group = k0 / 4; group < k1 / 4; ++group) {
    __m512i b[NP];
    for (int p = 0; p < NP; ++p) b[p] = _mm512_loadu_si512(panels + p * panel_stride + group * 64);
    for (int r = 0; r < MR; ++r) {
      const __m512i x = _mm512_set1_epi32(four_bytes(a + r * lda + group * 4));
      for (int p = 0; p < NP; ++p) acc[r][p] = dpbusd(acc[r][p], x, b[p]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int p = 0; p < NP; ++p) {
      int32_t* out = sums + r * kSumsLd + p * kPanel;
      _mm512_storeu_si512(
          out, k0 == 0 ? acc[r][p] : _mm512_add_epi32(acc[r][p], _mm512_loadu_si512(out)));
    }
}

// The same on 256-bit registers: a panel's 16 rows are two halves of 8.
template <int MR, int NP>
__attribute__((target("avx2,fma,avxvnni"))) void tile256(const uint8_t* a, int64_t lda,
                                                         const int8_t* panels, int64_t kpad,
                                                         int64_t k0, int64_t k1, int32_t* sums) {
  __m256i acc[MR][NP][2];
  for (auto& row : acc)
    for (auto& panel : row) panel[0] = panel[1] = _mm256_setzero_si256();
  const int64_t panel_stride = kPanel * kpad;
  for (int64_t group = k0 / 4; group < k1 / 4; ++group) {
    __m256i b[NP][2];
    for (int p = 0; p < NP; ++p) {
      const int8_t* row = panels + p * panel_stride + group * 64;
      b[p][0] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row));
      b[p][1] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32));
    }
    for (int r = 0; r < MR; ++r) {
      const __m256i x = _mm256_set1_epi32(four_bytes(a + r * lda + group * 4));
      for (int p = 0; p < NP; ++p) {
        acc[r][p][0] = dpbusd(acc[r][p][0], x, b[p][0]);
        acc[r][p][1] = dpbusd(acc[r][p][1], x, b[p][1]);
      }
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int p = 0; p < NP; ++p)
      for (int half = 0; half < 2; ++half) {
        __m256i* out = reinterpret_cast<__m256i*>(sums + r * kSumsLd + p * kPanel + 8 * half);
        _mm256_storeu_si256(out, k0 == 0
                                     ? acc[r][p][half]
                                     : _mm256_add_epi32(acc[r][p][half], _mm256_loadu_si256(out)));
      }
}

using Tile = void (*)(const uint8_t*, int64_t, const int8_t*, int64_t, int64_t, int64_t, int32_t*);

// Tiles of MaxRows rows (fewer for the last) over NP panels, by chunks of kDepthChunk depths.
// Shorter chunks, whose panels (16 KiB for 4 panels of 256) the tiles after the first would read
// from L1, were slower on Zen 4 at every depth measured: each chunk stores and reloads the sums,
// and a tile's 4 rows of A, 1 KiB apart or more, share few L1 sets with the panels (int8 infer,
// 2 threads, ms, chunks of 256 → 2048: lstm 512/512/64/50 20.1 → 19.4, 1024/1024/64/25 37.5 →
// 35.1, 2048/2048/64/10 65 → 58; gru 512/512/64/50 15.4 → 14.7). Chunks bound the depth that
// each tile streams from L2 for deeper products.
constexpr int64_t kDepthChunk = 2048;
template <int NP, int MaxRows, template <int, int> class Pick>
void run_rows(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels, int64_t kpad,
              int32_t* sums) {
  for (int64_t k0 = 0; k0 < kpad; k0 += kDepthChunk) {
    const int64_t k1 = kpad - k0 < kDepthChunk ? kpad : k0 + kDepthChunk;
    for (int64_t r = 0; r < rows; r += MaxRows) {
      const int64_t here = rows - r < MaxRows ? rows - r : MaxRows;
      Pick<NP, MaxRows>::tile(here)(a + r * lda, lda, panels, kpad, k0, k1, sums + r * kSumsLd);
    }
  }
}

template <int NP, int R>
struct Pick512 {
  static Tile tile(int64_t rows) {
    if constexpr (R == 1)
      return tile512<1, NP>;
    else
      return rows >= R ? tile512<R, NP> : Pick512<NP, R - 1>::tile(rows);
  }
};
template <int NP, int R>
struct Pick256 {
  static Tile tile(int64_t rows) {
    if constexpr (R == 1)
      return tile256<1, NP>;
    else
      return rows >= R ? tile256<R, NP> : Pick256<NP, R - 1>::tile(rows);
  }
};

// 4 rows × 4 panels in 16 registers (512-bit); 256-bit halves need twice the registers: 3 × 2.
template <template <int, int> class Pick, int MaxRows, int MaxPanels>
void sums_by_tiles(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels,
                   int64_t panels_count, int64_t kpad, int32_t* sums) {
  for (int64_t p = 0; p < panels_count; p += MaxPanels) {
    const int8_t* first = panels + p * kPanel * kpad;
    int32_t* out = sums + p * kPanel;
    switch (panels_count - p < MaxPanels ? panels_count - p : MaxPanels) {
      case 1:
        run_rows<1, MaxRows, Pick>(a, lda, rows, first, kpad, out);
        break;
      case 2:
        run_rows<2, MaxRows, Pick>(a, lda, rows, first, kpad, out);
        break;
      case 3:
        if constexpr (MaxPanels >= 3) run_rows<3, MaxRows, Pick>(a, lda, rows, first, kpad, out);
        break;
      default:
        if constexpr (MaxPanels >= 4) run_rows<4, MaxRows, Pick>(a, lda, rows, first, kpad, out);
        break;
    }
  }
}

}  // namespace

void avx512_vnni_sums(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels,
                      int64_t panels_count, int64_t kpad, int32_t* sums) {
  sums_by_tiles<Pick512, 4, 4>(a, lda, rows, panels, panels_count, kpad, sums);
}

void avx_vnni_sums(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels,
                   int64_t panels_count, int64_t kpad, int32_t* sums) {
  sums_by_tiles<Pick256, 3, 2>(a, lda, rows, panels, panels_count, kpad, sums);
}

}  // namespace lstm::int8

#endif
