// Character-level language models: a vocabulary of the text's characters (or bytes), an
// embedding → recurrent network → linear head over the vocabulary at every step, trained on
// windows of the text, scored in bits per character, and sampled to generate text.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <optional>
#include <string>
#include <vector>

#include "apps/trainer.hpp"
#include "lstm/data.hpp"
#include "lstm/train.hpp"

namespace lstm::apps {

struct CharLmSetup {
  VocabularyKind kind = VocabularyKind::chars;
  int64_t window = 100;               // W: characters per training window
  double validation_fraction = 0.05;  // the end of the text
  // Truncated BPTT: the training text is cut into `batch` streams read in order, the state
  // carried from window to window. Off: independent windows in a shuffled order.
  bool carry_state = false;
  int64_t batch = 64;  // windows per batch (and streams with carry_state)
  CellType cell = CellType::lstm;
  bool peephole = false, coupled_gates = false, reset_before = false;  // variants (NetworkConfig)
  // LSTM: the forget gate's initial bias (SequenceModel::set_forget_bias), NaN for chrono
  // initialisation over the window (set_chrono_forget_bias); none: PyTorch's initialisation.
  std::optional<double> forget_bias;
  int64_t embedding = 64;  // E
  int64_t hidden_size = 512;
  int64_t num_layers = 1;
  double dropout = 0.0;  // between layers
  bool layer_norm = false;  // the layer-normalised LSTM (NetworkConfig::layer_norm)
  double zoneout = 0.0;     // NetworkConfig::zoneout
  bool residual = false;    // NetworkConfig::residual
  bool highway = false;     // NetworkConfig::highway
  uint64_t seed = 0;     // weight initialisation
};

// A text prepared for training: the vocabulary (of the whole text), its ids and the split.
struct CharLmData {
  Vocabulary vocabulary;
  std::vector<int32_t> ids;  // [N]
  int64_t split = 0;         // ids [0, split) train, [split, N) validation
};
// Reads `path`; throws lstm::Error naming the file if it is not text of the kind asked for or
// too short for one training window and one validation window.
CharLmData prepare_charlm_data(const std::string& path, const CharLmSetup& setup);
// Embedding [V, E] → recurrent core → head [V, Hcat] at every step, with the "charlm" metadata.
SequenceModel make_charlm_model(const CharLmData& data, const CharLmSetup& setup);
// The training task over data.ids[0, split) (validation: score_text over the rest).
std::unique_ptr<TrainingTask> make_charlm_task(const CharLmData& data, const CharLmSetup& setup);

// What a language model file says about its task: metadata key "charlm", a JSON object
// {"window": W, "vocabulary": Vocabulary::to_json()}.
struct CharLmInfo {
  Vocabulary vocabulary;  // V symbols; the model's embedding and head have V rows
  int64_t window = 0;     // W: the training window, also the scoring window of eval
};

// True if the model carries "charlm" metadata.
bool is_charlm(const SequenceModel& model);
// Reads and validates the metadata; throws lstm::Error naming `path` if absent or inconsistent
// with the model (vocabulary size vs embedding and head).
CharLmInfo charlm_info(const SequenceModel& model, const std::string& path);

// How well a model predicts a text: the text is cut into windows of `window` + 1 ids that
// overlap by one, each scored from a fresh (zero) state, so every id after the first is
// predicted exactly once from up to `window` ids before it.
struct TextScore {
  double loss = 0.0;        // mean cross-entropy in nats per predicted character
  int64_t predicted = 0;    // characters predicted
  double bits_per_char() const;  // loss / ln 2
};
TextScore score_text(SequenceModel& model, std::span<const int32_t> ids, int64_t window,
                     int64_t batch = 128);

// Samples text: feeds the prompt (at least one id), then draws each next id from
// softmax(logits / temperature) with the counter-based stream of `seed` (temperature 0: the most
// likely id). Calls `emit` with each new id as it is drawn.
void generate(SequenceModel& model, std::span<const int32_t> prompt, int64_t length,
              double temperature, uint64_t seed, const std::function<void(int32_t)>& emit);

}  // namespace lstm::apps
