// A reusable training loop for SequenceModel over window samples: shuffled batches, validation,
// best weights, early stopping, a time limit, atomic checkpoints every epoch and exact resume.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "lstm/train.hpp"

namespace lstm::apps {

// Supervised samples: inputs [count, T, F] (sample-major; the trainer transposes each batch to
// the model's [T, B, F]) and targets [count, O] for a last_step model with O outputs.
struct SampleSet {
  int64_t count = 0, steps = 0, features = 0, outputs = 0;
  std::vector<float> inputs;   // [count, T, F]
  std::vector<float> targets;  // [count, O]
};

struct TrainerOptions {
  int64_t batch_size = 32;
  int64_t max_epochs = 200;
  int64_t patience = 20;            // epochs without a better validation loss before stopping
  double time_limit_seconds = 0.0;  // 0: none; else stop cleanly once exceeded
  int64_t epochs_this_run = 0;      // 0: no limit; else stop (as a time limit) after this many
  double clip_norm = 1.0;           // 0: no clipping
  double lr = 3e-3;
  double warmup_fraction = 0.05;  // of all steps, linear warm-up, then cosine to lr·min_lr_factor
  double min_lr_factor = 0.05;
  OptimizerConfig optimizer;    // Adam by default
  LossConfig loss;              // MSE by default
  uint64_t seed = 0;            // data order
  std::string checkpoint_path;  // empty: no checkpoints
  bool resume = false;          // continue from checkpoint_path (which must exist)
};

// One line of progress, reported after every epoch.
struct EpochReport {
  int64_t epoch = 0;  // 1-based, epochs completed so far
  int64_t max_epochs = 0;
  int64_t step = 0;
  double lr = 0.0;
  double train_loss = 0.0;
  double validation_loss = 0.0;
  double best_validation_loss = 0.0;
  bool improved = false;
  double epoch_seconds = 0.0;
  double samples_per_second = 0.0;
  double eta_seconds = 0.0;  // to max_epochs at the current pace (or the time limit, if sooner)
};

enum class StopReason { max_epochs, early_stopping, time_limit, epochs_this_run };
const char* stop_reason_name(StopReason reason);

struct TrainResult {
  int64_t epochs = 0;      // epochs completed in total (including before a resume)
  int64_t best_epoch = 0;  // 1-based epoch whose weights the model now holds
  double best_validation_loss = std::numeric_limits<double>::infinity();
  StopReason stop = StopReason::max_epochs;
  bool resumed = false;
  int64_t steps = 0;
};

// Trains `model` (already initialised, or overwritten from the checkpoint when resuming) and
// leaves it holding the weights with the lowest validation loss. Deterministic for the same seed,
// data and thread count; a run interrupted after any epoch and resumed gives identical weights.
TrainResult train_model(SequenceModel& model, const SampleSet& train, const SampleSet& validation,
                        const TrainerOptions& options,
                        const std::function<void(const EpochReport&)>& progress = {});

// Mean loss of the model over a sample set (inference mode, in batches of batch_size).
double evaluate_loss(SequenceModel& model, const SampleSet& samples, const LossConfig& loss,
                     int64_t batch_size = 256);
// Predictions [count, O] of a last_step model for the samples.
std::vector<float> predict(SequenceModel& model, const SampleSet& samples,
                           int64_t batch_size = 256);

}  // namespace lstm::apps
