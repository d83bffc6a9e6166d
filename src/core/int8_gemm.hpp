// int8 products for inference (--precision int8): C (+)= A Wᵀ with W quantized once to signed
// 8 bits per output row, A quantized at run time to unsigned 8 bits per row, exact int32 sums,
// and the result turned back to float before anything else touches it.
//
// The scheme (the README's "int8 inference" section has it with its formulas):
//   W[n, :]  ≈ sw[n] · qw[n, :],        sw[n] = max|W[n, :]| / 127,  qw ∈ [-127, 127]
//   A[r, :]  ≈ sa[r] · (qa[r, :] − za[r]),  sa[r] = (hi − lo) / 255 with lo = min(0, min A[r, :])
//            and hi = max(0, max A[r, :]),  za[r] = round(−lo / sa[r]),  qa ∈ [0, 255]
//   C[r, n]  = sa[r] · sw[n] · (Σ_k qa[r, k] qw[n, k] − za[r] Σ_k qw[n, k])
// One scheme on every path: VPDPBUSD (AVX512-VNNI, AVX-VNNI) and TDPBUSD (AMX-INT8) multiply
// unsigned by signed bytes, the portable path does the same sums in plain C++.
//
// Packed layout: the rows of each block of W (a gate) in panels of 16; a panel is
// [kpad/4][16][4] bytes — for each group of 4 depths, the 16 rows' 4 bytes — which is what one
// VPDPBUSD reads per 512-bit register and what AMX reads as a B tile (16 groups × 64 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lstm::int8 {

constexpr int64_t kPanel = 16;       // output columns (rows of W) per panel
constexpr int64_t kDepthStep = 64;   // depths pad to whole AMX tile rows of 64 bytes
constexpr int64_t kMaxDepth = 65536; // keeps every int32 sum exact: 255 · 127 · 65536 < 2^31

inline int64_t padded_depth(int64_t k) { return (k + kDepthStep - 1) / kDepthStep * kDepthStep; }

// Which kernel computes the sums: chosen from the path in force (lstm/isa.hpp) and the CPU.
enum class Kernel { portable, avx_vnni, avx512_vnni, amx };
Kernel active_kernel();
const char* kernel_name(Kernel kernel);

// W [blocks*rows_per_block, k] quantized and packed, with each row's scale and Σ_k qw.
class Weights {
 public:
  // Sizes the buffers (allocating only when they must grow); then quantize() fills them.
  void shape(int64_t blocks, int64_t rows_per_block, int64_t k);
  // Quantizes rows [unit_begin, unit_end) of every block of W (leading dimension ldw); threads
  // may quantize disjoint ranges concurrently. Non-finite weights give a NaN scale.
  void quantize(const float* w, int64_t ldw, int64_t unit_begin, int64_t unit_end);

  int64_t blocks() const { return blocks_; }
  int64_t rows_per_block() const { return rows_per_block_; }
  int64_t depth() const { return k_; }
  int64_t padded_depth() const { return kpad_; }
  int64_t panels_per_block() const { return panels_per_block_; }
  // Panel p of block b, and the scales and sums of its 16 rows.
  const int8_t* panel(int64_t b, int64_t p) const {
    return data_.data() + (b * panels_per_block_ + p) * kPanel * kpad_;
  }
  const float* scales(int64_t b, int64_t p) const { return scale_.data() + (b * panels_per_block_ + p) * kPanel; }
  const int32_t* sums(int64_t b, int64_t p) const { return sum_.data() + (b * panels_per_block_ + p) * kPanel; }
  size_t bytes() const { return data_.size() + (scale_.size() + sum_.size()) * 4; }

 private:
  int64_t blocks_ = 0, rows_per_block_ = 0, k_ = 0, kpad_ = 0, panels_per_block_ = 0;
  std::vector<int8_t> data_;    // [blocks, panels_per_block, kpad/4, 16, 4], zero-padded
  std::vector<float> scale_;    // [blocks, panels_per_block*16] sw
  std::vector<int32_t> sum_;    // [blocks, panels_per_block*16] Σ_k qw
};

// Rows of A quantized to unsigned bytes, each with its scale and zero point.
class Rows {
 public:
  // Sizes the buffers for A [m, k] (allocating only when they must grow).
  void shape(int64_t m, int64_t k);
  // Quantizes rows [r0, r1) of A (leading dimension lda; `a` points at row 0). Threads may
  // quantize disjoint ranges concurrently. A row with a non-finite value gets a NaN scale, so
  // that its products are NaN, as in float.
  void quantize(int64_t r0, int64_t r1, const float* a, int64_t lda);

  int64_t rows() const { return m_; }
  int64_t padded_depth() const { return kpad_; }
  const uint8_t* row(int64_t r) const { return data_.data() + r * kpad_; }
  const float* scales() const { return scale_.data(); }
  const int32_t* zero_points() const { return zero_.data(); }

 private:
  int64_t m_ = 0, k_ = 0, kpad_ = 0;
  std::vector<uint8_t> data_;  // [m + kRowBlock, kpad], zero-padded: tiles may read 16 rows past m
  std::vector<float> scale_;   // [m] sa
  std::vector<int32_t> zero_;  // [m] za
};

// The quantization of one value by a row's inverse scale (255 / (hi − lo) for A, 127 / max|W|
// for W): round to nearest, ties to even, then clamp. Shared with the tests' reference.
int32_t quantize_value(float x, float inverse_scale, int32_t zero_point, int32_t low, int32_t high);

// C[r, b*rows_per_block + j] (+)= the dequantized product of A's rows [r0, r1) (C's row r is
// A's row r − r0) with every block b's rows j in [unit_begin, unit_end) of W; unit_begin must be
// a multiple of kPanel. With `bias` ([blocks*rows_per_block]) and not `accumulate`, C = bias + the
// product, in one pass.
void multiply(const Rows& a, int64_t r0, int64_t r1, const Weights& w, float* c, int64_t ldc, int64_t unit_begin,
              int64_t unit_end, bool accumulate, const float* bias = nullptr);

// Keeps the AMX tiles configured on this thread while alive, when the int8 kernel is AMX and a
// product of `rows` rows uses it (8 rows or more): a time loop holds one around all of its steps,
// and the products inside (multiply) then neither load the configuration nor release the tiles
// again. Scopes nest.
class AmxScope {
 public:
  explicit AmxScope(int64_t rows);
  ~AmxScope();
  AmxScope(const AmxScope&) = delete;
  AmxScope& operator=(const AmxScope&) = delete;

 private:
  bool on_;
};

// The kernels' common form: sums [rows, panels*16] (leading dimension 64) = Σ_k qa qw for
// `rows` ≤ 32 rows of A (leading dimension lda bytes) and `panels` ≤ 4 consecutive panels.
using SumKernel = void (*)(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels, int64_t panels_count,
                           int64_t kpad, int32_t* sums);
constexpr int64_t kRowBlock = 32, kPanelBlock = 4, kSumsLd = kPanelBlock * kPanel;
void portable_sums(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels, int64_t panels_count,
                   int64_t kpad, int32_t* sums);
void avx512_vnni_sums(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels, int64_t panels_count,
                      int64_t kpad, int32_t* sums);
void avx_vnni_sums(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels, int64_t panels_count,
                   int64_t kpad, int32_t* sums);
// amx_sums needs the tiles configured on the calling thread: amx_configure() before (once for
// many calls: it costs about as much as a small tile product), amx_release() after.
void amx_sums(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels, int64_t panels_count, int64_t kpad,
              int32_t* sums);
void amx_configure();
void amx_release();

// The vector work around the sums, compiled once per path (int8_rows.cpp): one row of A
// quantized (out [k] bytes, its scale and zero point), and sums [rows, width] (leading dimension
// sums_ld) turned into C [rows, width] (leading dimension ldc), added to C or to `bias` [width]
// (or to nothing, when null).
struct RowKernels {
  void (*quantize_row)(const float* x, int64_t k, uint8_t* out, float* scale, int32_t* zero);
  void (*dequantize)(const int32_t* sums, int64_t sums_ld, int64_t rows, int64_t width, const float* scale_a,
                     const int32_t* zero_a, const float* scale_w, const int32_t* sum_w, float* c, int64_t ldc,
                     bool accumulate, const float* bias);
};
RowKernels row_kernels();  // the active path's

}  // namespace lstm::int8

namespace lstm {
#define LSTM_INT8_ENTRY_POINTS int8::RowKernels int8_row_kernels();
namespace scalar { LSTM_INT8_ENTRY_POINTS }
namespace avx2 { LSTM_INT8_ENTRY_POINTS }
namespace avx512 { LSTM_INT8_ENTRY_POINTS }
#undef LSTM_INT8_ENTRY_POINTS
}  // namespace lstm

namespace lstm::int8 {

}  // namespace lstm::int8
