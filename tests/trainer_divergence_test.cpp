// Divergence in the trainer: a sample poisoned with NaN stops the run naming the epoch and batch
// (keeping the best weights and the last good checkpoint), or is skipped and counted with
// NanPolicy::skip; a non-finite validation loss always stops; no writer saves a NaN weight.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "apps/trainer.hpp"
#include "lstm/train.hpp"
#include "test_util.hpp"

namespace {

using lstm::apps::SampleSet;
using lstm::apps::StopReason;

lstm::SequenceModel make_model() {
  lstm::SequenceModelConfig config;
  config.rnn.cell = lstm::CellType::lstm;
  config.rnn.input_size = 1;
  config.rnn.hidden_size = 4;
  config.output_size = 1;
  config.head_mode = lstm::HeadMode::last_step;
  lstm::SequenceModel model(config);
  model.init(3);
  return model;
}

// `count` windows of 3 steps of a sine, each target the next value.
SampleSet sine_samples(int64_t count, double phase) {
  SampleSet set;
  set.count = count;
  set.steps = 3;
  set.features = 1;
  set.outputs = 1;
  for (int64_t k = 0; k < count; ++k) {
    for (int64_t t = 0; t < 3; ++t)
      set.inputs.push_back(static_cast<float>(std::sin(0.4 * static_cast<double>(k + t) + phase)));
    set.targets.push_back(static_cast<float>(std::sin(0.4 * static_cast<double>(k + 3) + phase)));
  }
  return set;
}

bool all_finite(const lstm::SequenceModel& model) {
  for (const auto& [name, tensor] : model.tensors())
    for (float value : tensor.data)
      if (!std::isfinite(value)) return false;
  return true;
}

lstm::apps::TrainerOptions options(int64_t batch, int64_t epochs) {
  lstm::apps::TrainerOptions o;
  o.batch_size = batch;
  o.max_epochs = epochs;
  o.patience = epochs;
  o.lr = 0.01;
  return o;
}

TEST(TrainerDivergence, PoisonedSampleStopsAtItsBatch) {
  lstm::SequenceModel model = make_model();
  SampleSet train = sine_samples(16, 0.0);
  train.targets[5] = NAN;  // sample 5; one batch of 16 per epoch, so it is batch 1
  const SampleSet validation = sine_samples(8, 1.0);
  const lstm::apps::TrainResult result =
      lstm::apps::train_model(model, train, validation, options(16, 5));
  EXPECT_EQ(result.stop, StopReason::diverged);
  EXPECT_EQ(result.divergence, "training loss is nan at epoch 1, batch 1");
  EXPECT_EQ(result.best_epoch, 0);
  EXPECT_EQ(result.steps, 0);
}

TEST(TrainerDivergence, PoisonedInputStopsOnTheGradientOrLoss) {
  lstm::SequenceModel model = make_model();
  SampleSet train = sine_samples(16, 0.0);
  train.inputs[5 * 3 + 1] = NAN;  // the forward may saturate it away; its gradient cannot
  const lstm::apps::TrainResult result =
      lstm::apps::train_model(model, train, sine_samples(8, 1.0), options(16, 5));
  EXPECT_EQ(result.stop, StopReason::diverged);
  EXPECT_TRUE(result.divergence == "training loss is nan at epoch 1, batch 1" ||
              result.divergence == "gradient norm is nan at epoch 1, batch 1")
      << result.divergence;
  EXPECT_EQ(result.steps, 0);
}

TEST(TrainerDivergence, PoisonedValidationStopsAfterTheEpoch) {
  lstm::SequenceModel model = make_model();
  SampleSet validation = sine_samples(8, 1.0);
  validation.targets[2] = INFINITY;
  const lstm::apps::TrainResult result =
      lstm::apps::train_model(model, sine_samples(16, 0.0), validation, options(4, 5));
  EXPECT_EQ(result.stop, StopReason::diverged);
  EXPECT_EQ(result.divergence, "validation loss is inf after epoch 1");
  EXPECT_EQ(result.best_epoch, 0);
}

TEST(TrainerDivergence, SkipPolicyCountsPoisonedBatchesAndTrainsOnTheRest) {
  lstm::SequenceModel model = make_model();
  const std::vector<float> initial = model.tensors()[0].second.data;
  SampleSet train = sine_samples(16, 0.0);
  train.targets[9] = NAN;  // one of 4 batches in every epoch
  lstm::apps::TrainerOptions o = options(4, 3);
  o.on_nan = lstm::apps::NanPolicy::skip;
  const lstm::apps::TrainResult result =
      lstm::apps::train_model(model, train, sine_samples(8, 1.0), o);
  EXPECT_EQ(result.stop, StopReason::max_epochs) << result.divergence;
  EXPECT_EQ(result.skipped_batches, 3);
  EXPECT_EQ(result.steps, 9);  // 3 of 4 batches in each of 3 epochs
  EXPECT_TRUE(all_finite(model));
  EXPECT_NE(model.tensors()[0].second.data, initial);
}

TEST(TrainerDivergence, HugeLearningRateStopsWithTheBestWeightsAndLastGoodCheckpoint) {
  test_util::TempDir dir;
  const std::string checkpoint = dir.file("run.ckpt");
  const SampleSet train = sine_samples(16, 0.0), validation = sine_samples(8, 1.0);
  lstm::SequenceModel model = make_model();
  lstm::apps::TrainerOptions o = options(4, 2);
  o.checkpoint_path = checkpoint;
  ASSERT_EQ(lstm::apps::train_model(model, train, validation, o).stop, StopReason::max_epochs);
  const std::string good = test_util::read_file(checkpoint);
  const std::vector<std::pair<std::string, lstm::HostTensor>> best = model.tensors();

  // Continue to 4 epochs at a rate that makes Adam's first step ~1e30 per weight.
  o.max_epochs = 4;
  o.patience = 4;
  o.lr = 1e30;
  o.resume = true;
  lstm::SequenceModel resumed = make_model();
  const lstm::apps::TrainResult result = lstm::apps::train_model(resumed, train, validation, o);
  EXPECT_EQ(result.stop, StopReason::diverged);
  EXPECT_TRUE(result.divergence.find("at epoch 3, batch") != std::string::npos ||
              result.divergence.find("after epoch 3") != std::string::npos)
      << result.divergence;
  EXPECT_GE(result.best_epoch, 1);
  EXPECT_LE(result.best_epoch, 2);
  EXPECT_TRUE(all_finite(resumed));
  EXPECT_EQ(test_util::read_file(checkpoint), good);  // not rewritten after the divergence
}

TEST(TrainerDivergence, WritersRefuseNonFiniteWeights) {
  test_util::TempDir dir;
  lstm::SequenceModel model = make_model();
  model.parameters()[0].value[2] = NAN;
  const std::string path = dir.file("m.safetensors");
  try {
    lstm::save_sequence_model(path, model);
    FAIL() << "saved a NaN weight";
  } catch (const lstm::Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("non-finite"), std::string::npos) << message;
    EXPECT_NE(message.find("[2]") == std::string::npos ? message.find("index 2")
                                                       : message.find("[2]"),
              std::string::npos)
        << message;
  }
  EXPECT_TRUE(test_util::directory_entries(dir.path()).empty());
  EXPECT_THROW(lstm::save_network(path, model.network()), lstm::Error);
  EXPECT_TRUE(test_util::directory_entries(dir.path()).empty());
}

}  // namespace
