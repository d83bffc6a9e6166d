// The README's example: create an LSTM, run it forward and backward on your own buffers,
// take one gradient step, save it in PyTorch's format and load it back.
#include <lstm/lstm.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

int main() {
  lstm::NetworkConfig config;
  config.cell = lstm::CellType::lstm;
  config.input_size = 3;   // I
  config.hidden_size = 8;  // H
  config.num_layers = 2;
  config.bidirectional = true;

  lstm::Network<float> network(config);
  network.init_uniform(/*seed=*/42);

  const int64_t steps = 5, batch = 2;                   // T, B
  std::vector<float> input(steps * batch * 3, 0.5f);    // [T, B, I]
  std::vector<int64_t> lengths = {5, 3};                // the second sequence is shorter
  std::vector<float> output(steps * batch * config.layer_output_size());  // [T, B, D*H]

  lstm::Workspace<float> workspace;
  lstm::ForwardArgs<float> forward;
  forward.seq_len = steps;
  forward.batch = batch;
  forward.input = input.data();
  forward.lengths = lengths.data();
  forward.output = output.data();
  network.forward(lstm::Mode::training, forward, workspace);

  // Loss = ½Σy², so dL/dy = y.
  auto loss_of = [](const std::vector<float>& y) {
    double sum = 0;
    for (float v : y) sum += 0.5 * v * v;
    return sum;
  };
  const double loss_before = loss_of(output);
  std::vector<float> grads(network.num_parameters(), 0.0f);
  lstm::BackwardArgs<float> backward;
  backward.grad_output = output.data();
  backward.grad_params = grads.data();
  network.backward(backward, workspace);

  // One step of gradient descent must lower the loss.
  for (int64_t k = 0; k < network.num_parameters(); ++k) network.parameters()[k] -= 0.1f * grads[k];
  network.forward(lstm::Mode::inference, forward, workspace);
  const double loss_after = loss_of(output);
  std::printf("loss %.6f -> %.6f after one step\n", loss_before, loss_after);

  // Save with PyTorch's state_dict names, load back, compare.
  const auto path = std::filesystem::temp_directory_path() / "lstm_example.safetensors";
  lstm::save_network(path.string(), network);
  const lstm::Network<float> loaded = lstm::load_network(path.string());
  std::filesystem::remove(path);
  const bool same = std::equal(loaded.parameters().begin(), loaded.parameters().end(),
                               network.parameters().begin());
  std::printf("saved and reloaded %lld parameters: %s\n",
              static_cast<long long>(loaded.num_parameters()), same ? "identical" : "DIFFERENT");
  return loss_after < loss_before && same && std::isfinite(loss_after) ? 0 : 1;
}
