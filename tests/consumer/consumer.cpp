// Uses the installed library: builds a GRU, runs it, and checks the output is finite.
#include <lstm/lstm.hpp>

#include <cmath>
#include <vector>

int main() {
  lstm::NetworkConfig config;
  config.cell = lstm::CellType::gru;
  config.input_size = 2;
  config.hidden_size = 4;
  lstm::Network<float> network(config);
  network.init_uniform(1);
  std::vector<float> input(3 * 1 * 2, 1.0f), output(3 * 1 * 4);
  lstm::Workspace<float> workspace;
  lstm::ForwardArgs<float> args;
  args.seq_len = 3;
  args.batch = 1;
  args.input = input.data();
  args.output = output.data();
  network.forward(lstm::Mode::inference, args, workspace);
  for (float v : output)
    if (!std::isfinite(v) || v == 0.0f) return 1;
  return 0;
}
