// libFuzzer target: the JSON of every model metadata key — config, sequence_model, forecast,
// normalization, charlm (vocabulary), checkpoint — replaced by any byte string in an otherwise
// valid model (or checkpoint) must load or throw lstm::Error, never crash. The first byte
// chooses the key; the rest is its value.
#include <cstddef>
#include <cstdint>
#include <string>

#include "apps/charlm.hpp"
#include "apps/forecast.hpp"
#include "lstm/data.hpp"
#include "lstm/error.hpp"
#include "lstm/train.hpp"

namespace {

// A valid forecast model (LSTM 1 → 2, head 2 → 1) and a checkpoint of it, as parsed contents.
struct Valid {
  lstm::SafetensorsContents model, checkpoint;
};

const Valid& valid() {
  static const Valid files = [] {
    lstm::SequenceModelConfig config;
    config.rnn.input_size = 1;
    config.rnn.hidden_size = 2;
    config.output_size = 1;
    config.head_mode = lstm::HeadMode::last_step;
    lstm::SequenceModel model(config);
    model.init(1);
    model.metadata()["forecast"] =
        R"({"task":"forecast","target":"y","columns":["y"],"window":4,"season":0,"horizon":1})";
    model.metadata()["normalization"] = R"({"mean":[0.5],"std":[2.0]})";
    model.metadata()["charlm"] = R"({"window":4,"vocabulary":{"kind":"chars","symbols":"ab"}})";
    Valid result;
    result.model.tensors = model.tensors();
    result.model.metadata = model.file_metadata();
    lstm::Optimizer optimizer(lstm::OptimizerConfig{}, model.parameters());
    lstm::TrainingProgress progress;
    const lstm::Checkpoint checkpoint = lstm::make_checkpoint(model, optimizer, progress, {});
    result.checkpoint = checkpoint.model;
    for (const auto& [name, tensor] : checkpoint.optimizer.tensors)
      result.checkpoint.tensors.emplace_back("optimizer." + name, tensor);
    result.checkpoint.metadata["checkpoint"] =
        R"({"step":0,"epoch":0,"seed":0,"rng_counter":0,"best_validation_loss":null,)"
        R"("optimizer":{"kind":"adam","weight_decay":0,"momentum":0,"dampening":0,)"
        R"("nesterov":false,"beta1":0.9,"beta2":0.999,"eps":1e-8,"step_count":0},"metadata":{}})";
    return result;
  }();
  return files;
}

void load_model(const lstm::SafetensorsContents& contents) {
  lstm::SequenceModel model = lstm::SequenceModel::from_tensors(contents, "fuzz.safetensors");
  try {
    (void)lstm::apps::forecast_info(model, "fuzz.safetensors");
  } catch (const lstm::Error&) {
  }
  try {
    (void)lstm::apps::charlm_info(model, "fuzz.safetensors");
  } catch (const lstm::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const char* keys[] = {"config", "sequence_model", "forecast", "normalization", "charlm",
                        "checkpoint"};
  const size_t key = data[0] % 6;
  const std::string value(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (key == 5) {
      lstm::SafetensorsContents contents = valid().checkpoint;
      contents.metadata["checkpoint"] = value;
      const lstm::Checkpoint checkpoint =
          lstm::checkpoint_from_contents(std::move(contents), "fuzz.ckpt");
      lstm::SequenceModel model =
          lstm::SequenceModel::from_tensors(checkpoint.model, "fuzz.ckpt");
      lstm::Optimizer optimizer(checkpoint.optimizer.config, model.parameters());
      optimizer.load_state(checkpoint.optimizer, "fuzz.ckpt");
    } else {
      lstm::SafetensorsContents contents = valid().model;
      contents.metadata[keys[key]] = value;
      load_model(contents);
    }
  } catch (const lstm::Error&) {
  }
  // The same text through the standalone metadata parsers.
  try {
    (void)lstm::Normalization::from_json("fuzz", value);
  } catch (const lstm::Error&) {
  }
  try {
    (void)lstm::Vocabulary::from_json("fuzz", value);
  } catch (const lstm::Error&) {
  }
  return 0;
}
