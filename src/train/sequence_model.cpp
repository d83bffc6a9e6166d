// SequenceModel: [Embedding] → recurrent Network → Linear head; parameters, forward and backward.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "core/random.hpp"
#include "lstm/error.hpp"
#include "lstm/memory.hpp"
#include "lstm/train.hpp"
#include "train/heads.hpp"
#include "train/names.hpp"

namespace lstm {

// What a training forward keeps for backward, and backward's scratch. Vectors only grow.
struct SequenceModel::Buffers {
  Workspace<float> rnn;                // the network's own
  std::vector<int64_t> tokens;         // [T, B] the forward's token ids (embedding models)
  std::vector<float> embedded;         // [T, B, E] the embedding's output, the network's input
  std::vector<float> rnn_output;       // [T, B, Hcat]
  std::vector<float> h_n;              // [L*D, B, Hout]
  std::vector<float> features;         // [B, Hcat] last_step: the head's input
  std::vector<float> grad_rnn_output;  // [T, B, Hcat] every_step
  std::vector<float> grad_features;    // [B, Hcat] last_step
  std::vector<float> grad_h_n;         // [L*D, B, Hout] last_step
  std::vector<float> grad_embedded;    // [T, B, E] embedding models
  int64_t seq_len = 0;
  int64_t batch = 0;
  int64_t memory_checked_rows = 0;  // T·B up to which the buffers are known to fit in memory
  bool ready_for_backward = false;
};

namespace {

[[noreturn]] void model_error(const std::string& what) {
  throw Error("sequence model: " + what);
}

// Parameters of a model with this configuration (network, embedding, head).
uint64_t parameter_count(const SequenceModelConfig& config) {
  uint64_t count = 0;
  for (const ParameterInfo& info : parameter_layout(config.rnn))
    count += static_cast<uint64_t>(info.numel);
  const auto hcat = static_cast<uint64_t>(config.rnn.layer_output_size());
  const auto out = static_cast<uint64_t>(config.output_size);
  return count + static_cast<uint64_t>(config.vocab_size * config.rnn.input_size) + out * hcat +
         out;
}

// Valid, and its parameters and gradients (2 × 4 bytes each) fit in memory.
const SequenceModelConfig& validated(const SequenceModelConfig& config) {
  config.validate();
  const uint64_t count = parameter_count(config);
  require_memory(count * 8, "a model of " + std::to_string(count) + " parameters (" +
                                config.rnn.describe() + ")");
  return config;
}

size_t to_size(int64_t value) {
  return static_cast<size_t>(value);
}

}  // namespace

constexpr detail::NameTable<HeadMode, 2> kHeadModeNames = {{HeadMode::every_step, "every_step"},
                                                           {HeadMode::last_step, "last_step"}};

std::string_view head_mode_name(HeadMode mode) {
  return detail::name_of(kHeadModeNames, mode);
}
HeadMode parse_head_mode(std::string_view name) {
  return detail::parse_name(kHeadModeNames, name, "head mode");
}

void SequenceModelConfig::validate() const {
  rnn.validate();
  if (vocab_size < 0) model_error("vocabulary size must not be negative");
  if (output_size < 1)
    model_error("output size must be at least 1, got " + std::to_string(output_size));
  const int64_t limit = int64_t{1} << 24;
  if (vocab_size > limit || output_size > limit) model_error("sizes are implausibly large");
}

SequenceModel::SequenceModel(const SequenceModelConfig& config)
    : SequenceModel(config, Network<float>(validated(config).rnn)) {}

SequenceModel::SequenceModel(const SequenceModelConfig& config, Network<float> network)
    : config_(config), network_(std::move(network)), buffers_(std::make_unique<Buffers>()) {
  config_.rnn = network_.config();
  const int64_t hcat = config_.rnn.layer_output_size(), out = config_.output_size;
  const int64_t own = config_.vocab_size * config_.rnn.input_size + out * hcat + out;
  own_parameters_.assign(to_size(own), 0.0f);
  gradients_.assign(to_size(own + network_.num_parameters()), 0.0f);
}

SequenceModel::~SequenceModel() = default;
SequenceModel::SequenceModel(SequenceModel&&) noexcept = default;
SequenceModel& SequenceModel::operator=(SequenceModel&&) noexcept = default;

void SequenceModel::init(uint64_t seed) {
  network_.init_uniform(seed);
  const int64_t embedding = config_.vocab_size * config_.rnn.input_size;
  if (config_.vocab_size > 0)
    embedding_init(config_.vocab_size, config_.rnn.input_size, seed, own_parameters_.data());
  const int64_t hcat = config_.rnn.layer_output_size(), out = config_.output_size;
  float* head_weight = own_parameters_.data() + embedding;  // [O, Hcat]
  linear_init(hcat, out, seed, head_weight, head_weight + out * hcat);
}

namespace {

// Calls visit(forget_ih, forget_hh, input_ih, input_hh) with the forget and input gates' rows of
// bias_ih and bias_hh [H] in every layer and direction of an LSTM with bias, in that order. Gate
// order i, f, g, o; with coupled gates f, g, o and the input gate's rows are empty (i = 1 − f).
template <typename Visit>
void visit_gate_biases(Network<float>& network, const char* caller, Visit visit) {
  const NetworkConfig& rnn = network.config();
  if (rnn.cell != CellType::lstm || !rnn.bias)
    model_error(std::string(caller) + " needs an LSTM with bias tensors, not " + rnn.describe());
  const size_t hidden = to_size(rnn.hidden_size);
  const size_t forget_block = rnn.coupled_gates ? 0 : 1;
  for (int64_t layer = 0; layer < rnn.num_layers; ++layer)
    for (int64_t direction = 0; direction < rnn.directions(); ++direction) {
      const std::string suffix = std::to_string(layer) + (direction ? "_reverse" : "");
      const std::span<float> bias_ih = network.parameter("bias_ih_l" + suffix);
      const std::span<float> bias_hh = network.parameter("bias_hh_l" + suffix);
      const size_t input_rows = rnn.coupled_gates ? 0 : hidden;
      visit(bias_ih.subspan(forget_block * hidden, hidden),
            bias_hh.subspan(forget_block * hidden, hidden), bias_ih.first(input_rows),
            bias_hh.first(input_rows));
    }
}

}  // namespace

void SequenceModel::set_forget_bias(float value) {
  visit_gate_biases(network_, "set_forget_bias",
                    [value](std::span<float> forget_ih, std::span<float> forget_hh,
                            std::span<float>, std::span<float>) {
                      std::ranges::fill(forget_ih, value);
                      std::ranges::fill(forget_hh, 0.0f);
                    });
}

// Unit h of layer-direction k (in layout order) draws its bias from draw k·H + h of one stream,
// so that a one-layer LSTM keeps the biases `lstm experiment` always gave it.
void SequenceModel::set_chrono_forget_bias(int64_t seq_len, uint64_t seed) {
  const double longest = static_cast<double>(std::max<int64_t>(seq_len, 3)) - 1.0;
  const uint64_t stream = mix64(seed ^ 0xC4C0u);
  uint64_t draw = 0;
  visit_gate_biases(network_, "set_chrono_forget_bias",
                    [&](std::span<float> forget_ih, std::span<float> forget_hh,
                        std::span<float> input_ih, std::span<float> input_hh) {
                      for (size_t h = 0; h < forget_ih.size(); ++h, ++draw) {
                        const double bias = std::log(1.0 + uniform01(stream, draw) * (longest - 1));
                        forget_ih[h] = static_cast<float>(bias);
                        forget_hh[h] = 0.0f;
                        if (!input_ih.empty()) {
                          input_ih[h] = static_cast<float>(-bias);
                          input_hh[h] = 0.0f;
                        }
                      }
                    });
}

std::vector<ParameterView> SequenceModel::parameters() {
  std::vector<ParameterView> views;
  const std::span<float> own(own_parameters_), grads(gradients_);
  size_t own_offset = 0, grad_offset = 0;
  auto add_own = [&](std::string name, std::vector<int64_t> shape) {
    size_t numel = 1;
    for (int64_t extent : shape) numel *= to_size(extent);
    views.push_back({std::move(name), std::move(shape), own.subspan(own_offset, numel),
                     grads.subspan(grad_offset, numel)});
    own_offset += numel;
    grad_offset += numel;
  };
  if (config_.vocab_size > 0)
    add_own("embedding.weight", {config_.vocab_size, config_.rnn.input_size});
  const std::span<float> rnn = network_.parameters();
  for (const ParameterInfo& info : network_.layout())
    views.push_back({"rnn." + info.name, info.shape,
                     rnn.subspan(to_size(info.offset), to_size(info.numel)),
                     grads.subspan(grad_offset + to_size(info.offset), to_size(info.numel))});
  grad_offset += rnn.size();
  add_own("head.weight", {config_.output_size, config_.rnn.layer_output_size()});
  add_own("head.bias", {config_.output_size});
  return views;
}

std::span<float> SequenceModel::parameter(std::string_view name) {
  for (const ParameterView& view : parameters())
    if (view.name == name) return view.value;
  model_error("no parameter '" + std::string(name) + "'");
}

void SequenceModel::zero_grad() {
  std::ranges::fill(gradients_, 0.0f);
}

void SequenceModel::forward(Mode mode, const ModelForwardArgs& args) {
  Buffers& buf = *buffers_;
  buf.ready_for_backward = false;
  const int64_t T = args.seq_len, B = args.batch, V = config_.vocab_size;
  const int64_t E = config_.rnn.input_size, O = config_.output_size;
  const int64_t hcat = config_.rnn.layer_output_size(), hout = config_.rnn.output_size();
  const int64_t states = config_.rnn.num_layers * config_.rnn.directions();  // L*D
  if (T < 1 || B < 1) model_error("forward needs seq_len and batch of at least 1");
  if (!args.output) model_error("forward needs an output buffer");
  if (T * B > buf.memory_checked_rows) {
    // Floats per row of T·B: per layer and direction the gates, states and their gradients
    // (about 2G + 6 widths of H), the layers' outputs, the embedding and the head's output.
    const int64_t G = gate_count(config_.rnn);
    const double per_row = static_cast<double>(config_.rnn.num_layers) *
                               static_cast<double>(config_.rnn.directions()) *
                               static_cast<double>(config_.rnn.hidden_size * (2 * G + 6)) +
                           static_cast<double>(4 * hcat + 2 * E + 2 * O);
    const double bytes = 4.0 * per_row * static_cast<double>(T) * static_cast<double>(B);
    require_memory(bytes >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(bytes),
                   "a batch of " + std::to_string(B) + " sequences of " + std::to_string(T) +
                       " steps through " + config_.rnn.describe());
    buf.memory_checked_rows = T * B;
  }
  if (V > 0 && (!args.tokens || args.input))
    model_error("a model with an embedding takes token ids (tokens), not float input");
  if (V == 0 && (!args.input || args.tokens))
    model_error("a model without an embedding takes float input, not token ids");

  const float* rnn_input = args.input;  // [T, B, I]
  if (V > 0) {
    buf.tokens.assign(args.tokens, args.tokens + T * B);
    buf.embedded.resize(to_size(T * B * E));
    embedding_forward(T * B, V, E, args.tokens, own_parameters_.data(), buf.embedded.data());
    rnn_input = buf.embedded.data();
  }
  buf.rnn_output.resize(to_size(T * B * hcat));
  buf.h_n.resize(to_size(states * B * hout));
  ForwardArgs<float> rnn;
  rnn.seq_len = T;
  rnn.batch = B;
  rnn.input = rnn_input;
  rnn.lengths = args.lengths;
  rnn.h0 = args.h0;
  rnn.c0 = args.c0;
  rnn.output = buf.rnn_output.data();
  rnn.h_n = buf.h_n.data();
  rnn.c_n = args.c_n;
  rnn.dropout_seed = args.dropout_seed;
  network_.forward(mode, rnn, buf.rnn);
  if (args.h_n) std::ranges::copy(buf.h_n, args.h_n);

  const float* head_weight = own_parameters_.data() + V * E;  // [O, Hcat]
  const float* head_bias = head_weight + O * hcat;            // [O]
  if (config_.head_mode == HeadMode::every_step) {
    linear_forward(T * B, hcat, O, buf.rnn_output.data(), head_weight, head_bias, args.output);
  } else {
    // features [B, Hcat] = [h_n row (L-1)*D | row (L-1)*D + 1] of each sequence
    buf.features.resize(to_size(B * hcat));
    const int64_t D = config_.rnn.directions(), first = states - D;
    for (int64_t d = 0; d < D; ++d)
      for (int64_t b = 0; b < B; ++b) {
        const float* h = buf.h_n.data() + ((first + d) * B + b) * hout;
        std::copy(h, h + hout, buf.features.data() + b * hcat + d * hout);
      }
    linear_forward(B, hcat, O, buf.features.data(), head_weight, head_bias, args.output);
  }
  buf.seq_len = T;
  buf.batch = B;
  buf.ready_for_backward = mode == Mode::training;
}

void SequenceModel::backward(const ModelBackwardArgs& args) {
  Buffers& buf = *buffers_;
  if (!buf.ready_for_backward) model_error("backward needs a training-mode forward first");
  if (!args.grad_output) model_error("backward needs grad_output");
  if (args.grad_input && config_.vocab_size > 0)
    model_error("a model with an embedding has no float input to take a gradient for");
  const int64_t T = buf.seq_len, B = buf.batch, V = config_.vocab_size;
  const int64_t E = config_.rnn.input_size, O = config_.output_size;
  const int64_t hcat = config_.rnn.layer_output_size(), hout = config_.rnn.output_size();
  const int64_t states = config_.rnn.num_layers * config_.rnn.directions();  // L*D

  // Head: gradient layout [V*E | rnn | O*Hcat | O].
  const float* head_weight = own_parameters_.data() + V * E;
  float* grad_rnn = gradients_.data() + V * E;
  float* grad_head_weight = grad_rnn + network_.num_parameters();
  float* grad_head_bias = grad_head_weight + O * hcat;
  BackwardArgs<float> rnn;
  if (config_.head_mode == HeadMode::every_step) {
    buf.grad_rnn_output.resize(to_size(T * B * hcat));
    linear_backward(T * B, hcat, O, buf.rnn_output.data(), head_weight, args.grad_output,
                    buf.grad_rnn_output.data(), grad_head_weight, grad_head_bias);
    rnn.grad_output = buf.grad_rnn_output.data();
  } else {
    buf.grad_features.resize(to_size(B * hcat));
    linear_backward(B, hcat, O, buf.features.data(), head_weight, args.grad_output,
                    buf.grad_features.data(), grad_head_weight, grad_head_bias);
    // grad_h_n [L*D, B, Hout]: zero but for the last layer's rows, which the features came from.
    buf.grad_h_n.assign(to_size(states * B * hout), 0.0f);
    const int64_t D = config_.rnn.directions(), first = states - D;
    for (int64_t d = 0; d < D; ++d)
      for (int64_t b = 0; b < B; ++b) {
        const float* g = buf.grad_features.data() + b * hcat + d * hout;
        std::copy(g, g + hout, buf.grad_h_n.data() + ((first + d) * B + b) * hout);
      }
    rnn.grad_h_n = buf.grad_h_n.data();
  }

  rnn.grad_params = grad_rnn;
  rnn.grad_h0 = args.grad_h0;
  rnn.grad_c0 = args.grad_c0;
  if (V > 0) {
    buf.grad_embedded.resize(to_size(T * B * E));
    rnn.grad_input = buf.grad_embedded.data();
  } else {
    rnn.grad_input = args.grad_input;
  }
  network_.backward(rnn, buf.rnn);
  if (V > 0)
    embedding_backward(T * B, E, buf.tokens.data(), buf.grad_embedded.data(), gradients_.data());
}

ForwardRecord<float> SequenceModel::record(int64_t layer, int64_t direction) const {
  return network_.record(buffers_->rnn, layer, direction);
}

}  // namespace lstm
