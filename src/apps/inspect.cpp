// Inspection: the gradient of a last-step loss by distance, and the gates of every step.
#include "apps/inspect.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "apps/experiment.hpp"
#include "core/random.hpp"
#include "lstm/error.hpp"

namespace lstm::apps {
namespace {

size_t to_size(int64_t value) {
  return static_cast<size_t>(value);
}

std::string count_text(int64_t value) {
  return std::to_string(value);
}

// The same network with dropout off, so that a training forward computes what inference does.
template <typename T>
Network<T> without_dropout(const Network<T>& network) {
  NetworkConfig config = network.config();
  config.dropout = 0.0;
  config.zoneout = 0.0;
  Network<T> copy(config);
  std::ranges::copy(network.parameters(), copy.parameters().begin());
  return copy;
}

}  // namespace

std::vector<float> probe_inputs(int64_t steps, int64_t batch, int64_t width, uint64_t seed) {
  if (width == task_features(ExperimentTask::adding) &&
      steps >= task_min_seq_len(ExperimentTask::adding))
    return make_task_batch(ExperimentTask::adding, steps, seed, 0, batch).inputs;
  std::vector<float> inputs(to_size(steps * batch * width));  // [T, B, I]
  for (size_t k = 0; k < inputs.size(); ++k)
    inputs[k] = static_cast<float>(2.0 * uniform01(seed, k) - 1.0);
  return inputs;
}

std::vector<float> probe_embedded_inputs(const HostTensor& embedding, int64_t steps, int64_t batch,
                                         uint64_t seed) {
  if (embedding.shape.size() != 2 || embedding.shape[0] < 1)
    throw Error("probe inputs: an embedding must be a [V, E] tensor");
  const int64_t vocab = embedding.shape[0], width = embedding.shape[1];
  std::vector<float> inputs(to_size(steps * batch * width));  // [T, B, E]
  for (int64_t row = 0; row < steps * batch; ++row) {
    const auto id = std::min(vocab - 1, static_cast<int64_t>(uniform01(seed, to_size(row)) *
                                                             static_cast<double>(vocab)));
    std::copy_n(embedding.data.begin() + id * width, width, inputs.begin() + row * width);
  }
  return inputs;
}

template <typename T>
std::vector<T> unit_vector(int64_t width, uint64_t seed) {
  // Normal deviates (Box–Muller) point in a uniformly distributed direction.
  std::vector<double> v(to_size(width));
  double norm = 0.0;
  for (int64_t k = 0; k < width; ++k) {
    const double radius = std::sqrt(-2.0 * std::log1p(-uniform01(seed, to_size(2 * k))));
    v[k] = radius * std::cos(2.0 * std::numbers::pi * uniform01(seed, to_size(2 * k + 1)));
    norm += v[k] * v[k];
  }
  if (!(norm > 0.0)) {  // every deviate 0: not a direction; take the diagonal
    v.assign(v.size(), 1.0);
    norm = static_cast<double>(width);
  }
  std::vector<T> unit(to_size(width));
  for (int64_t k = 0; k < width; ++k) unit[k] = static_cast<T>(v[k] / std::sqrt(norm));
  return unit;
}

std::vector<int64_t> probe_distances(int64_t seq_len) {
  std::vector<int64_t> distances;
  for (int64_t decade = 1; decade < seq_len; decade *= 10)
    for (int64_t factor : {1, 2, 5})
      if (factor * decade < seq_len) distances.push_back(factor * decade);
  if (seq_len >= 1) distances.push_back(seq_len);
  return distances;
}

template <typename T>
GradientCurve gradient_by_distance(const Network<T>& network, std::span<const T> input,
                                   int64_t seq_len, int64_t batch, std::span<const T> direction,
                                   std::span<const int64_t> distances) {
  const NetworkConfig& config = network.config();
  if (config.bidirectional)
    throw Error("gradient by distance needs a unidirectional network, not " + config.describe());
  const int64_t I = config.input_size, H = config.hidden_size, Hout = config.output_size();
  const int64_t L = config.num_layers, B = batch;
  if (seq_len < 1 || batch < 1) throw Error("gradient by distance: T and B must be at least 1");
  if (static_cast<int64_t>(input.size()) != seq_len * B * I) {
    std::string message =
        "gradient by distance: the input has " + count_text(static_cast<int64_t>(input.size()));
    message += " values, expected T*B*I = " + count_text(seq_len * B * I);
    throw Error(message);
  }
  if (static_cast<int64_t>(direction.size()) != Hout)
    throw Error("gradient by distance: the loss direction must have Hout = " + count_text(Hout) +
                " values");
  const Network<T> probe = without_dropout(network);

  // One training forward over the whole sequence records every state: row t+1 holds h_t.
  Workspace<T> whole, suffix;
  std::vector<T> output(to_size(seq_len * B * Hout));  // [T, B, Hout]
  ForwardArgs<T> all;
  all.seq_len = seq_len;
  all.batch = B;
  all.input = input.data();
  all.output = output.data();
  probe.forward(Mode::training, all, whole);

  std::vector<T> h0(to_size(L * B * Hout));                             // [L, B, Hout]
  std::vector<T> c0(config.has_cell_state() ? to_size(L * B * H) : 0);  // [L, B, H]
  std::vector<T> grad_h0(h0.size());                                    // [L, B, Hout]
  std::vector<T> grad_h_n(h0.size(), T(0));  // [L, B, Hout]: u on the top layer's rows
  for (int64_t b = 0; b < B; ++b)
    std::ranges::copy(direction, grad_h_n.begin() + ((L - 1) * B + b) * Hout);
  std::vector<T> grad_params(to_size(probe.num_parameters()));
  std::vector<T> suffix_output;  // [k, B, Hout]

  GradientCurve curve;
  for (const int64_t k : distances) {
    if (k < 1 || k > seq_len)
      throw Error("gradient by distance: distance " + count_text(k) + " is outside 1.." +
                  count_text(seq_len));
    const int64_t start = seq_len - k;  // the suffix's first step; the states before it: row start
    for (int64_t layer = 0; layer < L; ++layer) {
      const ForwardRecord<T> kept = probe.record(whole, layer, 0);
      std::copy_n(kept.h + start * B * Hout, B * Hout, h0.begin() + layer * B * Hout);
      if (kept.c) std::copy_n(kept.c + start * B * H, B * H, c0.begin() + layer * B * H);
    }
    suffix_output.resize(to_size(k * B * Hout));
    ForwardArgs<T> part;
    part.seq_len = k;
    part.batch = B;
    part.input = input.data() + start * B * I;
    part.h0 = h0.data();
    part.c0 = c0.empty() ? nullptr : c0.data();
    part.output = suffix_output.data();
    probe.forward(Mode::training, part, suffix);
    std::ranges::fill(grad_params, T(0));
    BackwardArgs<T> back;
    back.grad_h_n = grad_h_n.data();
    back.grad_params = grad_params.data();
    back.grad_h0 = grad_h0.data();
    probe.backward(back, suffix);

    double sum = 0.0;
    for (int64_t b = 0; b < B; ++b) {
      const T* g = grad_h0.data() + ((L - 1) * B + b) * Hout;
      double square = 0.0;
      for (int64_t j = 0; j < Hout; ++j)
        square += static_cast<double>(g[j]) * static_cast<double>(g[j]);
      sum += std::sqrt(square);
    }
    curve.distance.push_back(k);
    curve.grad_norm.push_back(sum / static_cast<double>(B));
  }
  return curve;
}

template std::vector<float> unit_vector<float>(int64_t, uint64_t);
template std::vector<double> unit_vector<double>(int64_t, uint64_t);
template GradientCurve gradient_by_distance<float>(const Network<float>&, std::span<const float>,
                                                   int64_t, int64_t, std::span<const float>,
                                                   std::span<const int64_t>);
template GradientCurve gradient_by_distance<double>(const Network<double>&, std::span<const double>,
                                                    int64_t, int64_t, std::span<const double>,
                                                    std::span<const int64_t>);

}  // namespace lstm::apps
