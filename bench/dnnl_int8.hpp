// oneDNN's u8s8 RNN quantization for dnnl_rnn_bench --precision int8, set up as oneDNN's cpu_rnn_inference_int8 example.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace dnnl_int8 {

using dnnl::memory;

// Layer data and h states: u8 = round(scale · x + shift). Values in [-1, 1] (tanh outputs, the
// benchmark's uniform input) land in [1, 127]: 7 bits, as oneDNN's example uses (63, 64), which
// keeps VPMADDUBSW's pairwise int16 sums from saturating on CPUs without VNNI.
constexpr float kDataScale = 63.0f, kDataShift = 64.0f;

// Weights: s8 = round(scale[g, o] · w), one scale per output row (gate g, unit o) with
// scale = 127 / max |w| over that row of W_ih and of W_hh together (oneDNN shares one scale per row
// between weights_layer and weights_iter; lstm keeps separate ones). All-zero rows get scale 1.
// `layer`: [I, G, H] and `iter`: [H, G, H] in ldigo order (f32); returns [G·H] scales, g-major.
inline std::vector<float> row_scales(const float* layer, const float* iter, memory::dim input, memory::dim hidden,
                                     memory::dim gates) {
  const memory::dim rows = gates * hidden; // (g, o) flattened: ldigo's last two axes
  std::vector<float> max_abs(static_cast<size_t>(rows), 0.0f);
  for (memory::dim i = 0; i < input; ++i)
    for (memory::dim r = 0; r < rows; ++r) max_abs[r] = std::max(max_abs[r], std::fabs(layer[i * rows + r]));
  for (memory::dim i = 0; i < hidden; ++i)
    for (memory::dim r = 0; r < rows; ++r) max_abs[r] = std::max(max_abs[r], std::fabs(iter[i * rows + r]));
  std::vector<float> scales(max_abs.size());
  for (size_t r = 0; r < scales.size(); ++r) scales[r] = max_abs[r] > 0 ? 127.0f / max_abs[r] : 1.0f;
  return scales;
}

// Mask of the per-row scales over the weights' logical dims (l, d, i, g, o): one scale per g and o.
constexpr int kPerRowMask = (1 << 3) | (1 << 4);

// The attributes of the int8 primitive and of the reorders that quantize its weights.
inline dnnl::primitive_attr attributes(const std::vector<float>& weight_scales) {
  dnnl::primitive_attr attr;
  attr.set_rnn_data_qparams(kDataScale, kDataShift);
  attr.set_rnn_weights_qparams(kPerRowMask, weight_scales);
  return attr;
}

// f32 `src` (plain) into a new u8 memory of the same dims and tag: u8 = clamp(round(scale · x + shift)).
inline memory quantized_data(const memory& src, memory::format_tag tag, const dnnl::engine& eng) {
  const memory::desc& md = src.get_desc();
  memory dst(memory::desc(md.dims(), memory::data_type::u8, tag), eng);
  const size_t n = md.get_size() / sizeof(float);
  const float* x = static_cast<const float*>(src.get_data_handle());
  auto* q = static_cast<std::uint8_t*>(dst.get_data_handle());
  for (size_t k = 0; k < n; ++k)
    q[k] = static_cast<std::uint8_t>(std::clamp(std::nearbyint(kDataScale * x[k] + kDataShift), 0.0f, 255.0f));
  return dst;
}

// Largest |a − b| over two f32 memories of the same plain layout.
inline double max_abs_difference(const memory& a, const memory& b) {
  const size_t n = a.get_desc().get_size() / sizeof(float);
  const float* pa = static_cast<const float*>(a.get_data_handle());
  const float* pb = static_cast<const float*>(b.get_data_handle());
  double worst = 0;
  for (size_t k = 0; k < n; ++k) worst = std::max(worst, std::fabs(static_cast<double>(pa[k]) - pb[k]));
  return worst;
}

} // namespace dnnl_int8
