// A reusable training loop for SequenceModel: shuffled (or in-order) batches of a task's samples,
// validation, best weights, early stopping, a time limit, a stop request (Ctrl-C), atomic
// checkpoints every epoch and every few minutes within one, and exact resume.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lstm/distributed.hpp"
#include "lstm/train.hpp"

namespace lstm::apps {

// Supervised samples: inputs [count, T, F] (sample-major; the trainer transposes each batch to
// the model's [T, B, F]) and targets [count, O] for a last_step model with O outputs.
struct SampleSet {
  int64_t count = 0, steps = 0, features = 0, outputs = 0;
  std::vector<float> inputs;   // [count, T, F]
  std::vector<float> targets;  // [count, O]
};

// What the trainer trains: `count()` samples per epoch, visited in a shuffled order (or in order
// with `ordered()`, for streams whose state a task carries from batch to batch).
class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  virtual int64_t count() const = 0;
  virtual bool ordered() const { return false; }
  // Training forward, loss and backward on samples `ids` (gradients accumulate into the model's);
  // returns the batch's mean loss. `batch` is the batch's index in its epoch (0 starts a new one).
  virtual double train_batch(SequenceModel& model, std::span<const int64_t> ids, int64_t batch,
                             uint64_t dropout_seed) = 0;
  // The validation loss of the model as it is (inference mode).
  virtual double validation_loss(SequenceModel& model) = 0;
  // The same cut into `parts` fixed parts, for data-parallel runs (each rank computes its parts):
  // numbers from part `part`, and the loss from every part's numbers concatenated in part order,
  // equal to validation_loss for parts = 1. By default part 0 computes the whole loss.
  virtual std::vector<double> validation_terms(SequenceModel& model, int64_t part, int64_t parts) {
    (void)parts;
    return part == 0 ? std::vector<double>{validation_loss(model)} : std::vector<double>{};
  }
  virtual double validation_from_terms(std::span<const double> terms) { return terms[0]; }
  // State carried between batches (e.g. truncated BPTT's h and c), for checkpoints; default none.
  // Tensors [rows, B, X] whose axis 1 is a batch's samples (a data-parallel run gathers each
  // rank's columns, those of its shards, before a checkpoint).
  virtual std::vector<std::pair<std::string, HostTensor>> carried_state() const { return {}; }
  virtual void restore_carried_state(const std::vector<std::pair<std::string, HostTensor>>&,
                                     const std::string& /*source*/) {}
};

// What a non-finite training loss or gradient norm does: stop the run (diverged), or skip the
// batch (no step) and count it. A non-finite validation loss or weight always stops the run.
enum class NanPolicy { stop, skip };
NanPolicy parse_nan_policy(const std::string& name);

struct TrainerOptions {
  int64_t batch_size = 32;
  int64_t max_epochs = 200;
  int64_t patience = 20;            // epochs without a better validation loss before stopping
  double time_limit_seconds = 0.0;  // 0: none; else stop cleanly once exceeded
  int64_t epochs_this_run = 0;      // 0: no limit; else stop (as a time limit) after this many
  // Also checkpoint within an epoch once this long has passed since the last one (0: only at
  // the end of epochs).
  double checkpoint_every_seconds = 300.0;
  // Set (e.g. by a SIGINT handler) to stop after the current batch, with a checkpoint.
  const std::atomic<bool>* stop_requested = nullptr;
  double clip_norm = 1.0;           // 0: no clipping
  double lr = 3e-3;
  double warmup_fraction = 0.05;  // of all steps, linear warm-up, then cosine to lr·min_lr_factor
  double min_lr_factor = 0.05;
  ScheduleKind schedule = ScheduleKind::cosine;  // or constant after the warm-up
  // With a time limit, the rate falls linearly to 0 over this last fraction of it, on top of the
  // schedule (lstm::cooldown_factor); 0: off. The rate then depends on the clock, as the point
  // where a time-limited run stops already does.
  double cooldown_fraction = 0.0;
  OptimizerConfig optimizer;    // Adam by default
  LossConfig loss;              // MSE by default
  uint64_t seed = 0;            // data order
  std::string checkpoint_path;  // empty: no checkpoints
  bool resume = false;          // continue from checkpoint_path (which must exist)
  NanPolicy on_nan = NanPolicy::stop;
  // Settings a resumed run must share with the checkpoint's (e.g. {"--hidden", "64"}, {"--data",
  // "1234 bytes, checksum ..."}): saved in every checkpoint; on resume a different value is an
  // error naming the setting and both values. Settings the checkpoint lacks are not compared.
  std::map<std::string, std::string> resume_invariants;
  // Data parallel (lstm/distributed.hpp): null is this process alone. Every rank calls train()
  // with the same options, data and initial model (rank 0's weights are broadcast); rank 0 alone
  // writes checkpoints and reports progress, and decides the time limit and stop requests.
  distributed::Communicator* communicator = nullptr;
  // S: every batch is cut into S shards whose gradients are summed in shard order, so the weights
  // depend on S but not on the number of ranks (S >= ranks). S = 1 is the undivided batch.
  int64_t shards = 1;
  // Sum the gradients with MPI_Allreduce instead (faster; NOT reproducible across rank counts).
  bool plain_allreduce = false;
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

// Reported after every batch, for live progress within long epochs.
struct BatchReport {
  int64_t epoch = 0;  // 0-based epoch in progress
  int64_t batch = 0, batches = 0;  // batches done in this epoch, of
  double loss = 0.0;               // mean training loss over this epoch's batches so far
  double samples_per_second = 0.0;
  double elapsed_seconds = 0.0;
};

enum class StopReason {
  max_epochs,
  early_stopping,
  time_limit,
  epochs_this_run,
  interrupted,
  diverged  // a non-finite loss, gradient norm or weight: TrainResult::divergence says where
};
const char* stop_reason_name(StopReason reason);

struct TrainResult {
  int64_t epochs = 0;      // epochs completed in total (including before a resume)
  // 1-based epoch whose weights the model now holds; epochs + 1 when they are the weights where
  // the run stopped within an epoch
  int64_t best_epoch = 0;
  double best_validation_loss = std::numeric_limits<double>::infinity();
  StopReason stop = StopReason::max_epochs;
  bool resumed = false;
  int64_t steps = 0;
  int64_t skipped_batches = 0;  // with NanPolicy::skip, in total (including before a resume)
  // With StopReason::diverged: what was not finite and where ("training loss is nan at epoch 3,
  // batch 7"). No checkpoint is written after it; the model holds the best weights if
  // best_epoch > 0, else weights that must not be saved.
  std::string divergence;
};

struct TrainProgress {
  std::function<void(const EpochReport&)> epoch;
  std::function<void(const BatchReport&)> batch;
};

// Trains `model` (already initialised, or overwritten from the checkpoint when resuming) and
// leaves it holding the weights with the lowest validation loss (see StopReason::diverged). A run stopped by the time limit
// or a stop request within an epoch validates the weights it reached first. Deterministic for the
// same seed, data and thread count; a run interrupted anywhere and resumed from its last
// checkpoint gives identical weights.
TrainResult train(SequenceModel& model, TrainingTask& task, const TrainerOptions& options,
                  const TrainProgress& progress = {});

// Regression on supervised samples (train_batch's loss is options.loss).
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
