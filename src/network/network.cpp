// Network: owns the configuration, the parameter layout and the flat parameter buffer.
#include <algorithm>
#include <atomic>
#include <cmath>

#include "core/random.hpp"
#include "lstm/error.hpp"
#include "lstm/network.hpp"

namespace lstm {

template <typename T>
Network<T>::Network(const NetworkConfig& config)
    : config_(config), layout_(parameter_layout(config)) {
  const ParameterInfo& last = layout_.back();
  parameters_.assign(static_cast<size_t>(last.offset + last.numel), T(0));
  weights_changed();
}

template <typename T>
void Network<T>::weights_changed() {
  static std::atomic<uint64_t> next_version{1};
  weights_version_ = next_version.fetch_add(1, std::memory_order_relaxed);
}

template <typename T>
const ParameterInfo* Network<T>::find_parameter(std::string_view name) const {
  for (const ParameterInfo& info : layout_)
    if (info.name == name) return &info;
  return nullptr;
}

template <typename T>
std::span<T> Network<T>::parameter(std::string_view name) {
  const ParameterInfo* info = find_parameter(name);
  if (!info) throw Error("network has no parameter '" + std::string(name) + "'");
  weights_changed();
  return std::span<T>(parameters_).subspan(info->offset, info->numel);
}

template <typename T>
std::span<const T> Network<T>::parameter(std::string_view name) const {
  const ParameterInfo* info = find_parameter(name);
  if (!info) throw Error("network has no parameter '" + std::string(name) + "'");
  return std::span<const T>(parameters_).subspan(info->offset, info->numel);
}

template <typename T>
void Network<T>::init_uniform(uint64_t seed) {
  weights_changed();
  const double bound = 1.0 / std::sqrt(static_cast<double>(config_.hidden_size));
  for (size_t k = 0; k < parameters_.size(); ++k)
    parameters_[k] = static_cast<T>((2.0 * uniform01(seed, k) - 1.0) * bound);
  // Layer normalisation starts as the identity map: gains 1, biases 0 (as torch.nn.LayerNorm).
  for (const ParameterInfo& info : layout_) {
    const bool gain = info.name.starts_with("weight_ln_"), bias = info.name.starts_with("bias_ln_");
    if (gain || bias)
      std::fill_n(parameters_.begin() + info.offset, info.numel, gain ? T(1) : T(0));
    if (info.name.starts_with("bias_highway_"))  // highway gates start mostly carrying
      std::fill_n(parameters_.begin() + info.offset, info.numel, static_cast<T>(kHighwayInitialBias));
  }
}

template class Network<float>;
template class Network<double>;

}  // namespace lstm
