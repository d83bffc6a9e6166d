// Checkpoints: a bit-identical round trip, resuming gives the same weights as not stopping,
// a checkpoint is also a model file, and bad checkpoints are errors naming the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "lstm/train.hpp"
#include "train_test_util.hpp"

namespace {

using lstm::Mode;
using lstm::SequenceModel;

SequenceModel make_model() {
  lstm::SequenceModelConfig config;
  config.rnn.cell = lstm::CellType::gru;
  config.rnn.input_size = 3;
  config.rnn.hidden_size = 5;
  config.vocab_size = 6;
  config.output_size = 6;
  SequenceModel model(config);
  model.init(4);
  model.metadata()["vocabulary"] = "abcdef";
  return model;
}

// One step of next-token training on a fixed batch [T=4, B=2] that depends on `step`.
void train_step(SequenceModel& model, lstm::Optimizer& optimizer, int64_t step) {
  std::vector<int64_t> tokens(8), targets(8);
  for (int64_t k = 0; k < 8; ++k) {
    tokens[k] = (k * 5 + step) % 6;
    targets[k] = (k * 5 + step + 1) % 6;
  }
  std::vector<float> logits(8 * 6), grad(8 * 6);
  model.zero_grad();
  model.forward(Mode::training,
                {.seq_len = 4, .batch = 2, .tokens = tokens.data(), .output = logits.data()});
  lstm::cross_entropy_loss(logits, 6, targets, grad);
  model.backward({.grad_output = grad.data()});
  lstm::clip_grad_norm(model.gradients(), 0.5);
  optimizer.step(model.parameters(), 0.01);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

lstm::OptimizerConfig adamw() {
  lstm::OptimizerConfig config;
  config.kind = lstm::OptimizerKind::adamw;
  config.weight_decay = 0.01;
  config.beta2 = 0.98;
  return config;
}

void expect_same_tensors(const std::vector<std::pair<std::string, lstm::HostTensor>>& want,
                         std::vector<std::pair<std::string, lstm::HostTensor>> got) {
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [name, tensor] : want) {
    const auto match =
        std::find_if(got.begin(), got.end(), [&](const auto& item) { return item.first == name; });
    ASSERT_NE(match, got.end()) << name;
    EXPECT_EQ(tensor.shape, match->second.shape) << name;
    EXPECT_EQ(0, std::memcmp(tensor.data.data(), match->second.data.data(),
                             tensor.data.size() * sizeof(float)))
        << name;
  }
}

TEST(TrainCheckpoint, RoundTripIsBitIdentical) {
  test_util::TempDir dir;
  SequenceModel model = make_model();
  lstm::Optimizer optimizer(adamw(), model.parameters());
  for (int64_t s = 0; s < 3; ++s) train_step(model, optimizer, s);

  lstm::TrainingProgress progress;
  progress.step = 3;
  progress.epoch = 1;
  progress.seed = std::numeric_limits<uint64_t>::max();
  progress.rng_counter = (uint64_t{1} << 63) + 12345;
  progress.best_validation_loss = 0.1 + 0.2;  // not a short decimal
  const lstm::Checkpoint saved =
      make_checkpoint(model, optimizer, progress, {{"command", "train --lr 0.01"}});
  const std::string path = dir.file("ckpt.safetensors");
  lstm::save_checkpoint(path, saved);
  const lstm::Checkpoint loaded = lstm::load_checkpoint(path);

  expect_same_tensors(saved.model.tensors, loaded.model.tensors);
  expect_same_tensors(saved.optimizer.tensors, loaded.optimizer.tensors);
  EXPECT_EQ(saved.model.metadata, loaded.model.metadata);
  EXPECT_EQ(loaded.metadata, saved.metadata);
  EXPECT_EQ(loaded.progress.step, 3);
  EXPECT_EQ(loaded.progress.epoch, 1);
  EXPECT_EQ(loaded.progress.seed, progress.seed);
  EXPECT_EQ(loaded.progress.rng_counter, progress.rng_counter);
  EXPECT_EQ(loaded.progress.best_validation_loss, progress.best_validation_loss);  // exactly
  EXPECT_EQ(loaded.optimizer.step_count, 3);
  EXPECT_EQ(loaded.optimizer.config.kind, lstm::OptimizerKind::adamw);
  EXPECT_EQ(loaded.optimizer.config.beta2, 0.98);
  EXPECT_EQ(loaded.optimizer.config.weight_decay, 0.01);

  // Saving what was loaded writes the same bytes.
  const std::string again = dir.file("again.safetensors");
  lstm::save_checkpoint(again, loaded);
  EXPECT_EQ(slurp(path), slurp(again));
}

TEST(TrainCheckpoint, ResumingEqualsNotStopping) {
  test_util::TempDir dir;
  SequenceModel model = make_model();
  lstm::Optimizer optimizer(adamw(), model.parameters());
  for (int64_t s = 0; s < 2; ++s) train_step(model, optimizer, s);
  const std::string path = dir.file("ckpt.safetensors");
  lstm::save_checkpoint(path, make_checkpoint(model, optimizer, {}));
  for (int64_t s = 2; s < 5; ++s) train_step(model, optimizer, s);

  const lstm::Checkpoint checkpoint = lstm::load_checkpoint(path);
  SequenceModel resumed = SequenceModel::from_tensors(checkpoint.model, path);
  lstm::Optimizer resumed_optimizer(checkpoint.optimizer.config, resumed.parameters());
  resumed_optimizer.load_state(checkpoint.optimizer, path);
  EXPECT_EQ(resumed.metadata().at("vocabulary"), "abcdef");
  for (int64_t s = 2; s < 5; ++s) train_step(resumed, resumed_optimizer, s);
  expect_same_tensors(model.tensors(), resumed.tensors());
  EXPECT_TRUE(std::isinf(checkpoint.progress.best_validation_loss));  // "none yet" survives
}

TEST(TrainCheckpoint, CheckpointIsAlsoAModelFile) {
  test_util::TempDir dir;
  SequenceModel model = make_model();
  lstm::Optimizer optimizer(adamw(), model.parameters());
  train_step(model, optimizer, 0);
  const std::string path = dir.file("ckpt.safetensors");
  lstm::save_checkpoint(path, make_checkpoint(model, optimizer, {}));
  const SequenceModel loaded = lstm::load_sequence_model(path);
  expect_same_tensors(model.tensors(), loaded.tensors());
  EXPECT_EQ(loaded.metadata(), model.metadata());
  EXPECT_EQ(lstm::load_network(path).num_parameters(), model.network().num_parameters());
}

// Writes a checkpoint whose "checkpoint" metadata is `state` and expects loading to fail with
// `message`.
void expect_bad_checkpoint(const std::string& state, const std::string& message) {
  SCOPED_TRACE(state);
  test_util::TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  std::map<std::string, std::string> metadata;
  if (!state.empty()) metadata["checkpoint"] = state;
  lstm::write_safetensors(path, {{"x", lstm::HostTensor{{1}, {0.0f}}}}, metadata);
  train_test::expect_error([&] { lstm::load_checkpoint(path); }, {path, message});
}

TEST(TrainCheckpoint, BadCheckpointsAreErrors) {
  expect_bad_checkpoint("", "not a checkpoint");
  expect_bad_checkpoint("{", "not valid JSON");
  expect_bad_checkpoint("{\"step\": 1}", "missing field 'epoch'");
  expect_bad_checkpoint(
      "{\"step\":1,\"epoch\":0,\"seed\":-1,\"rng_counter\":0,\"best_validation_loss\":null,"
      "\"optimizer\":{},"
      "\"metadata\":{}}",
      "'seed' is not an unsigned integer");
  expect_bad_checkpoint(
      "{\"step\":1,\"epoch\":0,\"seed\":1,\"rng_counter\":0,\"best_validation_loss\":null,"
      "\"optimizer\":{\"kind\":\"lion\"},\"metadata\":{}}",
      "unknown optimizer 'lion'");
}

TEST(TrainCheckpoint, SaveRejectsNaNAndReservedNames) {
  test_util::TempDir dir;
  SequenceModel model = make_model();
  lstm::Optimizer optimizer(adamw(), model.parameters());
  lstm::TrainingProgress progress;
  progress.best_validation_loss = NAN;
  EXPECT_THROW(
      lstm::save_checkpoint(dir.file("a.safetensors"), make_checkpoint(model, optimizer, progress)),
      lstm::Error);
  lstm::Checkpoint checkpoint = make_checkpoint(model, optimizer, {});
  checkpoint.model.metadata["checkpoint"] = "{}";
  EXPECT_THROW(lstm::save_checkpoint(dir.file("b.safetensors"), checkpoint), lstm::Error);
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.safetensors")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("b.safetensors")));
}

}  // namespace
