// Several user threads may run the same network at once, each with its own Workspace: the
// results are bit-identical to running the calls one after another. The team's threads add their
// phase times (Workspace::count_phases) into the workspace without a race.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "core/random.hpp"
#include "lstm/lstm.hpp"

namespace {

struct CallResult {
  std::vector<float> output, grads;
};

// Forward + backward of a network wide enough that each call uses the whole thread team; with
// `phases`, counted into it.
CallResult run_once(const lstm::Network<float>& network, uint64_t seed,
                    lstm::PhaseSeconds* phases = nullptr) {
  const auto& config = network.config();
  const int64_t steps = 9, batch = 8;
  std::vector<float> input(static_cast<size_t>(steps * batch * config.input_size));
  for (size_t k = 0; k < input.size(); ++k) input[k] = static_cast<float>(lstm::uniform01(seed, k) - 0.5);
  const std::vector<int64_t> lengths = {9, 3, 9, 1, 7, 9, 2, 9};
  CallResult run;
  run.output.resize(static_cast<size_t>(steps * batch * config.layer_output_size()));
  run.grads.assign(static_cast<size_t>(network.num_parameters()), 0.0f);
  lstm::Workspace<float> workspace;
  workspace.count_phases = phases != nullptr;
  lstm::ForwardArgs<float> forward;
  forward.seq_len = steps;
  forward.batch = batch;
  forward.input = input.data();
  forward.lengths = lengths.data();
  forward.output = run.output.data();
  network.forward(lstm::Mode::training, forward, workspace);
  lstm::BackwardArgs<float> backward;
  backward.grad_output = run.output.data();
  backward.grad_params = run.grads.data();
  network.backward(backward, workspace);
  if (phases)
    *phases = workspace.phases;
  else
    EXPECT_EQ(workspace.phases.cells, 0.0);  // nothing counted unless asked
  return run;
}

TEST(Concurrency, UserThreadsShareANetwork) {
  lstm::NetworkConfig config;
  config.input_size = 40;
  config.hidden_size = 96;
  config.num_layers = 2;
  config.bidirectional = true;
  lstm::Network<float> network(config);
  network.init_uniform(5);

  constexpr int kCallers = 4;
  std::vector<CallResult> sequential, concurrent(kCallers);
  for (int k = 0; k < kCallers; ++k) sequential.push_back(run_once(network, 100 + k));
  std::vector<std::thread> callers;
  for (int k = 0; k < kCallers; ++k)
    callers.emplace_back([&, k] { concurrent[k] = run_once(network, 100 + k); });
  for (std::thread& caller : callers) caller.join();
  for (int k = 0; k < kCallers; ++k) {
    EXPECT_EQ(sequential[k].output, concurrent[k].output) << "caller " << k;
    EXPECT_EQ(sequential[k].grads, concurrent[k].grads) << "caller " << k;
  }
}

// Counting the phases changes no result, and a training step has time in every one of them.
TEST(Concurrency, PhaseTimesAreCountedOnlyWhenAsked) {
  lstm::NetworkConfig config;
  config.input_size = 40;
  config.hidden_size = 96;
  config.num_layers = 2;
  lstm::Network<float> network(config);
  network.init_uniform(6);
  lstm::PhaseSeconds phases;
  const CallResult counted = run_once(network, 7, &phases), plain = run_once(network, 7);
  EXPECT_EQ(counted.output, plain.output);
  EXPECT_EQ(counted.grads, plain.grads);
  for (const double seconds : {phases.input_products, phases.recurrent_products, phases.cells,
                               phases.weight_gradients, phases.input_gradients})
    EXPECT_GT(seconds, 0.0);
}

}  // namespace
