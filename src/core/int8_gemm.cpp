// int8 quantization of weights and activations, the portable sums, and the dequantizing product
// (core/int8_gemm.hpp has the scheme).
#include "core/int8_gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/isa_internal.hpp"
#include "lstm/precision.hpp"

namespace lstm {

const char* int8_kernel_name() { return int8::kernel_name(int8::active_kernel()); }

ParameterBytes parameter_bytes(const NetworkConfig& config) {
  ParameterBytes bytes;
  for (const ParameterInfo& info : parameter_layout(config)) {
    bytes.fp32 += 4 * info.numel;
    const bool matrix = info.name.starts_with("weight_ih") || info.name.starts_with("weight_hh") ||
                        info.name.starts_with("weight_hr") || info.name.starts_with("weight_highway");
    bytes.int8 += matrix ? info.numel + 8 * info.shape[0] : 4 * info.numel;
  }
  return bytes;
}

}  // namespace lstm

namespace lstm::int8 {

const char* kernel_name(Kernel kernel) {
  switch (kernel) {
    case Kernel::portable: return "portable";
    case Kernel::avx_vnni: return "avx_vnni";
    case Kernel::avx512_vnni: return "avx512_vnni";
    case Kernel::amx: return "amx_int8";
  }
  return "?";
}

Kernel active_kernel() {
  static const Kernel kernel = [] {
    const Isa isa = active_isa();
    if (isa == Isa::amx && cpu_has_amx_int8()) return Kernel::amx;
    if (isa >= Isa::avx512 && cpu_has_avx512_vnni()) return Kernel::avx512_vnni;
    if (isa >= Isa::avx2 && cpu_has_avx_vnni()) return Kernel::avx_vnni;
    return Kernel::portable;
  }();
  return kernel;
}

RowKernels row_kernels() {
  static const RowKernels kernels = [] {
    switch (vector_path(active_isa())) {
      case VectorPath::avx512: return avx512::int8_row_kernels();
      case VectorPath::avx2: return avx2::int8_row_kernels();
      default: return scalar::int8_row_kernels();
    }
  }();
  return kernels;
}

int32_t quantize_value(float x, float inverse_scale, int32_t zero_point, int32_t low, int32_t high) {
  const float scaled = std::nearbyint(x * inverse_scale);
  const float clamped = std::min(std::max(scaled, static_cast<float>(low - zero_point)), static_cast<float>(high - zero_point));
  return static_cast<int32_t>(clamped) + zero_point;
}

void Weights::shape(int64_t blocks, int64_t rows_per_block, int64_t k) {
  blocks_ = blocks;
  rows_per_block_ = rows_per_block;
  k_ = k;
  kpad_ = int8::padded_depth(k);
  panels_per_block_ = (rows_per_block + kPanel - 1) / kPanel;
  const size_t rows = static_cast<size_t>(blocks * panels_per_block_ * kPanel);
  data_.assign(rows * static_cast<size_t>(kpad_), 0);
  scale_.assign(rows, 0.0f);
  sum_.assign(rows, 0);
}

void Weights::quantize(const float* w, int64_t ldw, int64_t unit_begin, int64_t unit_end) {
  for (int64_t b = 0; b < blocks_; ++b)
    for (int64_t j = unit_begin; j < unit_end; ++j) {
      const float* row = w + (b * rows_per_block_ + j) * ldw;
      float largest = 0.0f;
      bool finite = true;
      for (int64_t k = 0; k < k_; ++k) {
        finite = finite && std::isfinite(row[k]);
        largest = std::max(largest, std::fabs(row[k]));
      }
      int8_t* panel = data_.data() + (b * panels_per_block_ + j / kPanel) * kPanel * kpad_;
      const int64_t lane = j % kPanel;
      const size_t index = static_cast<size_t>((b * panels_per_block_ + j / kPanel) * kPanel + lane);
      int32_t sum = 0;
      if (finite && largest > 0.0f) {
        const float inverse = 127.0f / largest;
        for (int64_t k = 0; k < k_; ++k) {
          const int32_t q = quantize_value(row[k], inverse, 0, -127, 127);
          panel[(k / 4) * kPanel * 4 + lane * 4 + k % 4] = static_cast<int8_t>(q);
          sum += q;
        }
      }
      scale_[index] = !finite ? std::numeric_limits<float>::quiet_NaN() : largest / 127.0f;
      sum_[index] = sum;
    }
}

void Rows::shape(int64_t m, int64_t k) {
  m_ = m;
  k_ = k;
  kpad_ = int8::padded_depth(k);
  const size_t bytes = static_cast<size_t>((m + kRowBlock) * kpad_);
  if (data_.size() < bytes) data_.assign(bytes, 0);
  scale_.resize(static_cast<size_t>(m));
  zero_.resize(static_cast<size_t>(m));
}

void Rows::quantize(int64_t r0, int64_t r1, const float* a, int64_t lda) {
  const RowKernels kernels = row_kernels();
  for (int64_t r = r0; r < r1; ++r)
    kernels.quantize_row(a + r * lda, k_, data_.data() + r * kpad_, &scale_[static_cast<size_t>(r)],
                         &zero_[static_cast<size_t>(r)]);
}

void portable_sums(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panels, int64_t panels_count,
                   int64_t kpad, int32_t* sums) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = 0; p < panels_count; ++p) {
      const int8_t* panel = panels + p * kPanel * kpad;
      int32_t* out = sums + r * kSumsLd + p * kPanel;
      std::fill(out, out + kPanel, 0);
      for (int64_t group = 0; group < kpad / 4; ++group)
        for (int64_t lane = 0; lane < kPanel; ++lane)
          for (int64_t q = 0; q < 4; ++q)
            out[lane] += int32_t{a[r * lda + group * 4 + q]} * int32_t{panel[(group * kPanel + lane) * 4 + q]};
    }
}

namespace {

constexpr int64_t kAmxMinRows = 8;

SumKernel sum_kernel(Kernel kernel) {
  switch (kernel) {
#if defined(__x86_64__)
    case Kernel::amx: return amx_sums;
    case Kernel::avx512_vnni: return avx512_vnni_sums;
    case Kernel::avx_vnni: return avx_vnni_sums;
#endif
    default: return portable_sums;
  }
}

thread_local int amx_scopes = 0;  // AmxScopes alive on this thread

}  // namespace

AmxScope::AmxScope(int64_t rows) : on_(active_kernel() == Kernel::amx && rows >= kAmxMinRows) {
#if defined(__x86_64__)
  if (on_ && amx_scopes++ == 0) amx_configure();
#endif
}

AmxScope::~AmxScope() {
#if defined(__x86_64__)
  if (on_ && --amx_scopes == 0) amx_release();
#endif
}

void multiply(const Rows& a, int64_t r0, int64_t r1, const Weights& w, float* c, int64_t ldc, int64_t unit_begin,
              int64_t unit_end, bool accumulate, const float* bias) {
  // A tile always computes 16 rows: for a few rows (small batches) the vector units are faster
  // (lstm 1024/1024/1/25: 5× here). Every AMX CPU has AVX512-VNNI.
  const Kernel kernel = active_kernel();
  const Kernel chosen = kernel == Kernel::amx && r1 - r0 < kAmxMinRows ? Kernel::avx512_vnni : kernel;
  const SumKernel sums_of = sum_kernel(chosen);
  const RowKernels kernels = row_kernels();
  const AmxScope tiles(r1 - r0);  // configured once for the whole product, unless it already is
  alignas(64) int32_t sums[kRowBlock * kSumsLd];
  const int64_t first_panel = unit_begin / kPanel, end_panel = (unit_end + kPanel - 1) / kPanel;
  // Rows outermost: a block of A stays in L1 while the weights stream from L2 (for the input part
  // over every step, 3200 rows × 2048 × 512: 240 → 650 GMAC/s on AMX here), and C is written
  // row block by row block.
  for (int64_t row = r0; row < r1; row += kRowBlock) {
    const int64_t rows = std::min(kRowBlock, r1 - row);
    for (int64_t b = 0; b < w.blocks(); ++b)
      for (int64_t p = first_panel; p < end_panel; p += kPanelBlock) {
        const int64_t panels = std::min(kPanelBlock, end_panel - p);
        sums_of(a.row(row), a.padded_depth(), rows, w.panel(b, p), panels, w.padded_depth(), sums);
        const int64_t j0 = p * kPanel, j1 = std::min(unit_end, (p + panels) * kPanel);
        kernels.dequantize(sums, kSumsLd, rows, j1 - j0, a.scales() + row, a.zero_points() + row, w.scales(b, p),
                           w.sums(b, p), c + (row - r0) * ldc + b * w.rows_per_block() + j0, ldc, accumulate,
                           bias ? bias + b * w.rows_per_block() + j0 : nullptr);
      }
    }
}

}  // namespace lstm::int8
