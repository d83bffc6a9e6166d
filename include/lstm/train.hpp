// Training: losses, a sequence model ([embedding] → recurrent network → linear head), optimisers,
// gradient clipping, learning-rate schedules and checkpoints, with PyTorch's semantics throughout.
//
// A training step, for a model `model`, an optimiser `optimizer` and a schedule `schedule`:
//   model.zero_grad();
//   model.forward(Mode::training, forward);                         // forward.output: predictions
//   float loss = regression_loss(loss_config, predictions, targets, grad_predictions);
//   model.backward({.grad_output = grad_predictions.data()});      // gradients accumulate
//   clip_grad_norm(model.gradients(), max_norm);
//   optimizer.step(model.parameters(), schedule.lr_at(optimizer.step_count()));
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lstm/config.hpp"
#include "lstm/error.hpp"
#include "lstm/io.hpp"
#include "lstm/network.hpp"

namespace lstm {

// ---------------------------------------------------------------------------------------------
// Losses. Each is a mean: it returns the loss and OVERWRITES `grad` with dL/dprediction (an
// empty `grad` skips the gradient). Predictions are rows [N, C]; optional row weights w [N] give
//     L = Σ_r w_r Σ_c ℓ_rc / (C · Σ_r w_r)
// so a 0/1 mask ignores padded rows and the loss is the mean over the rows kept. Without weights
// every w_r = 1, which is PyTorch's reduction="mean". If Σ w = 0 the loss and gradient are 0.

enum class LossKind { mse, mae, huber, cross_entropy };
std::string_view loss_name(LossKind kind);   // "mse", "mae", "huber", "cross_entropy"
LossKind parse_loss(std::string_view name);  // throws lstm::Error on anything else

struct LossConfig {
  LossKind kind = LossKind::mse;
  double huber_delta = 1.0;  // δ of the Huber loss
};

// Regression losses on d = prediction − target (kind mse, mae or huber; cross_entropy throws):
//   mse ℓ = d², mae ℓ = |d| (gradient sign(d), 0 at d = 0, as PyTorch),
//   huber ℓ = ½d² if |d| < δ else δ(|d| − ½δ)  (PyTorch's HuberLoss).
// prediction, target, grad: [N, C] (any C ≥ 1); row_weight: [N] or empty.
float regression_loss(const LossConfig& loss, std::span<const float> prediction,
                      std::span<const float> target, std::span<float> grad,
                      std::span<const float> row_weight = {});
double regression_loss(const LossConfig& loss, std::span<const double> prediction,
                       std::span<const double> target, std::span<double> grad,
                       std::span<const double> row_weight = {});

// Softmax cross-entropy from logits [N, V] to classes [N]: ℓ_r = logsumexp(z_r) − z_r[class_r],
// computed with a max-shifted log-softmax. A row whose class is `ignore_index` has weight 0
// (PyTorch's ignore_index, whose default is -100; ours is -1); any other class outside [0, V)
// throws. grad: [N, V] or empty; row_weight: [N] or empty.
float cross_entropy_loss(std::span<const float> logits, int64_t vocab,
                         std::span<const int64_t> classes, std::span<float> grad,
                         std::span<const float> row_weight = {}, int64_t ignore_index = -1);
double cross_entropy_loss(std::span<const double> logits, int64_t vocab,
                          std::span<const int64_t> classes, std::span<double> grad,
                          std::span<const double> row_weight = {}, int64_t ignore_index = -1);

// ---------------------------------------------------------------------------------------------
// Parameters as an optimiser sees them.

// One named parameter tensor and its gradient: views into buffers a model owns.
struct ParameterView {
  std::string name;            // as PyTorch names it in a module, e.g. "rnn.weight_ih_l0"
  std::vector<int64_t> shape;  // e.g. {4H, I}
  std::span<float> value;      // [numel]
  std::span<float> grad;       // [numel]
};

// ---------------------------------------------------------------------------------------------
// SequenceModel: optional Embedding → Network<float> → Linear head, named as a PyTorch module
// with attributes `embedding`, `rnn`, `head`:
//   embedding.weight [V, E]   rnn.<PyTorch's RNN names>   head.weight [O, Hcat]   head.bias [O]
//
// Storage: the recurrent parameters live in the Network's own flat buffer (Network owns it);
// embedding.weight, head.weight and head.bias share a second flat buffer. ALL gradients are one
// flat buffer, gradients(), in the order above, so zero_grad is one fill and clipping one pass.
// parameters() lists every tensor with its value and gradient views, for the optimiser.

enum class HeadMode {
  // outputs [T, B, O]: the head on every step's output. Steps past a sequence's end see the
  // network's zero output, so they hold head.bias: give them weight 0 in the loss.
  every_step,
  // outputs [B, O]: the head on the last layer's final h — [forward h after step lengths[b]−1 |
  // reverse h after step 0] for a bidirectional network, exactly PyTorch's h_n[-D:].
  last_step,
};
std::string_view head_mode_name(HeadMode mode);  // "every_step", "last_step"
HeadMode parse_head_mode(std::string_view name);

struct SequenceModelConfig {
  NetworkConfig rnn;        // the recurrent core; with an embedding, rnn.input_size is its width E
  int64_t vocab_size = 0;   // V > 0: inputs are token ids [T, B] looked up in embedding.weight
  int64_t output_size = 0;  // O: the head's width (the vocabulary size for a language model)
  HeadMode head_mode = HeadMode::every_step;
  void validate() const;  // throws lstm::Error naming the field
};

struct ModelForwardArgs {
  int64_t seq_len = 0;               // T
  int64_t batch = 0;                 // B
  const float* input = nullptr;      // [T, B, I] features (a model without embedding); in
                                     // training mode it must stay unchanged until backward
  const int64_t* tokens = nullptr;   // [T, B] ids in [0, V), or -1 for padding (a zero vector)
  const int64_t* lengths = nullptr;  // [B], each in 1..T; null: every sequence has T steps
  const float* h0 = nullptr;         // [L*D, B, Hout]; null means zeros
  const float* c0 = nullptr;         // [L*D, B, H] (LSTM); null means zeros
  float* output = nullptr;           // written: every_step [T, B, O]; last_step [B, O]
  float* h_n = nullptr;              // [L*D, B, Hout] written if not null
  float* c_n = nullptr;              // [L*D, B, H] written if not null (LSTM)
  uint64_t dropout_seed = 0;         // training with rnn.dropout or rnn.zoneout > 0: seeds the masks
};

// After a training forward. Parameter gradients ACCUMULATE (+=) into gradients();
// grad_input, grad_h0, grad_c0 are OVERWRITTEN.
struct ModelBackwardArgs {
  const float* grad_output = nullptr;  // shaped as the forward's output; required
  float* grad_input = nullptr;         // [T, B, I] if not null (models without embedding only)
  float* grad_h0 = nullptr;            // [L*D, B, Hout] if not null
  float* grad_c0 = nullptr;            // [L*D, B, H] if not null (LSTM)
};

class SequenceModel {
 public:
  // Parameters start at zero; call init() or build the model from a file.
  explicit SequenceModel(const SequenceModelConfig& config);
  ~SequenceModel();
  SequenceModel(SequenceModel&&) noexcept;
  SequenceModel& operator=(SequenceModel&&) noexcept;

  const SequenceModelConfig& config() const { return config_; }
  Network<float>& network() { return network_; }
  const Network<float>& network() const { return network_; }
  // Task data saved with the model: normalisation statistics, vocabulary, column names...
  // The keys "config", "sequence_model" and "checkpoint" are reserved.
  std::map<std::string, std::string>& metadata() { return metadata_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // PyTorch's initialisation, deterministic in seed: embedding N(0, 1); rnn U(±1/√H) (as
  // Network::init_uniform(seed)); head U(±1/√Hcat). The LSTM forget-gate bias is not touched.
  void init(uint64_t seed);
  // A common training choice, not the default: the LSTM forget gate's bias_ih part = value and
  // bias_hh part = 0 in every layer and direction. Throws unless the core is an LSTM with bias.
  void set_forget_bias(float value);
  // Chrono initialisation (Tallec & Ollivier 2018) for sequences of about seq_len steps: unit h's
  // forget-gate bias_ih = log(u_h), u_h ~ U(1, seq_len − 1), its input gate's the negative
  // (implied with coupled gates, where i = 1 − f), the bias_hh parts 0; same throws.
  void set_chrono_forget_bias(int64_t seq_len, uint64_t seed);

  int64_t num_parameters() const { return static_cast<int64_t>(gradients_.size()); }
  // Every tensor, in module order: embedding.weight, rnn.*, head.weight, head.bias.
  std::vector<ParameterView> parameters();
  std::span<float> parameter(std::string_view name);   // throws lstm::Error if absent
  std::span<float> gradients() { return gradients_; }  // [num_parameters()] flat
  std::span<const float> gradients() const { return gradients_; }
  void zero_grad();

  // Runs the model over a batch. The model keeps its own workspace, so one thread at a time
  // calls forward/backward on one model. Throws lstm::Error on bad arguments (token ids outside the
  // vocabulary, lengths out of 1..T, missing buffers). Keeps what backward needs in training mode.
  void forward(Mode mode, const ModelForwardArgs& args);
  // Backpropagation through the last training forward.
  void backward(const ModelBackwardArgs& args);
  // The recurrent core's record of the last forward (see Network::record): throws unless it
  // was a training forward.
  ForwardRecord<float> record(int64_t layer, int64_t direction) const;

  // The tensors as a model file names them (module order), and the file's metadata: metadata()
  // plus "config" (the network's, see config_metadata) and "sequence_model" ({"head_mode": ...}).
  std::vector<std::pair<std::string, HostTensor>> tensors() const;
  std::map<std::string, std::string> file_metadata() const;
  // Builds a model from a model file's contents (`path` names it in messages): rnn.* as
  // network_from_tensors, head.weight/head.bias required, embedding.weight optional. Tensors
  // under "optimizer." and "trainer." (a training loop's own) and the metadata key "checkpoint"
  // are skipped, so a checkpoint is also a model file; any other tensor is an error. Without
  // "sequence_model" the head is every_step.
  static SequenceModel from_tensors(const SafetensorsContents& contents, const std::string& path);

 private:
  SequenceModel(const SequenceModelConfig& config, Network<float> network);
  struct Buffers;  // what forward keeps for backward, and backward's scratch

  SequenceModelConfig config_;
  Network<float> network_;
  // [V*E | O*Hcat | O]: embedding.weight, head.weight, head.bias
  std::vector<float> own_parameters_;
  // [V*E | rnn | O*Hcat | O]: every gradient, in module order
  std::vector<float> gradients_;
  std::map<std::string, std::string> metadata_;
  std::unique_ptr<Buffers> buffers_;
};

// Writes the model atomically as one safetensors file (tensors() and file_metadata()).
void save_sequence_model(const std::string& path, const SequenceModel& model);
// Reads a model file or a checkpoint; lstm::load_network also reads the recurrent core alone.
SequenceModel load_sequence_model(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Optimisers, with PyTorch's update rules (torch.optim in 1.13) in float32.

enum class OptimizerKind { sgd, adam, adamw };
std::string_view optimizer_name(OptimizerKind kind);  // "sgd", "adam", "adamw"
OptimizerKind parse_optimizer(std::string_view name);

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adam;
  // SGD and Adam: L2, g += wd·p. AdamW: decoupled, p -= lr·wd·p before the Adam update.
  double weight_decay = 0.0;
  double momentum = 0.0;   // SGD: buf = momentum·buf + (1 − dampening)·g (buf = g on step 1)
  double dampening = 0.0;  // SGD
  bool nesterov = false;   // SGD: step along g + momentum·buf (needs momentum > 0, dampening 0)
  double beta1 = 0.9;      // Adam, AdamW: first-moment decay
  double beta2 = 0.999;    // Adam, AdamW: second-moment decay
  double eps = 1e-8;       // Adam, AdamW: added to √(v/(1 − β2^t)), as PyTorch
  void validate() const;   // throws lstm::Error naming the field
};

// An optimiser's state, for checkpoints: tensors "<buffer>.<parameter name>" shaped like the
// parameters — momentum_buffer (SGD with momentum), or exp_avg and exp_avg_sq (Adam, AdamW).
struct OptimizerState {
  OptimizerConfig config;
  int64_t step_count = 0;  // steps taken (Adam's t)
  std::vector<std::pair<std::string, HostTensor>> tensors;
};

class Optimizer {
 public:
  // Records the parameters' names and shapes; the state starts at zero.
  Optimizer(const OptimizerConfig& config, std::span<const ParameterView> parameters);

  const OptimizerConfig& config() const { return config_; }
  int64_t step_count() const { return step_count_; }
  // One update of every parameter from its gradient, at learning rate lr. `parameters` must be
  // the list the optimiser was built with (same names, shapes and order).
  void step(std::span<const ParameterView> parameters, double lr);

  OptimizerState state() const;
  // Restores a state() (e.g. from a checkpoint; `source` names it in messages). The kind,
  // names and shapes must match; the rest of the config is taken from `state`.
  void load_state(const OptimizerState& state, const std::string& source);

 private:
  struct Slot {
    std::string name;
    std::vector<int64_t> shape;
    int64_t offset = 0;  // into the state buffers
    int64_t numel = 0;
  };
  void reset_state();  // zeroed buffers sized for config_ and the slots; step count 0

  OptimizerConfig config_;
  std::vector<Slot> slots_;
  std::vector<float> first_;   // [Σ numel] momentum_buffer (SGD) or exp_avg (Adam)
  std::vector<float> second_;  // [Σ numel] exp_avg_sq (Adam); empty for SGD
  int64_t step_count_ = 0;
};

// torch.nn.utils.clip_grad_norm_: the L2 norm of all gradients together; if it exceeds
// max_norm, every gradient is scaled by max_norm / (norm + 1e-6). Returns the norm before
// clipping. A non-finite norm leaves the gradients unchanged (check the result); a negative
// max_norm throws.
double clip_grad_norm(std::span<float> gradients, double max_norm);

// ---------------------------------------------------------------------------------------------
// Learning-rate schedules. Steps are 0-based optimiser steps; warm-up applies to every kind.

enum class ScheduleKind {
  constant,  // lr
  cosine,    // lr → min_lr along half a cosine over steps [warmup, total), then min_lr
  step,      // lr · gamma^⌊(step − warmup) / step_size⌋ (PyTorch's StepLR)
};
std::string_view schedule_name(ScheduleKind kind);  // "constant", "cosine", "step"
ScheduleKind parse_schedule(std::string_view name);

struct LrSchedule {
  ScheduleKind kind = ScheduleKind::constant;
  double lr = 1e-3;          // the base (peak) rate
  int64_t warmup_steps = 0;  // steps 0..warmup−1 rise linearly: lr · (step + 1) / warmup
  int64_t total_steps = 0;   // cosine: where the decay ends
  double min_lr = 0.0;       // cosine: the floor
  int64_t step_size = 1;     // step: steps between decays
  double gamma = 0.1;        // step: the decay factor
  double lr_at(int64_t step) const;
  void validate() const;  // throws lstm::Error naming the field
};

// A cool-down at the end of a time budget: the factor on the scheduled rate after `elapsed` of
// `limit` seconds, 1 until the last `fraction` of the budget, then falling linearly to 0 at its
// end. 1 when limit or fraction is 0. (Ending a run at a low rate removes the noise a constant
// rate leaves in the weights; a budget in seconds cannot be known in steps beforehand.)
double cooldown_factor(double elapsed, double limit, double fraction);

// ---------------------------------------------------------------------------------------------
// Checkpoints: everything needed to resume training, in ONE safetensors file written atomically:
// the model's tensors and metadata (so the checkpoint is also a model file), the optimiser's
// tensors as "optimizer.<buffer>.<parameter>", and under the metadata key "checkpoint" a JSON
// object with the progress, the optimiser's config and step count, and the free metadata.
// A save and a load give back bit-identical tensors and exactly the same numbers.

struct TrainingProgress {
  int64_t step = 0;          // optimiser steps taken
  int64_t epoch = 0;         // epochs completed
  uint64_t seed = 0;         // the run's seed (data order, dropout masks)
  uint64_t rng_counter = 0;  // the next counter of the counter-based random stream
  double best_validation_loss = std::numeric_limits<double>::infinity();  // must not be NaN
};

struct Checkpoint {
  SafetensorsContents model;  // tensors() and file_metadata() of the model
  OptimizerState optimizer;
  TrainingProgress progress;
  std::map<std::string, std::string> metadata;  // anything else, e.g. the training options
};

Checkpoint make_checkpoint(const SequenceModel& model, const Optimizer& optimizer,
                           const TrainingProgress& progress,
                           std::map<std::string, std::string> metadata = {});
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
Checkpoint load_checkpoint(const std::string& path);
// The checkpoint held in parsed safetensors contents; `name` stands for the path in messages.
Checkpoint checkpoint_from_contents(SafetensorsContents contents, const std::string& name);
// Resuming: SequenceModel::from_tensors(checkpoint.model, path), then an Optimizer built from
// checkpoint.optimizer.config and its load_state(checkpoint.optimizer, path).

}  // namespace lstm
