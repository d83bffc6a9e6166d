// int8 quantization of weights and activations, the portable sums, and the dequantizing product
// (core/int8_gemm.hpp has the scheme).
#include "core/int8_gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/isa_internal.hpp"

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
  for (int64_t r = r0; r < r1; ++r) {
    const float* x = a + r * lda;
    float lo = 0.0f, hi = 0.0f;
    bool nan = false;
    for (int64_t k = 0; k < k_; ++k) {
      lo = std::min(lo, x[k]);
      hi = std::max(hi, x[k]);
      nan = nan || std::isnan(x[k]);
    }
    uint8_t* out = data_.data() + r * kpad_;
    const float range = hi - lo;
    if (nan || !std::isfinite(range) || range == 0.0f) {
      // All zeros, or not a number: every byte 0, and a scale that makes the products 0 (NaN).
      std::memset(out, 0, static_cast<size_t>(kpad_));
      scale_[static_cast<size_t>(r)] = range == 0.0f && !nan ? 0.0f : std::numeric_limits<float>::quiet_NaN();
      zero_[static_cast<size_t>(r)] = 0;
      continue;
    }
    const float inverse = 255.0f / range;
    const int32_t zero = quantize_value(-lo, inverse, 0, 0, 255);
    for (int64_t k = 0; k < k_; ++k) out[k] = static_cast<uint8_t>(quantize_value(x[k], inverse, zero, 0, 255));
    scale_[static_cast<size_t>(r)] = range / 255.0f;
    zero_[static_cast<size_t>(r)] = zero;
  }
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

}  // namespace

void multiply(const Rows& a, int64_t r0, int64_t r1, const Weights& w, float* c, int64_t ldc, int64_t unit_begin,
              int64_t unit_end, bool accumulate) {
  const SumKernel sums_of = sum_kernel(active_kernel());
  alignas(64) int32_t sums[kRowBlock * kSumsLd];
  const int64_t first_panel = unit_begin / kPanel, end_panel = (unit_end + kPanel - 1) / kPanel;
  for (int64_t b = 0; b < w.blocks(); ++b)
    for (int64_t p = first_panel; p < end_panel; p += kPanelBlock) {
      const int64_t panels = std::min(kPanelBlock, end_panel - p);
      for (int64_t row = r0; row < r1; row += kRowBlock) {
        const int64_t rows = std::min(kRowBlock, r1 - row);
        sums_of(a.row(row), a.padded_depth(), rows, w.panel(b, p), panels, w.padded_depth(), sums);
        // Dequantize: sa · sw · (Σ qa qw − za Σ qw), for the columns inside [unit_begin, unit_end).
        const int64_t j0 = p * kPanel, j1 = std::min(unit_end, (p + panels) * kPanel);
        const float* scale_w = w.scales(b, p);
        const int32_t* sum_w = w.sums(b, p);
        for (int64_t r = 0; r < rows; ++r) {
          const float scale_a = a.scale(row + r);
          const int32_t zero = a.zero_point(row + r);
          const int32_t* s = sums + r * kSumsLd;
          float* out = c + (row + r - r0) * ldc + b * w.rows_per_block();
          for (int64_t j = j0; j < j1; ++j) {
            const int64_t i = j - j0;
            // |Σ (qa − za) qw| ≤ 255 · 127 · k fits an int32; the two terms alone need not.
            const int64_t exact = int64_t{s[i]} - int64_t{zero} * sum_w[i];
            const float value = scale_a * scale_w[i] * static_cast<float>(exact);
            out[j] = accumulate ? out[j] + value : value;
          }
        }
      }
    }
}

}  // namespace lstm::int8
