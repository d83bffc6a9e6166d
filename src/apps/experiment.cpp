// The long-lag experiments' training loop: fresh batches from an endless stream, Adam with
// gradient clipping, periodic evaluation on a fixed held-out set, an early finish once solved,
// a time limit, and a final test on other fresh sequences.
#include "apps/experiment.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <numbers>
#include <string>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "core/random.hpp"
#include "data/json_text.hpp"
#include "train/names.hpp"

namespace lstm::apps {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

constexpr detail::NameTable<ExperimentStop, 4> kStopNames = {
    {ExperimentStop::solved, "solved"},
    {ExperimentStop::time_limit, "time_limit"},
    {ExperimentStop::max_sequences, "max_sequences"},
    {ExperimentStop::diverged, "diverged"}};

// The data streams of a run: the same for every cell with the same seed.
enum class Purpose : uint64_t { train = 1, eval = 2, test = 3 };
uint64_t stream_of(uint64_t seed, Purpose purpose) {
  return mix64(seed ^ (0xD1B54A32D192ED03ull * static_cast<uint64_t>(purpose)));
}

[[noreturn]] void option_error(const std::string& option, const std::string& what) {
  throw Error("experiment: " + option + " " + what);
}

// The task's loss of predictions [B, O] for a batch; grad [B, O] is overwritten (or empty).
double task_loss(ExperimentTask task, std::span<const float> prediction, const TaskBatch& batch,
                 std::span<float> grad) {
  if (task == ExperimentTask::adding)
    return regression_loss(LossConfig{}, prediction, batch.targets, grad);
  return cross_entropy_loss(prediction, task_outputs(task), batch.classes, grad);
}

// Correct answers in a temporal-order batch: the class with the largest logit.
int64_t count_correct(std::span<const float> logits, const TaskBatch& batch) {
  int64_t correct = 0;
  for (int64_t b = 0; b < batch.batch; ++b) {
    const float* row = logits.data() + b * 4;
    const int64_t best = std::max_element(row, row + 4) - row;
    correct += best == batch.classes[b] ? 1 : 0;
  }
  return correct;
}

// What a model file's metadata "experiment" says about the run that made it.
nlohmann::ordered_json experiment_metadata(const ExperimentOptions& options) {
  nlohmann::ordered_json metadata = {{"task", task_name(options.task)}, {"cell", options.cell}};
  if (options.layer_norm) metadata["layer_norm"] = true;
  metadata["seq_len"] = options.seq_len;
  metadata["hidden"] = options.hidden;
  metadata["seed"] = options.seed;
  return metadata;
}

// Flushes subnormal floats to zero (FTZ and DAZ) on this thread while it lives. Over hundreds of
// steps the gradients that backpropagation carries back decay below 1e-38, and arithmetic on
// subnormal numbers is up to 100 times slower on x86 (10x slower training at T = 500); values
// that small change nothing here. The library's worker threads, started by the first forward,
// inherit the setting from this thread (Linux copies MXCSR to new threads).
#if defined(__SSE__)
class FlushSubnormals {
 public:
  static constexpr unsigned kFtzDaz = 0x8040;  // MXCSR bits 15 (FTZ) and 6 (DAZ)
  FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFtzDaz); }
  ~FlushSubnormals() { _mm_setcsr(saved_); }
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;

 private:
  unsigned saved_;
};
#else
struct FlushSubnormals {};
#endif

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

std::string_view stop_name(ExperimentStop stop) {
  return detail::name_of(kStopNames, stop);
}

void ExperimentOptions::validate() const {
  check_seq_len(task, seq_len);
  experiment_network(cell, task, std::max<int64_t>(hidden, 1), layer_norm);
  if (hidden < 1 || hidden > 16384) option_error("--hidden", "must be in 1..16384");
  if (batch < 1 || batch > 65536) option_error("--batch", "must be in 1..65536");
  if (layers < 1 || layers > 16) option_error("--layers", "must be in 1..16");
  if (residual && layers < 2) option_error("--residual", "connects stacked layers; it needs --layers 2 or more");
  if (highway && layers < 2) option_error("--highway", "gates stacked layers; it needs --layers 2 or more");
  if (highway && residual) option_error("--highway", "does not combine with --residual; choose one");
  if (!(lr > 0) || !std::isfinite(lr)) option_error("--lr", "must be a positive number");
  if (!(clip_norm >= 0) || !std::isfinite(clip_norm))
    option_error("--clip", "must be 0 (off) or a positive number");
  if (std::isinf(forget_bias)) option_error("--forget-bias", "must be finite (or chrono)");
  if (!(time_limit_seconds >= 0)) option_error("--time-limit", "must not be negative");
  if (max_sequences < 0) option_error("--max-sequences", "must not be negative");
  if (eval_every < 1) option_error("--eval-every", "must be at least 1 step");
  if (eval_size < 1) option_error("--eval-size", "must be at least 1");
  if (test_size < 1) option_error("--test-size", "must be at least 1");
}

bool is_solved(ExperimentTask task, const TaskScore& score, double margin) {
  const double threshold = 0.01 * margin;
  return task == ExperimentTask::adding ? score.loss < threshold
                                        : score.accuracy >= 1.0 - threshold;
}

double baseline_loss(ExperimentTask task) {
  return task == ExperimentTask::adding ? 1.0 / 6.0 : std::numbers::ln2 * 2.0;
}

TaskScore evaluate_task(SequenceModel& model, ExperimentTask task, int64_t seq_len, uint64_t stream,
                        int64_t count) {
  // Sequences per forward call: at most 500, and T·chunk ≤ 50 000 rows so that the input
  // projection the network keeps ([T, chunk, G·H]) stays near 100 MB.
  const int64_t chunk = std::clamp<int64_t>(50000 / seq_len, 1, 500);
  const int64_t outputs = task_outputs(task);
  std::vector<float> prediction;  // [chunk, O]
  double loss_sum = 0.0;
  int64_t correct = 0;
  for (int64_t first = 0; first < count; first += chunk) {
    const int64_t n = std::min(chunk, count - first);
    const TaskBatch batch = make_task_batch(task, seq_len, stream, first, n);
    prediction.resize(static_cast<size_t>(n * outputs));
    model.forward(Mode::inference, {.seq_len = seq_len, .batch = n, .input = batch.inputs.data(), .output = prediction.data()});
    loss_sum += task_loss(task, prediction, batch, {}) * static_cast<double>(n);
    if (task == ExperimentTask::temporal_order) correct += count_correct(prediction, batch);
  }
  TaskScore score;
  score.loss = loss_sum / static_cast<double>(count);
  score.accuracy = task == ExperimentTask::adding
                       ? kNaN
                       : static_cast<double>(correct) / static_cast<double>(count);
  return score;
}

SequenceModel make_experiment_model(const ExperimentOptions& options) {
  options.validate();
  SequenceModelConfig config;
  config.rnn = experiment_network(options.cell, options.task, options.hidden, options.layer_norm);
  config.rnn.zoneout = options.zoneout;
  config.rnn.num_layers = options.layers;
  config.rnn.residual = options.residual;
  config.rnn.highway = options.highway;
  config.output_size = task_outputs(options.task);
  config.head_mode = HeadMode::last_step;
  SequenceModel model(config);
  model.init(options.seed);
  if (config.rnn.cell == CellType::lstm && std::isnan(options.forget_bias))
    model.set_chrono_forget_bias(options.seq_len, options.seed);
  else if (config.rnn.cell == CellType::lstm)
    model.set_forget_bias(static_cast<float>(options.forget_bias));
  model.metadata()["experiment"] = json_text::dump(experiment_metadata(options));
  return model;
}

ExperimentResult run_experiment(SequenceModel& model, const ExperimentOptions& options,
                                const std::function<void(const HistoryPoint&)>& progress) {
  options.validate();
  const SequenceModelConfig& config = model.config();
  const ExperimentTask task = options.task;
  if (config.rnn.input_size != task_features(task) || config.output_size != task_outputs(task) ||
      config.head_mode != HeadMode::last_step || config.vocab_size != 0)
    throw Error("experiment: the model does not fit the " + std::string(task_name(task)) +
                " task (make it with make_experiment_model)");
  const FlushSubnormals flush_subnormals;
  const uint64_t train_stream = stream_of(options.seed, Purpose::train);
  const uint64_t eval_stream = stream_of(options.seed, Purpose::eval);
  const int64_t T = options.seq_len, B = options.batch, O = config.output_size;

  std::vector<ParameterView> parameters = model.parameters();
  Optimizer optimizer(OptimizerConfig{}, parameters);  // Adam, PyTorch's defaults
  std::vector<float> prediction(static_cast<size_t>(B * O)), grad(prediction.size());  // [B, O]
  ExperimentResult result;
  result.cell = options.cell;
  const Clock::time_point start = Clock::now();
  const std::clock_t cpu_start = std::clock();
  double loss_sum = 0.0;  // since the last evaluation
  int64_t loss_steps = 0;
  auto evaluate = [&] {
    HistoryPoint point;
    point.sequences_seen = result.sequences_seen;
    point.train_loss = loss_steps > 0 ? loss_sum / static_cast<double>(loss_steps) : kNaN;
    point.eval = evaluate_task(model, task, T, eval_stream, options.eval_size);
    point.seconds = seconds_since(start);
    result.history.push_back(point);
    loss_sum = 0.0;
    loss_steps = 0;
    if (progress) progress(point);
    return is_solved(task, point.eval, kStopMargin);
  };

  bool solved = evaluate();  // the untrained model's point starts the curve
  while (!solved) {
    const TaskBatch batch = make_task_batch(task, T, train_stream, result.sequences_seen, B);
    model.zero_grad();
    // A new zoneout mask for every batch (the model has no dropout).
    model.forward(Mode::training, {.seq_len = T, .batch = B, .input = batch.inputs.data(), .output = prediction.data(),
                                   .dropout_seed = mix64(options.seed ^ static_cast<uint64_t>(result.sequences_seen))});
    const double loss = task_loss(task, prediction, batch, grad);
    model.backward({.grad_output = grad.data()});
    const double norm =
        options.clip_norm > 0 ? clip_grad_norm(model.gradients(), options.clip_norm) : 0.0;
    if (!std::isfinite(loss) || !std::isfinite(norm)) {
      result.stop = ExperimentStop::diverged;
      break;
    }
    optimizer.step(parameters, options.lr);
    ++result.steps;
    result.sequences_seen += B;
    loss_sum += loss;
    ++loss_steps;
    const bool out_of_time =
        options.time_limit_seconds > 0 && seconds_since(start) >= options.time_limit_seconds;
    const bool out_of_sequences =
        options.max_sequences > 0 && result.sequences_seen >= options.max_sequences;
    if (result.steps % options.eval_every == 0 || out_of_time || out_of_sequences)
      solved = evaluate();
    if (!solved && (out_of_time || out_of_sequences)) {
      result.stop = out_of_time ? ExperimentStop::time_limit : ExperimentStop::max_sequences;
      break;
    }
  }
  if (solved) result.stop = ExperimentStop::solved;
  result.seconds = seconds_since(start);
  result.cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  result.test =
      evaluate_task(model, task, T, stream_of(options.seed, Purpose::test), options.test_size);
  result.solved = is_solved(task, result.test);
  return result;
}

void record_result(SequenceModel& model, const ExperimentOptions& options,
                   const ExperimentResult& result) {
  nlohmann::ordered_json about = experiment_metadata(options);
  about["sequences_seen"] = result.sequences_seen;
  about["test_loss"] = result.test.loss;
  about["solved"] = result.solved;
  if (options.task == ExperimentTask::temporal_order) about["test_accuracy"] = result.test.accuracy;
  model.metadata()["experiment"] = json_text::dump(about);
}

}  // namespace lstm::apps
