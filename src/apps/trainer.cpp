// The training loop: shuffled mini-batches, validation every epoch, best weights, early stopping,
// time limit, and checkpoints (with the best weights inside) written atomically every epoch.
#include "apps/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string_view>
#include <utility>

#include "core/random.hpp"

namespace lstm::apps {
namespace {

constexpr std::string_view kBestPrefix = "best.";  // best weights inside a checkpoint
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

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

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
  }
  return "?";
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
  if (options.batch_size < 1) fail("training", "batch size must be at least 1");
  if (options.max_epochs < 1) fail("training", "epochs must be at least 1");
  const Clock::time_point start = Clock::now();

  const int64_t batches = (train.count + options.batch_size - 1) / options.batch_size;
  LrSchedule schedule;
  schedule.kind = ScheduleKind::cosine;
  schedule.lr = options.lr;
  schedule.total_steps = batches * options.max_epochs;
  schedule.warmup_steps =
      std::max<int64_t>(1, static_cast<int64_t>(options.warmup_fraction * schedule.total_steps));
  schedule.min_lr = options.lr * options.min_lr_factor;
  schedule.validate();

  std::vector<ParameterView> parameters = model.parameters();
  Optimizer optimizer(options.optimizer, parameters);
  TrainingProgress state;
  state.seed = options.seed;
  int64_t best_epoch = 0;
  NamedTensors best;  // the model's tensors at its best epoch
  TrainResult result;

  if (options.resume) {
    const std::string& path = options.checkpoint_path;
    if (path.empty()) fail("training", "resuming needs a checkpoint path");
    Checkpoint checkpoint = load_checkpoint(path);
    // The task data (columns, normalisation, window...) must be what this run computed.
    for (const auto& [key, value] : model.metadata()) {
      const auto entry = checkpoint.model.metadata.find(key);
      if (entry == checkpoint.model.metadata.end() || entry->second != value)
        fail(path, "the checkpoint was made with other data or options (metadata '" + key +
                       "' differs); resume with the same command line");
    }
    NamedTensors current;
    for (auto& [name, tensor] : checkpoint.model.tensors) {
      if (name.starts_with(kBestPrefix))
        best.emplace_back(name.substr(kBestPrefix.size()), std::move(tensor));
      else
        current.emplace_back(name, std::move(tensor));
    }
    copy_into_model(model, current, path);
    optimizer.load_state(checkpoint.optimizer, path);
    state = checkpoint.progress;
    const auto entry = checkpoint.metadata.find("best_epoch");
    if (entry != checkpoint.metadata.end()) best_epoch = std::stoll(entry->second);
    if (best_epoch > 0 && best.empty()) fail(path, "checkpoint has no best weights");
    result.resumed = true;
  }

  std::vector<int64_t> order(static_cast<size_t>(train.count));
  std::vector<float> x, y, prediction, grad;
  bool stopped_by_time = false;
  StopReason stop = StopReason::max_epochs;
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
    std::iota(order.begin(), order.end(), int64_t{0});
    for (int64_t k = train.count - 1; k > 0; --k) {
      const double u = uniform01(state.seed, state.rng_counter++);
      std::swap(order[k], order[std::min(k, static_cast<int64_t>(u * static_cast<double>(k + 1)))]);
    }
    double loss_sum = 0.0;
    bool interrupted = false;
    for (int64_t batch = 0; batch < batches; ++batch) {
      if (options.time_limit_seconds > 0 && state.epoch > 0 &&
          seconds_since(start) > options.time_limit_seconds) {
        interrupted = true;
        break;
      }
      const int64_t first = batch * options.batch_size;
      const int64_t B = std::min(options.batch_size, train.count - first);
      gather(train, std::span<const int64_t>(order).subspan(first, B), x, y);
      prediction.resize(y.size());
      grad.resize(y.size());
      model.zero_grad();
      ModelForwardArgs args;
      args.seq_len = train.steps;
      args.batch = B;
      args.input = x.data();
      args.output = prediction.data();
      model.forward(Mode::training, args);
      loss_sum += regression_loss(options.loss, std::span<const float>(prediction),
                                  std::span<const float>(y), grad) *
                  static_cast<double>(B);
      ModelBackwardArgs back;
      back.grad_output = grad.data();
      model.backward(back);
      if (options.clip_norm > 0) clip_grad_norm(model.gradients(), options.clip_norm);
      optimizer.step(parameters, schedule.lr_at(optimizer.step_count()));
    }
    if (interrupted) {
      stopped_by_time = true;
      break;
    }
    state.epoch += 1;
    state.step = optimizer.step_count();
    const double validation_loss = evaluate_loss(model, validation, options.loss);
    const bool improved = validation_loss < state.best_validation_loss;
    if (improved) {
      state.best_validation_loss = validation_loss;
      best_epoch = state.epoch;
      best = model.tensors();
    }
    if (!options.checkpoint_path.empty()) {
      Checkpoint checkpoint =
          make_checkpoint(model, optimizer, state, {{"best_epoch", std::to_string(best_epoch)}});
      for (const auto& [name, tensor] : best)
        checkpoint.model.tensors.emplace_back(std::string(kBestPrefix) + name, tensor);
      save_checkpoint(options.checkpoint_path, checkpoint);
    }
    if (progress) {
      EpochReport report;
      report.epoch = state.epoch;
      report.max_epochs = options.max_epochs;
      report.step = state.step;
      report.lr = schedule.lr_at(std::max<int64_t>(0, state.step - 1));
      report.train_loss = loss_sum / static_cast<double>(train.count);
      report.validation_loss = validation_loss;
      report.best_validation_loss = state.best_validation_loss;
      report.improved = improved;
      report.epoch_seconds = seconds_since(epoch_start);
      report.samples_per_second =
          static_cast<double>(train.count) / std::max(report.epoch_seconds, 1e-9);
      report.eta_seconds =
          report.epoch_seconds * static_cast<double>(options.max_epochs - state.epoch);
      if (options.time_limit_seconds > 0)
        report.eta_seconds = std::min(
            report.eta_seconds, std::max(0.0, options.time_limit_seconds - seconds_since(start)));
      progress(report);
    }
    if (options.time_limit_seconds > 0 && seconds_since(start) > options.time_limit_seconds &&
        state.epoch < options.max_epochs) {
      stopped_by_time = true;
      break;
    }
  }
  if (stopped_by_time) stop = StopReason::time_limit;
  if (!best.empty()) copy_into_model(model, best, "best weights");
  result.epochs = state.epoch;
  result.best_epoch = best_epoch;
  result.best_validation_loss = state.best_validation_loss;
  result.stop = stop;
  result.steps = optimizer.step_count();
  return result;
}

}  // namespace lstm::apps
