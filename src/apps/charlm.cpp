// Character-level language models: data, model, the training task (shuffled windows or truncated
// BPTT over streams), scoring in bits per character, and sampling.
#include "apps/charlm.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

#include "core/random.hpp"

namespace lstm::apps {
namespace {

constexpr const char* kCharLmKey = "charlm";  // model metadata: {"window", "vocabulary"}
using json = nlohmann::json;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Error(where + ": " + what);
}

// Windows of `window` inputs, each predicting the id after each input: window k of a stream
// starting at `begin` reads ids[begin + kW, begin + (k+1)W] (W + 1 ids, overlapping by one).
struct WindowBatch {
  std::vector<int64_t> tokens;   // [W, B] inputs
  std::vector<int64_t> classes;  // [W, B] the next ids
  std::vector<float> logits;     // [W, B, V]
  std::vector<float> grad;       // [W, B, V]

  void resize(int64_t W, int64_t B, int64_t V) {
    tokens.resize(static_cast<size_t>(W * B));
    classes.resize(tokens.size());
    logits.resize(static_cast<size_t>(W * B * V));
  }
  // Column b from ids[start, start + length]; steps past length are padding (-1, ignored).
  void fill(int64_t b, int64_t B, std::span<const int32_t> ids, int64_t start, int64_t length,
            int64_t W) {
    for (int64_t t = 0; t < W; ++t) {
      const bool inside = t < length;
      tokens[t * B + b] = inside ? ids[start + t] : -1;
      classes[t * B + b] = inside ? ids[start + t + 1] : -1;
    }
  }
};

class CharLmTask final : public TrainingTask {
 public:
  CharLmTask(const CharLmData& data, const CharLmSetup& setup)
      : ids_(std::span<const int32_t>(data.ids).first(static_cast<size_t>(data.split))),
        validation_(std::span<const int32_t>(data.ids).subspan(static_cast<size_t>(data.split))),
        window_(setup.window),
        batch_(setup.batch),
        carry_state_(setup.carry_state) {
    const int64_t predictable = static_cast<int64_t>(ids_.size()) - 1;
    if (carry_state_) {
      stream_length_ = predictable / batch_;
      windows_ = stream_length_ / window_ * batch_;  // whole windows of every stream
    } else {
      windows_ = predictable / window_;
    }
  }

  int64_t count() const override { return windows_; }
  bool ordered() const override { return carry_state_; }

  double train_batch(SequenceModel& model, std::span<const int64_t> samples, int64_t batch,
                     uint64_t dropout_seed) override {
    const int64_t W = window_, B = static_cast<int64_t>(samples.size());
    const int64_t V = model.config().output_size;
    batch_data_.resize(W, B, V);
    batch_data_.grad.resize(batch_data_.logits.size());
    for (int64_t b = 0; b < B; ++b) {
      // Carrying state, sample j is window j / B of stream j % B (the trainer gives them in
      // order, a batch per window position); otherwise window j of the text.
      const int64_t j = samples[b];
      const int64_t start =
          carry_state_ ? (j % batch_) * stream_length_ + (j / batch_) * W : j * W;
      batch_data_.fill(b, B, ids_, start, W, W);
    }
    ModelForwardArgs args;
    args.seq_len = W;
    args.batch = B;
    args.tokens = batch_data_.tokens.data();
    args.output = batch_data_.logits.data();
    args.dropout_seed = dropout_seed;
    if (carry_state_) carry(model, args, batch);
    model.forward(Mode::training, args);
    const double loss = cross_entropy_loss(std::span<const float>(batch_data_.logits), V,
                                           batch_data_.classes, batch_data_.grad);
    ModelBackwardArgs back;
    back.grad_output = batch_data_.grad.data();
    model.backward(back);
    if (carry_state_) {
      std::swap(h_, h_next_);
      std::swap(c_, c_next_);
    }
    return loss;
  }

  double validation_loss(SequenceModel& model) override {
    return score_text(model, validation_, window_).loss;
  }

  std::vector<std::pair<std::string, HostTensor>> carried_state() const override {
    if (!carry_state_ || h_.empty()) return {};
    std::vector<std::pair<std::string, HostTensor>> out;
    out.emplace_back("h", HostTensor{{static_cast<int64_t>(h_.size())}, h_});
    if (!c_.empty()) out.emplace_back("c", HostTensor{{static_cast<int64_t>(c_.size())}, c_});
    return out;
  }
  void restore_carried_state(const std::vector<std::pair<std::string, HostTensor>>& tensors,
                             const std::string& source) override {
    for (const auto& [name, tensor] : tensors) {
      if (name == "h") h_ = tensor.data;
      else if (name == "c") c_ = tensor.data;
      else fail(source, "unexpected carried state '" + name + "'");
    }
  }

 private:
  // Truncated BPTT: window position 0 starts from zeros; later ones from the previous state.
  void carry(const SequenceModel& model, ModelForwardArgs& args, int64_t batch) {
    const NetworkConfig& rnn = model.config().rnn;
    const int64_t states = rnn.num_layers * rnn.directions() * args.batch;
    h_next_.resize(static_cast<size_t>(states * rnn.output_size()));
    if (rnn.cell == CellType::lstm) c_next_.resize(static_cast<size_t>(states * rnn.hidden_size));
    if (batch == 0 || h_.size() != h_next_.size()) {
      h_.assign(h_next_.size(), 0.0f);
      c_.assign(c_next_.size(), 0.0f);
    }
    args.h0 = h_.data();
    args.c0 = c_.empty() ? nullptr : c_.data();
    args.h_n = h_next_.data();
    args.c_n = c_next_.empty() ? nullptr : c_next_.data();
  }

  std::span<const int32_t> ids_, validation_;
  int64_t window_, batch_;
  bool carry_state_;
  int64_t stream_length_ = 0, windows_ = 0;
  WindowBatch batch_data_;
  std::vector<float> h_, c_, h_next_, c_next_;  // [L*D, B, Hout], [L*D, B, H] carried states
};

}  // namespace

CharLmData prepare_charlm_data(const std::string& path, const CharLmSetup& setup) {
  if (setup.window < 1) fail(path, "the window must be at least 1 character");
  if (setup.batch < 1) fail(path, "the batch must be at least 1 window");
  if (!(setup.validation_fraction > 0 && setup.validation_fraction < 1))
    fail(path, "the validation fraction must be between 0 and 1");
  const std::string text = read_text(path, setup.kind);
  CharLmData data;
  data.vocabulary = Vocabulary::from_text(path, text, setup.kind);
  data.ids = data.vocabulary.encode(path, text);
  const int64_t n = static_cast<int64_t>(data.ids.size());
  data.split = n - static_cast<int64_t>(std::llround(setup.validation_fraction * n));
  const int64_t needed_train = setup.carry_state ? setup.batch * setup.window + 1 : setup.window + 1;
  if (data.split < needed_train || n - data.split < 2)
    fail(path, "text too short: " + std::to_string(n) + " characters, but a training part of " +
                   std::to_string(needed_train) + " (" +
                   (setup.carry_state ? "batch x window + 1" : "window + 1") +
                   ") and a validation part of 2 are needed; use a smaller --window" +
                   (setup.carry_state ? " or --batch" : ""));
  return data;
}

SequenceModel make_charlm_model(const CharLmData& data, const CharLmSetup& setup) {
  SequenceModelConfig config;
  config.rnn.cell = setup.cell;
  config.rnn.peephole = setup.peephole;
  config.rnn.coupled_gates = setup.coupled_gates;
  config.rnn.reset_before = setup.reset_before;
  config.rnn.input_size = setup.embedding;
  config.rnn.hidden_size = setup.hidden_size;
  config.rnn.num_layers = setup.num_layers;
  config.rnn.dropout = setup.dropout;
  config.rnn.layer_norm = setup.layer_norm;
  config.rnn.zoneout = setup.zoneout;
  config.rnn.residual = setup.residual;
  config.vocab_size = data.vocabulary.size();
  config.output_size = data.vocabulary.size();
  config.head_mode = HeadMode::every_step;
  config.validate();
  SequenceModel model(config);
  model.init(setup.seed);
  if (setup.forget_bias && std::isnan(*setup.forget_bias))
    model.set_chrono_forget_bias(setup.window, setup.seed);
  else if (setup.forget_bias)
    model.set_forget_bias(static_cast<float>(*setup.forget_bias));
  const json info{{"window", setup.window}, {"vocabulary", json::parse(data.vocabulary.to_json())}};
  model.metadata()[kCharLmKey] = info.dump();
  return model;
}

std::unique_ptr<TrainingTask> make_charlm_task(const CharLmData& data, const CharLmSetup& setup) {
  return std::make_unique<CharLmTask>(data, setup);
}

bool is_charlm(const SequenceModel& model) { return model.metadata().contains(kCharLmKey); }

CharLmInfo charlm_info(const SequenceModel& model, const std::string& path) {
  const auto entry = model.metadata().find(kCharLmKey);
  if (entry == model.metadata().end())
    fail(path, "not a language model (no metadata 'charlm'); train one with "
               "'lstm train --task charlm'");
  CharLmInfo info;
  const std::string where = path + ": metadata 'charlm'";
  try {
    const json object = json::parse(entry->second);
    // A number that is not an integer (9.2e20) must not be converted (undefined; found by fuzzing).
    if (!object.at("window").is_number_integer()) fail(where, "'window' is not an integer");
    info.window = object.at("window").get<int64_t>();
    info.vocabulary = Vocabulary::from_json(where, object.at("vocabulary").dump());
  } catch (const json::exception& error) {
    fail(where, error.what());
  }
  if (info.window < 1) fail(where, "'window' must be at least 1");
  const SequenceModelConfig& config = model.config();
  if (config.vocab_size != info.vocabulary.size() || config.output_size != info.vocabulary.size() ||
      config.head_mode != HeadMode::every_step)
    fail(where, "the vocabulary has " + std::to_string(info.vocabulary.size()) +
                    " symbols but the model's embedding has " + std::to_string(config.vocab_size) +
                    " rows and its head " + std::to_string(config.output_size) +
                    " outputs at every step");
  return info;
}

double TextScore::bits_per_char() const { return loss / std::numbers::ln2; }

TextScore score_text(SequenceModel& model, std::span<const int32_t> ids, int64_t window,
                     int64_t batch) {
  if (window < 1 || batch < 1) throw Error("score_text: window and batch must be at least 1");
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t V = model.config().output_size;
  const int64_t windows = (n - 1 + window - 1) / window;  // the last may be shorter
  TextScore score;
  if (windows < 1) return score;
  WindowBatch data;
  double total = 0.0;
  for (int64_t first = 0; first < windows; first += batch) {
    const int64_t B = std::min(batch, windows - first);
    const int64_t W = std::min(window, n - 1 - first * window);  // steps in the longest window
    data.resize(W, B, V);
    int64_t predicted = 0;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t start = (first + b) * window;
      const int64_t length = std::min(window, n - 1 - start);
      data.fill(b, B, ids, start, length, W);
      predicted += length;
    }
    ModelForwardArgs args;
    args.seq_len = W;
    args.batch = B;
    args.tokens = data.tokens.data();
    args.output = data.logits.data();
    model.forward(Mode::inference, args);
    total += cross_entropy_loss(std::span<const float>(data.logits), V, data.classes, {}) *
             static_cast<double>(predicted);
    score.predicted += predicted;
  }
  score.loss = total / static_cast<double>(score.predicted);
  return score;
}

void generate(SequenceModel& model, std::span<const int32_t> prompt, int64_t length,
              double temperature, uint64_t seed, const std::function<void(int32_t)>& emit) {
  if (prompt.empty()) throw Error("generate: the prompt must have at least one character");
  if (!(temperature >= 0)) throw Error("generate: the temperature must be 0 or more");
  const SequenceModelConfig& config = model.config();
  const NetworkConfig& rnn = config.rnn;
  const int64_t V = config.output_size;
  const int64_t states = rnn.num_layers * rnn.directions();
  const bool lstm = rnn.cell == CellType::lstm;
  // Ping-pong states [L*D, 1, Hout] / [L*D, 1, H]: the forward reads one and writes the other.
  std::vector<float> h[2], c[2];
  for (int k = 0; k < 2; ++k) {
    h[k].assign(static_cast<size_t>(states * rnn.output_size()), 0.0f);
    if (lstm) c[k].assign(static_cast<size_t>(states * rnn.hidden_size), 0.0f);
  }
  std::vector<int64_t> tokens(prompt.begin(), prompt.end());  // [T, 1]
  std::vector<float> logits(static_cast<size_t>(static_cast<int64_t>(tokens.size()) * V));
  std::vector<double> weights(static_cast<size_t>(V));
  int current = 0;
  uint64_t counter = 0;
  for (int64_t produced = 0; produced < length; ++produced) {
    const int64_t T = static_cast<int64_t>(tokens.size());
    ModelForwardArgs args;
    args.seq_len = T;
    args.batch = 1;
    args.tokens = tokens.data();
    args.output = logits.data();
    args.h0 = h[current].data();
    args.c0 = lstm ? c[current].data() : nullptr;
    args.h_n = h[1 - current].data();
    args.c_n = lstm ? c[1 - current].data() : nullptr;
    model.forward(Mode::inference, args);
    current = 1 - current;
    const float* last = logits.data() + (T - 1) * V;  // [V] the next id's logits
    int32_t next = 0;
    if (temperature == 0) {
      next = static_cast<int32_t>(std::max_element(last, last + V) - last);
    } else {
      const float top = *std::max_element(last, last + V);
      double sum = 0.0;
      for (int64_t v = 0; v < V; ++v)
        sum += weights[v] = std::exp((static_cast<double>(last[v]) - top) / temperature);
      double u = uniform01(seed, counter++) * sum;
      next = static_cast<int32_t>(V - 1);
      for (int64_t v = 0; v < V; ++v) {
        u -= weights[v];
        if (u < 0) {
          next = static_cast<int32_t>(v);
          break;
        }
      }
    }
    emit(next);
    tokens.assign(1, next);
  }
}

}  // namespace lstm::apps
