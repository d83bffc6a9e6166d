// The training loop: shuffled mini-batches, validation every epoch, best weights, early stopping,
// a time limit, stop requests, and checkpoints (with the best weights inside) written atomically
// at the end of every epoch and every few minutes within one.
#include "apps/trainer.hpp"

#include "apps/data_parallel.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string_view>
#include <utility>

#include "core/random.hpp"
#include "lstm/memory.hpp"
#include "train/file_keys.hpp"

namespace lstm::apps {
namespace {

// Inside a checkpoint, under train_keys::kTrainerPrefix: the best weights and the task's state.
const std::string kBestPrefix = std::string(train_keys::kTrainerPrefix) + "best.";
const std::string kCarriedPrefix = std::string(train_keys::kTrainerPrefix) + "carried.";
// In the checkpoint's trainer fields: the settings a resumed run must share.
const std::string kSettingPrefix = "setting ";
using Clock = std::chrono::steady_clock;
using NamedTensors = std::vector<std::pair<std::string, HostTensor>>;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Error(where + ": " + what);
}

void check_samples(const SequenceModel& model, const SampleSet& samples, const char* what) {
  const SequenceModelConfig& config = model.config();
  if (samples.count < 1) fail(what, "no samples");
  if (samples.features != config.rnn.input_size || samples.outputs != config.output_size)
    fail(what, "samples do not match the model's input or output width");
  if (static_cast<int64_t>(samples.inputs.size()) !=
          samples.count * samples.steps * samples.features ||
      static_cast<int64_t>(samples.targets.size()) != samples.count * samples.outputs)
    fail(what, "sample buffers have the wrong size");
}

// Gathers samples `ids` into a sequence-first batch x [T, B, F] and targets y [B, O].
void gather(const SampleSet& samples, std::span<const int64_t> ids, std::vector<float>& x,
            std::vector<float>& y) {
  const int64_t T = samples.steps, F = samples.features, O = samples.outputs;
  const int64_t B = static_cast<int64_t>(ids.size());
  x.resize(static_cast<size_t>(T * B * F));
  y.resize(static_cast<size_t>(B * O));
  for (int64_t b = 0; b < B; ++b) {
    const float* source = samples.inputs.data() + ids[b] * T * F;
    for (int64_t t = 0; t < T; ++t) std::copy_n(source + t * F, F, x.data() + (t * B + b) * F);
    std::copy_n(samples.targets.data() + ids[b] * O, O, y.data() + b * O);
  }
}

void copy_into_model(SequenceModel& model, const NamedTensors& tensors, const std::string& source) {
  for (const auto& [name, tensor] : tensors) {
    std::span<float> value = model.parameter(name);
    if (value.size() != tensor.data.size())
      fail(source, "tensor '" + name + "' does not match the model being trained");
    std::copy(tensor.data.begin(), tensor.data.end(), value.begin());
  }
}

// The first non-finite parameter value as "'name'[index]", or "" if all are finite.
std::string first_non_finite(std::span<const ParameterView> parameters) {
  for (const ParameterView& parameter : parameters)
    for (size_t k = 0; k < parameter.value.size(); ++k)
      if (!std::isfinite(parameter.value[k]))
        return "'" + parameter.name + "'[" + std::to_string(k) + "]";
  return "";
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Exact decimal form of a double, for checkpoint metadata.
std::string exact(double value) {
  if (std::isnan(value)) return "nan";  // without a sign, which varies with how it arose
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// Regression on a SampleSet: a last_step model, targets [count, O].
class RegressionTask final : public TrainingTask {
 public:
  RegressionTask(const SampleSet& train, const SampleSet& validation, const LossConfig& loss)
      : train_(train), validation_(validation), loss_(loss) {}
  int64_t count() const override { return train_.count; }
  double train_batch(SequenceModel& model, std::span<const int64_t> ids, int64_t,
                     uint64_t dropout_seed) override {
    gather(train_, ids, x_, y_);
    prediction_.resize(y_.size());
    grad_.resize(y_.size());
    ModelForwardArgs args;
    args.seq_len = train_.steps;
    args.batch = static_cast<int64_t>(ids.size());
    args.input = x_.data();
    args.output = prediction_.data();
    args.dropout_seed = dropout_seed;
    model.forward(Mode::training, args);
    const double loss = regression_loss(loss_, std::span<const float>(prediction_),
                                        std::span<const float>(y_), grad_);
    ModelBackwardArgs back;
    back.grad_output = grad_.data();
    model.backward(back);
    return loss;
  }
  double validation_loss(SequenceModel& model) override {
    return evaluate_loss(model, validation_, loss_);
  }
  // Part `part`: the predictions [n, O] of its samples (in batches of 256 from its first).
  std::vector<double> validation_terms(SequenceModel& model, int64_t part, int64_t parts) override {
    const int64_t first = validation_.count * part / parts;
    const int64_t end = validation_.count * (part + 1) / parts;
    const int64_t O = validation_.outputs;
    std::vector<double> out;
    std::vector<float> prediction(static_cast<size_t>(256 * O));
    std::vector<int64_t> ids;
    std::vector<float> x, y;
    for (int64_t at = first; at < end; at += 256) {
      const int64_t B = std::min<int64_t>(256, end - at);
      ids.resize(static_cast<size_t>(B));
      std::iota(ids.begin(), ids.end(), at);
      gather(validation_, ids, x, y);
      ModelForwardArgs args;
      args.seq_len = validation_.steps;
      args.batch = B;
      args.input = x.data();
      args.output = prediction.data();
      model.forward(Mode::inference, args);
      out.insert(out.end(), prediction.begin(), prediction.begin() + B * O);
    }
    return out;
  }
  // The loss of every part's predictions together, as validation_loss computes it.
  double validation_from_terms(std::span<const double> terms) override {
    const std::vector<float> prediction(terms.begin(), terms.end());
    if (prediction.size() != validation_.targets.size())
      throw Error("validation: the parts' predictions do not cover the validation samples");
    return regression_loss(loss_, std::span<const float>(prediction), validation_.targets, {});
  }

 private:
  const SampleSet& train_;
  const SampleSet& validation_;
  LossConfig loss_;
  std::vector<float> x_, y_, prediction_, grad_;  // [T, B, F], [B, O], [B, O], [B, O]
};

}  // namespace

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::max_epochs:
      return "maximum epochs reached";
    case StopReason::early_stopping:
      return "early stopping";
    case StopReason::time_limit:
      return "time limit";
    case StopReason::epochs_this_run:
      return "epochs for this run done";
    case StopReason::interrupted:
      return "interrupted";
    case StopReason::diverged:
      return "diverged";
  }
  return "?";
}

NanPolicy parse_nan_policy(const std::string& name) {
  if (name == "stop") return NanPolicy::stop;
  if (name == "skip") return NanPolicy::skip;
  throw Error("unknown non-finite loss policy '" + name + "' (stop or skip)");
}

std::vector<float> predict(SequenceModel& model, const SampleSet& samples, int64_t batch_size) {
  check_samples(model, samples, "predict");
  std::vector<float> out(static_cast<size_t>(samples.count * samples.outputs));
  std::vector<int64_t> ids;
  std::vector<float> x, y;
  for (int64_t first = 0; first < samples.count; first += batch_size) {
    const int64_t B = std::min(batch_size, samples.count - first);
    ids.resize(static_cast<size_t>(B));
    std::iota(ids.begin(), ids.end(), first);
    gather(samples, ids, x, y);
    ModelForwardArgs args;
    args.seq_len = samples.steps;
    args.batch = B;
    args.input = x.data();
    args.output = out.data() + first * samples.outputs;
    model.forward(Mode::inference, args);
  }
  return out;
}

double evaluate_loss(SequenceModel& model, const SampleSet& samples, const LossConfig& loss,
                     int64_t batch_size) {
  const std::vector<float> prediction = predict(model, samples, batch_size);
  return regression_loss(loss, std::span<const float>(prediction), samples.targets, {});
}

TrainResult train_model(SequenceModel& model, const SampleSet& train, const SampleSet& validation,
                        const TrainerOptions& options,
                        const std::function<void(const EpochReport&)>& progress) {
  check_samples(model, train, "training samples");
  check_samples(model, validation, "validation samples");
  RegressionTask task(train, validation, options.loss);
  return lstm::apps::train(model, task, options, {.epoch = progress, .batch = {}});
}

TrainResult train(SequenceModel& model, TrainingTask& task, const TrainerOptions& options,
                  const TrainProgress& progress) {
  if (task.count() < 1) fail("training", "no training samples");
  if (options.batch_size < 1) fail("training", "batch size must be at least 1");
  if (options.max_epochs < 1) fail("training", "epochs must be at least 1");
  const Clock::time_point start = Clock::now();
  const int64_t count = task.count();

  const int64_t batches = (count + options.batch_size - 1) / options.batch_size;
  LrSchedule schedule;
  schedule.kind = options.schedule;
  schedule.lr = options.lr;
  schedule.total_steps = batches * options.max_epochs;
  schedule.warmup_steps =
      std::max<int64_t>(1, static_cast<int64_t>(options.warmup_fraction * schedule.total_steps));
  schedule.min_lr = options.lr * options.min_lr_factor;
  schedule.validate();
  if (!(options.cooldown_fraction >= 0 && options.cooldown_fraction <= 1))
    fail("training", "the cool-down fraction must be in [0, 1]");
  double lr = 0.0;  // the rate of the last step

  // Beside the model's values and gradients: two optimizer moments, the best weights, and a
  // checkpoint's copies of all of them while it is written.
  require_memory(static_cast<uint64_t>(model.num_parameters()) * 4 * 7,
                 "training a model of " + std::to_string(model.num_parameters()) + " parameters");
  DataParallel parallel(options, model);
  const bool root = parallel.root();
  parallel.check_same_count(count);
  std::vector<ParameterView> parameters = model.parameters();
  Optimizer optimizer(options.optimizer, parameters);
  // state.rng_counter is the counter at the start of the current epoch, whose order is drawn
  // from it; first_batch and loss_sum say how far into the epoch a resumed run is.
  TrainingProgress state;
  state.seed = options.seed;
  int64_t best_epoch = 0, first_batch = 0, skipped = 0;
  double loss_sum = 0.0;
  NamedTensors best;  // the model's tensors at its best point
  TrainResult result;

  if (options.resume) {
    const std::string& path = options.checkpoint_path;
    if (path.empty()) fail("training", "resuming needs a checkpoint path");
    // Rank 0 reads the checkpoint (only it writes one) and every rank restores from its bytes.
    const distributed::Bytes image = parallel.read_on_root(path);
    parallel.collectively([&] {
      Checkpoint checkpoint =
          checkpoint_from_contents(parse_safetensors(path, image.data(), image.size()), path);
      for (const auto& [setting, value] : options.resume_invariants) {
        const auto saved = checkpoint.metadata.find(kSettingPrefix + setting);
        if (saved != checkpoint.metadata.end() && saved->second != value)
          fail(path, "cannot resume: " + setting + " is " + value + " but was " + saved->second +
                         " when the checkpoint was made; resume with the same " + setting +
                         ", or train afresh without --resume");
      }
      // The task data (columns, normalisation, window...) must be what this run computed.
      for (const auto& [key, value] : model.metadata()) {
        const auto entry = checkpoint.model.metadata.find(key);
        if (entry == checkpoint.model.metadata.end() || entry->second != value)
          fail(path, "the checkpoint was made with other data or options (metadata '" + key +
                         "' differs); resume with the same command line");
      }
      NamedTensors current, carried;
      for (auto& [name, tensor] : checkpoint.model.tensors) {
        if (name.starts_with(kBestPrefix))
          best.emplace_back(name.substr(kBestPrefix.size()), std::move(tensor));
        else if (name.starts_with(kCarriedPrefix))
          carried.emplace_back(name.substr(kCarriedPrefix.size()), std::move(tensor));
        else
          current.emplace_back(name, std::move(tensor));
      }
      copy_into_model(model, current, path);
      optimizer.load_state(checkpoint.optimizer, path);
      task.restore_carried_state(carried, path);
      state = checkpoint.progress;
      auto number = [&](const char* key) -> std::string {
        const auto entry = checkpoint.metadata.find(key);
        return entry == checkpoint.metadata.end() ? std::string("0") : entry->second;
      };
      try {
        best_epoch = std::stoll(number("best_epoch"));
        skipped = std::stoll(number("skipped"));
        first_batch = std::stoll(number("batch"));
        loss_sum = std::stod(number("loss_sum"));
      } catch (const std::exception&) {
        fail(path, "checkpoint has a malformed trainer field");
      }
      if (first_batch < 0 || first_batch >= batches)
        fail(path, "checkpoint's batch position does not fit this data; resume with the same data");
      if (best_epoch > 0 && best.empty()) fail(path, "checkpoint has no best weights");
    });
    result.resumed = true;
  }
  parallel.broadcast_parameters(model);

  // Writes the checkpoint: batch > 0 is a position within the epoch that starts at
  // state.rng_counter (a resumed run redraws the same order and continues from there).
  auto save = [&](int64_t batch) {
    if (options.checkpoint_path.empty()) return;
    NamedTensors carried = parallel.carried_state(task);  // collective: every rank's streams
    state.step = optimizer.step_count();
    if (!root) return parallel.collectively([] {});
    std::map<std::string, std::string> fields{{"best_epoch", std::to_string(best_epoch)},
                                              {"batch", std::to_string(batch)},
                                              {"skipped", std::to_string(skipped)},
                                              {"loss_sum", exact(loss_sum)}};
    for (const auto& [setting, value] : options.resume_invariants)
      fields[kSettingPrefix + setting] = value;
    Checkpoint checkpoint = make_checkpoint(model, optimizer, state, std::move(fields));
    for (const auto& [name, tensor] : best)
      checkpoint.model.tensors.emplace_back(kBestPrefix + name, tensor);
    for (auto& [name, tensor] : carried)
      checkpoint.model.tensors.emplace_back(kCarriedPrefix + name, std::move(tensor));
    parallel.collectively([&] { save_checkpoint(options.checkpoint_path, checkpoint); });
  };
  // Validates the weights as they are and keeps them if they are the best so far.
  auto validate = [&](int64_t epoch) {
    const double validation_loss = parallel.validation_loss(model, task);
    const bool improved = validation_loss < state.best_validation_loss;
    if (improved) {
      state.best_validation_loss = validation_loss;
      best_epoch = epoch;
      best = model.tensors();
    }
    return std::pair(validation_loss, improved);
  };
  // Rank 0's clock and stop request decide for every rank (collective).
  Clock::time_point last_checkpoint = Clock::now();
  auto decide = [&] {
    return parallel.shared([&] {
      DataParallel::Decision decision;
      decision.elapsed_seconds = seconds_since(start);
      decision.out_of_time =
          options.time_limit_seconds > 0 && decision.elapsed_seconds > options.time_limit_seconds;
      decision.stop_requested =
          options.stop_requested && options.stop_requested->load(std::memory_order_relaxed);
      decision.checkpoint_due = options.checkpoint_every_seconds > 0 &&
                                seconds_since(last_checkpoint) > options.checkpoint_every_seconds;
      return decision;
    });
  };

  std::vector<int64_t> order(static_cast<size_t>(count));
  StopReason stop = StopReason::max_epochs;
  bool stopped = false;
  std::string divergence;  // non-empty: the run diverged there
  // " at epoch E, batch B" (1-based), for messages.
  auto place = [&](int64_t batch) {
    return " at epoch " + std::to_string(state.epoch + 1) + ", batch " + std::to_string(batch + 1);
  };
  const int64_t first_epoch = state.epoch;
  while (state.epoch < options.max_epochs) {
    if (options.epochs_this_run > 0 && state.epoch - first_epoch >= options.epochs_this_run) {
      stop = StopReason::epochs_this_run;
      break;
    }
    if (best_epoch > 0 && state.epoch - best_epoch >= options.patience) {
      stop = StopReason::early_stopping;
      break;
    }
    const Clock::time_point epoch_start = Clock::now();
    // Fisher–Yates shuffle from the counter-based stream: a pure function of (seed, counter).
    const uint64_t epoch_counter = state.rng_counter;
    uint64_t counter = epoch_counter;
    std::iota(order.begin(), order.end(), int64_t{0});
    if (!task.ordered())
      for (int64_t k = count - 1; k > 0; --k) {
        const double u = uniform01(state.seed, counter++);
        std::swap(order[k],
                  order[std::min(k, static_cast<int64_t>(u * static_cast<double>(k + 1)))]);
      }
    int64_t batch = first_batch;
    first_batch = 0;
    if (batch == 0) loss_sum = 0.0;
    for (; batch < batches; ++batch) {
      // The first epoch of a run always takes at least one step.
      const bool may_stop = state.epoch > first_epoch || batch > 0;
      const DataParallel::Decision decision = decide();
      if (may_stop && (decision.out_of_time || decision.stop_requested)) {
        stop = decision.stop_requested ? StopReason::interrupted : StopReason::time_limit;
        stopped = true;
        break;
      }
      if (decision.checkpoint_due && batch > 0) {
        save(batch);
        last_checkpoint = Clock::now();
      }
      const int64_t first = batch * options.batch_size;
      const int64_t B = std::min(options.batch_size, count - first);
      model.zero_grad();
      const uint64_t dropout_seed = mix64(state.seed ^ mix64(uint64_t(optimizer.step_count())));
      const double batch_loss = parallel.train_batch(
          model, task, std::span<const int64_t>(order).subspan(first, B), batch, dropout_seed);
      // The norm before clipping (clip_norm 0: measured, not clipped).
      const double gradient_norm =
          clip_grad_norm(model.gradients(), options.clip_norm > 0 ? options.clip_norm : INFINITY);
      if (!std::isfinite(batch_loss) || !std::isfinite(gradient_norm)) {
        if (options.on_nan == NanPolicy::skip) {
          ++skipped;
          continue;
        }
        divergence = (std::isfinite(batch_loss) ? "gradient norm is " + exact(gradient_norm)
                                                : "training loss is " + exact(batch_loss)) +
                     place(batch);
        break;
      }
      loss_sum += batch_loss * static_cast<double>(B);
      lr = schedule.lr_at(optimizer.step_count()) * cooldown_factor(decision.elapsed_seconds,
                                                                    options.time_limit_seconds,
                                                                    options.cooldown_fraction);
      optimizer.step(parameters, lr);
      if (const std::string at = first_non_finite(parameters); !at.empty()) {
        divergence = "weight " + at + " became non-finite in the step" +
                     place(batch) + " (learning rate " + exact(lr) + ")";
        break;
      }
      if (progress.batch && root) {
        const int64_t done = std::min(count, first + B);
        BatchReport report;
        report.epoch = state.epoch;
        report.batch = batch + 1;
        report.batches = batches;
        report.loss = loss_sum / static_cast<double>(done);
        report.elapsed_seconds = seconds_since(start);
        report.samples_per_second =
            static_cast<double>(done) / std::max(seconds_since(epoch_start), 1e-9);
        progress.batch(report);
      }
    }
    if (!divergence.empty()) break;  // no checkpoint: the last one written stays the last good one
    state.step = optimizer.step_count();
    if (stopped) {
      // The checkpoint records where the epoch stands (a resumed run then equals one that never
      // stopped); this run's model also considers the weights the partial epoch reached.
      state.rng_counter = epoch_counter;
      save(batch);
      if (batch > 0) validate(state.epoch + 1);
      break;
    }
    state.rng_counter = counter;
    state.epoch += 1;
    const auto [validation_loss, improved] = validate(state.epoch);
    if (!std::isfinite(validation_loss)) {
      divergence = "validation loss is " + exact(validation_loss) + " after epoch " +
                   std::to_string(state.epoch);
      break;
    }
    save(0);
    last_checkpoint = Clock::now();
    if (progress.epoch && root) {
      EpochReport report;
      report.epoch = state.epoch;
      report.max_epochs = options.max_epochs;
      report.step = state.step;
      report.lr = lr;
      report.train_loss = loss_sum / static_cast<double>(count);
      report.validation_loss = validation_loss;
      report.best_validation_loss = state.best_validation_loss;
      report.improved = improved;
      report.epoch_seconds = seconds_since(epoch_start);
      report.samples_per_second = static_cast<double>(count) / std::max(report.epoch_seconds, 1e-9);
      report.eta_seconds =
          report.epoch_seconds * static_cast<double>(options.max_epochs - state.epoch);
      if (options.time_limit_seconds > 0)
        report.eta_seconds = std::min(
            report.eta_seconds, std::max(0.0, options.time_limit_seconds - seconds_since(start)));
      progress.epoch(report);
    }
    if (state.epoch < options.max_epochs) {
      const DataParallel::Decision decision = decide();
      if (decision.out_of_time || decision.stop_requested) {
        stop = decision.stop_requested ? StopReason::interrupted : StopReason::time_limit;
        break;
      }
    }
  }
  if (!best.empty()) copy_into_model(model, best, "best weights");
  result.epochs = state.epoch;
  result.best_epoch = best_epoch;
  result.best_validation_loss = state.best_validation_loss;
  result.stop = divergence.empty() ? stop : StopReason::diverged;
  result.divergence = divergence;
  result.skipped_batches = skipped;
  result.steps = optimizer.step_count();
  return result;
}

}  // namespace lstm::apps
