// Character-level language models: data, model, the training task (shuffled windows or truncated
// BPTT over streams), scoring in bits per character, and sampling.
#include "apps/charlm.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/random.hpp"
#include "data/json_text.hpp"

namespace lstm::apps {
namespace {

constexpr const char* kCharLmKey = "charlm";  // model metadata: {"window", "vocabulary"}
constexpr int64_t kScoreBatch = 128;          // score_text's default batch
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

// Scores windows [first_window, end_window) of the text in batches of `batch` (from
// first_window): per batch, the summed cross-entropy and the characters predicted, appended to
// `terms` as pairs.
void score_windows(SequenceModel& model, std::span<const int32_t> ids, int64_t window,
                   int64_t first_window, int64_t end_window, int64_t batch,
                   std::vector<double>& terms) {
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t V = model.config().output_size;
  WindowBatch data;
  for (int64_t first = first_window; first < end_window; first += batch) {
    const int64_t B = std::min(batch, end_window - first);
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
    terms.push_back(cross_entropy_loss(std::span<const float>(data.logits), V, data.classes, {}) *
                    static_cast<double>(predicted));
    terms.push_back(static_cast<double>(predicted));
  }
}

// The mean loss from score_windows' pairs, summed in order.
TextScore score_from_terms(std::span<const double> terms) {
  TextScore score;
  double total = 0.0;
  for (size_t k = 0; k + 1 < terms.size(); k += 2) {
    total += terms[k];
    score.predicted += static_cast<int64_t>(terms[k + 1]);
  }
  if (score.predicted > 0) score.loss = total / static_cast<double>(score.predicted);
  return score;
}

int64_t window_count(std::span<const int32_t> ids, int64_t window) {
  return (static_cast<int64_t>(ids.size()) - 1 + window - 1) / window;  // the last may be shorter
}

class CharLmTask final : public TrainingTask {
 public:
  CharLmTask(const CharLmData& data, const CharLmSetup& setup)
      : ids_(std::span<const int32_t>(data.ids).first(static_cast<size_t>(data.split))),
        validation_(std::span<const int32_t>(data.ids).subspan(static_cast<size_t>(data.split))),
        window_(setup.window),
        batch_(setup.batch),
        carry_state_(setup.carry_state),
        layer_rows_(setup.num_layers) {
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
      // order, a batch per window position, or a contiguous block of its streams: a shard);
      // otherwise window j of the text.
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
    if (carry_state_) carry(model, args, batch, samples.front() % batch_);
    model.forward(Mode::training, args);
    const double loss = cross_entropy_loss(std::span<const float>(batch_data_.logits), V,
                                           batch_data_.classes, batch_data_.grad);
    ModelBackwardArgs back;
    back.grad_output = batch_data_.grad.data();
    model.backward(back);
    if (carry_state_) keep_state(samples.front() % batch_, B);
    return loss;
  }

  double validation_loss(SequenceModel& model) override {
    return score_text(model, validation_, window_).loss;
  }
  // Part `part` of the validation windows: score_windows' pairs (the parts' pairs in order are
  // exactly score_text's batches when parts = 1).
  std::vector<double> validation_terms(SequenceModel& model, int64_t part, int64_t parts) override {
    const int64_t windows = window_count(validation_, window_);
    const int64_t first = windows * part / parts, end = windows * (part + 1) / parts;
    std::vector<double> terms;
    score_windows(model, validation_, window_, first, end, kScoreBatch, terms);
    return terms;
  }
  double validation_from_terms(std::span<const double> terms) override {
    return score_from_terms(terms).loss;
  }

  // h [L*D, streams, Hout] and c [L*D, streams, H]: the batch axis is the streams'.
  std::vector<std::pair<std::string, HostTensor>> carried_state() const override {
    if (!carry_state_ || h_.empty()) return {};
    std::vector<std::pair<std::string, HostTensor>> out;
    const int64_t rows = layer_rows_;
    out.emplace_back(
        "h", HostTensor{{rows, batch_, static_cast<int64_t>(h_.size()) / (rows * batch_)}, h_});
    if (!c_.empty())
      out.emplace_back(
          "c", HostTensor{{rows, batch_, static_cast<int64_t>(c_.size()) / (rows * batch_)}, c_});
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
  // Truncated BPTT: window position 0 starts from zeros; later ones from the previous state of
  // streams [first, first + B) (all of them, or a shard's block).
  void carry(const SequenceModel& model, ModelForwardArgs& args, int64_t batch, int64_t first) {
    const NetworkConfig& rnn = model.config().rnn;
    if (layer_rows_ != rnn.num_layers * rnn.directions())
      throw Error("language model task: the model's layers do not match the task's");
    const int64_t B = args.batch, Hout = rnn.output_size(), H = rnn.hidden_size;
    const bool lstm = rnn.cell == CellType::lstm;
    const size_t h_size = static_cast<size_t>(layer_rows_ * batch_ * Hout);
    const size_t c_size = lstm ? static_cast<size_t>(layer_rows_ * batch_ * H) : 0;
    if (h_.size() != h_size || c_.size() != c_size) {  // first use, or a checkpoint's state lost
      h_.assign(h_size, 0.0f);
      c_.assign(c_size, 0.0f);
    }
    h_in_.resize(static_cast<size_t>(layer_rows_ * B * Hout));
    h_next_.resize(h_in_.size());
    c_in_.resize(lstm ? static_cast<size_t>(layer_rows_ * B * H) : 0);
    c_next_.resize(c_in_.size());
    if (batch == 0) {
      std::fill(h_in_.begin(), h_in_.end(), 0.0f);
      std::fill(c_in_.begin(), c_in_.end(), 0.0f);
    } else {
      copy_columns(h_.data(), batch_, first, h_in_.data(), B, 0, B, Hout);
      if (lstm) copy_columns(c_.data(), batch_, first, c_in_.data(), B, 0, B, H);
    }
    args.h0 = h_in_.data();
    args.c0 = lstm ? c_in_.data() : nullptr;
    args.h_n = h_next_.data();
    args.c_n = lstm ? c_next_.data() : nullptr;
  }
  // The final states of streams [first, first + B) become their carried state.
  void keep_state(int64_t first, int64_t B) {
    const int64_t Hout = static_cast<int64_t>(h_next_.size()) / (layer_rows_ * B);
    copy_columns(h_next_.data(), B, 0, h_.data(), batch_, first, B, Hout);
    if (!c_next_.empty()) {
      const int64_t H = static_cast<int64_t>(c_next_.size()) / (layer_rows_ * B);
      copy_columns(c_next_.data(), B, 0, c_.data(), batch_, first, B, H);
    }
  }
  // Columns [from, from + count) of [rows, from_batch, X] to columns [to, to + count) of
  // [rows, to_batch, X].
  void copy_columns(const float* source, int64_t from_batch, int64_t from, float* target,
                    int64_t to_batch, int64_t to, int64_t count, int64_t X) const {
    for (int64_t r = 0; r < layer_rows_; ++r)
      std::copy_n(source + (r * from_batch + from) * X, count * X,
                  target + (r * to_batch + to) * X);
  }

  std::span<const int32_t> ids_, validation_;
  int64_t window_, batch_;
  bool carry_state_;
  int64_t stream_length_ = 0, windows_ = 0;
  WindowBatch batch_data_;
  int64_t layer_rows_;                  // L*D (D = 1)
  std::vector<float> h_, c_;            // [L*D, streams, Hout], [L*D, streams, H] carried states
  std::vector<float> h_in_, c_in_;      // [L*D, B, ·] this call's initial states
  std::vector<float> h_next_, c_next_;  // [L*D, B, ·] this call's final states
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
  config.rnn.highway = setup.highway;
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
  const json info{{"window", setup.window},
                  {"vocabulary", json_text::parse(data.vocabulary.to_json())}};
  model.metadata()[kCharLmKey] = json_text::dump(info);
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
    const json object = json_text::parse(entry->second);
    // A number that is not an integer (9.2e20) must not be converted (undefined; found by fuzzing).
    if (!object.at("window").is_number_integer()) fail(where, "'window' is not an integer");
    info.window = object.at("window").get<int64_t>();
    info.vocabulary = Vocabulary::from_json(where, json_text::dump(object.at("vocabulary")));
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
  std::vector<double> terms;
  score_windows(model, ids, window, 0, window_count(ids, window), batch, terms);
  return score_from_terms(terms);
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
