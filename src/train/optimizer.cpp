// Optimisers (SGD with momentum/Nesterov, Adam, AdamW) with PyTorch 1.13's update rules in
// float32, their exportable state, and gradient-norm clipping.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "core/thread_team.hpp"
#include "core/vector_kernels.hpp"
#include "lstm/error.hpp"
#include "lstm/train.hpp"
#include "train/names.hpp"

namespace lstm {
namespace {

// Below this many values a thread, stepping on one thread is faster than waking the team.
constexpr int64_t kElementsPerThread = 1 << 16;

[[noreturn]] void optimizer_error(const std::string& what) {
  throw Error("optimizer: " + what);
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

// The state buffers' names: PyTorch's keys in optimizer.state[p].
std::vector<std::string> buffer_names(const OptimizerConfig& config) {
  if (config.kind != OptimizerKind::sgd) return {"exp_avg", "exp_avg_sq"};
  if (config.momentum != 0) return {"momentum_buffer"};
  return {};
}

// SGD on one tensor: p [n], g [n], buf [n] (PyTorch's momentum_buffer).
void sgd_update(const OptimizerConfig& c, bool first_step, float lr, float* p, const float* g,
                float* buf, size_t n) {
  const float wd = static_cast<float>(c.weight_decay), momentum = static_cast<float>(c.momentum);
  const float keep = static_cast<float>(1.0 - c.dampening);
  for (size_t k = 0; k < n; ++k) {
    float d = g[k];
    if (c.weight_decay != 0) d = d + wd * p[k];
    if (c.momentum != 0) {
      buf[k] = first_step ? d : buf[k] * momentum + keep * d;  // buf = g on the first step
      d = c.nesterov ? d + momentum * buf[k] : buf[k];
    }
    p[k] = p[k] + (-lr) * d;
  }
}

// Adam/AdamW at step t (1-based): the constants of the update, which the vector kernel applies
// to each tensor (core/vector_kernels.hpp).
AdamStep<float> adam_step(const OptimizerConfig& c, int64_t t, double lr) {
  const bool decoupled = c.kind == OptimizerKind::adamw;
  AdamStep<float> step;
  if (decoupled && c.weight_decay != 0) step.decay = static_cast<float>(1.0 - lr * c.weight_decay);
  if (!decoupled) step.l2 = static_cast<float>(c.weight_decay);
  step.beta1 = static_cast<float>(c.beta1);
  step.beta2 = static_cast<float>(c.beta2);
  step.one_minus_beta1 = static_cast<float>(1.0 - c.beta1);
  step.one_minus_beta2 = static_cast<float>(1.0 - c.beta2);
  const double correction1 = 1.0 - std::pow(c.beta1, static_cast<double>(t));
  const double correction2 = 1.0 - std::pow(c.beta2, static_cast<double>(t));
  step.step_size = static_cast<float>(-(lr / correction1));
  step.correction2_sqrt = static_cast<float>(std::sqrt(correction2));
  step.eps = static_cast<float>(c.eps);
  return step;
}

}  // namespace

constexpr detail::NameTable<OptimizerKind, 3> kOptimizerNames = {
    {OptimizerKind::sgd, "sgd"}, {OptimizerKind::adam, "adam"}, {OptimizerKind::adamw, "adamw"}};

std::string_view optimizer_name(OptimizerKind kind) {
  return detail::name_of(kOptimizerNames, kind);
}
OptimizerKind parse_optimizer(std::string_view name) {
  return detail::parse_name(kOptimizerNames, name, "optimizer");
}

void OptimizerConfig::validate() const {
  auto check = [](bool ok, const std::string& what) {
    if (!ok) optimizer_error(what);
  };
  check(weight_decay >= 0 && std::isfinite(weight_decay),
        "weight_decay must be >= 0, got " + number(weight_decay));
  check(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got " + number(momentum));
  check(dampening >= 0 && dampening <= 1, "dampening must be in [0, 1], got " + number(dampening));
  check(!nesterov || (momentum > 0 && dampening == 0),
        "nesterov needs momentum > 0 and dampening 0");
  check(beta1 >= 0 && beta1 < 1, "beta1 must be in [0, 1), got " + number(beta1));
  check(beta2 >= 0 && beta2 < 1, "beta2 must be in [0, 1), got " + number(beta2));
  check(eps >= 0 && std::isfinite(eps), "eps must be >= 0, got " + number(eps));
}

Optimizer::Optimizer(const OptimizerConfig& config, std::span<const ParameterView> parameters)
    : config_(config) {
  config_.validate();
  int64_t offset = 0;
  for (const ParameterView& view : parameters) {
    if (view.value.size() != view.grad.size())
      optimizer_error("parameter '" + view.name + "' has value and gradient of different sizes");
    const auto numel = static_cast<int64_t>(view.value.size());
    slots_.push_back({view.name, view.shape, offset, numel});
    offset += numel;
  }
  reset_state();
}

void Optimizer::reset_state() {
  const size_t total =
      slots_.empty() ? 0 : static_cast<size_t>(slots_.back().offset + slots_.back().numel);
  const size_t buffers = buffer_names(config_).size();
  first_.assign(buffers >= 1 ? total : 0, 0.0f);
  second_.assign(buffers == 2 ? total : 0, 0.0f);
  step_count_ = 0;
}

void Optimizer::step(std::span<const ParameterView> parameters, double lr) {
  if (parameters.size() != slots_.size())
    optimizer_error("built for " + std::to_string(slots_.size()) + " parameters, stepped with " +
                    std::to_string(parameters.size()));
  for (size_t k = 0; k < slots_.size(); ++k)
    if (parameters[k].name != slots_[k].name ||
        parameters[k].value.size() != static_cast<size_t>(slots_[k].numel) ||
        parameters[k].grad.size() != parameters[k].value.size())
      optimizer_error("parameter " + std::to_string(k) + " ('" + parameters[k].name +
                      "') is not the one the optimizer was built for ('" + slots_[k].name + "')");
  const VectorKernels<float>& kernels = chosen_vector_kernels<float>();
  const AdamStep<float> adam = adam_step(config_, step_count_ + 1, lr);
  // Each thread of the library's team steps its share of every tensor: the update is elementwise,
  // so the result does not depend on the split. Small models stay on this thread.
  const int64_t total = slots_.empty() ? 0 : slots_.back().offset + slots_.back().numel;
  ThreadTeam& team = thread_team();
  const int threads = static_cast<int>(std::clamp<int64_t>(total / kElementsPerThread, 1, team.size()));
  auto update = [&](int index, int count) {
    for (size_t k = 0; k < slots_.size(); ++k) {
      const ParameterView& view = parameters[k];
      const auto [begin, end] = split_range(slots_[k].numel, count, index, 16);
      if (begin >= end) continue;
      const size_t offset = static_cast<size_t>(slots_[k].offset + begin), n = static_cast<size_t>(end - begin);
      float* first = first_.empty() ? nullptr : first_.data() + offset;
      float* value = view.value.data() + begin;
      const float* grad = view.grad.data() + begin;
      if (config_.kind == OptimizerKind::sgd) {
        sgd_update(config_, step_count_ == 0, static_cast<float>(lr), value, grad, first, n);
        continue;
      }
      AdamStep<float> part = adam;
      part.p = value;
      part.g = grad;
      part.m = first;
      part.v = second_.data() + offset;
      part.n = static_cast<int64_t>(n);
      kernels.adam(part);
    }
  };
  if (threads > 1) team.run(threads, update);
  else update(0, 1);
  ++step_count_;
}

OptimizerState Optimizer::state() const {
  OptimizerState state{config_, step_count_, {}};
  const std::vector<std::string> names = buffer_names(config_);
  for (size_t b = 0; b < names.size(); ++b) {
    const std::vector<float>& buffer = b == 0 ? first_ : second_;
    for (const Slot& slot : slots_) {
      const auto begin = buffer.begin() + slot.offset;
      state.tensors.emplace_back(names[b] + "." + slot.name,
                                 HostTensor{slot.shape, {begin, begin + slot.numel}});
    }
  }
  return state;
}

void Optimizer::load_state(const OptimizerState& state, const std::string& source) {
  auto fail = [&](const std::string& what) { throw Error(source + ": optimizer state: " + what); };
  if (state.config.kind != config_.kind)
    fail("is for " + std::string(optimizer_name(state.config.kind)) + ", not " +
         std::string(optimizer_name(config_.kind)));
  try {
    state.config.validate();
  } catch (const Error& error) {
    fail(error.what());
  }
  if (state.step_count < 0) fail("negative step count");
  const std::vector<std::string> names = buffer_names(state.config);
  if (state.tensors.size() != names.size() * slots_.size())
    fail("has " + std::to_string(state.tensors.size()) + " tensors, expected " +
         std::to_string(names.size() * slots_.size()));
  // Find and check every tensor (in any order) before changing anything.
  std::vector<const HostTensor*> found;
  for (const std::string& buffer : names)
    for (const Slot& slot : slots_) {
      const std::string name = buffer + "." + slot.name;
      const auto match = std::find_if(state.tensors.begin(), state.tensors.end(),
                                      [&](const auto& item) { return item.first == name; });
      if (match == state.tensors.end()) fail("missing tensor '" + name + "'");
      if (match->second.shape != slot.shape ||
          match->second.data.size() != static_cast<size_t>(slot.numel))
        fail("tensor '" + name + "' does not have its parameter's shape");
      found.push_back(&match->second);
    }
  config_ = state.config;
  reset_state();
  step_count_ = state.step_count;
  for (size_t k = 0; k < found.size(); ++k) {
    const Slot& slot = slots_[k % slots_.size()];
    std::ranges::copy(found[k]->data, (k < slots_.size() ? first_ : second_).begin() + slot.offset);
  }
}

double clip_grad_norm(std::span<float> gradients, double max_norm) {
  if (!(max_norm >= 0))
    optimizer_error("clip_grad_norm: max_norm must be >= 0, got " + number(max_norm));
  double sum = 0.0;
  for (float g : gradients) sum += static_cast<double>(g) * static_cast<double>(g);
  const double norm = std::sqrt(sum);
  if (!std::isfinite(norm)) return norm;
  const double coefficient = max_norm / (norm + 1e-6);
  if (coefficient < 1.0) {
    const auto scale = static_cast<float>(coefficient);
    for (float& g : gradients) g *= scale;
  }
  return norm;
}

}  // namespace lstm
