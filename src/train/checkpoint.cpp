// Checkpoints: model tensors, optimiser state and training progress in one safetensors file.
#include <cmath>
#include <string>
#include <utility>

#include "data/io_detail.hpp"
#include "data/json_text.hpp"
#include "lstm/error.hpp"
#include "lstm/train.hpp"
#include "train/file_keys.hpp"

namespace lstm {
namespace {

using detail::fail;
using detail::quote_name;
using nlohmann::json;

json optimizer_json(const OptimizerState& state) {
  const OptimizerConfig& c = state.config;
  return json{{"kind", std::string(optimizer_name(c.kind))},
              {"weight_decay", c.weight_decay},
              {"momentum", c.momentum},
              {"dampening", c.dampening},
              {"nesterov", c.nesterov},
              {"beta1", c.beta1},
              {"beta2", c.beta2},
              {"eps", c.eps},
              {"step_count", state.step_count}};
}

// Reads the fields of the "checkpoint" metadata object; every message names the path and field.
class JsonReader {
 public:
  JsonReader(const std::string& path, std::string where) : path_(path), where_(std::move(where)) {}

  const json& field(const json& object, const char* key) const {
    const auto found = object.find(key);
    if (found == object.end()) fail(path_, where_ + "missing field " + quote_name(key));
    return *found;
  }
  int64_t integer(const json& object, const char* key) const {
    const json& value = field(object, key);
    if (!value.is_number_integer() ||
        (value.is_number_unsigned() && value.get<uint64_t>() > INT64_MAX))
      fail(path_, where_ + quote_name(key) + " is not a 64-bit integer");
    return value.get<int64_t>();
  }
  uint64_t unsigned_integer(const json& object, const char* key) const {
    const json& value = field(object, key);
    if (!value.is_number_unsigned())
      fail(path_, where_ + quote_name(key) + " is not an unsigned integer");
    return value.get<uint64_t>();
  }
  double real(const json& object, const char* key) const {
    const json& value = field(object, key);
    if (!value.is_number()) fail(path_, where_ + quote_name(key) + " is not a number");
    return value.get<double>();
  }
  bool boolean(const json& object, const char* key) const {
    const json& value = field(object, key);
    if (!value.is_boolean()) fail(path_, where_ + quote_name(key) + " is not true or false");
    return value.get<bool>();
  }
  std::string text(const json& object, const char* key) const {
    const json& value = field(object, key);
    if (!value.is_string()) fail(path_, where_ + quote_name(key) + " is not a string");
    return value.get<std::string>();
  }

 private:
  const std::string& path_;
  std::string where_;
};

OptimizerState read_optimizer(const json& object, const JsonReader& read, const std::string& path) {
  OptimizerState state;
  try {
    state.config.kind = parse_optimizer(read.text(object, "kind"));
  } catch (const Error& error) {
    fail(path, std::string("metadata 'checkpoint': ") + error.what());
  }
  state.config.weight_decay = read.real(object, "weight_decay");
  state.config.momentum = read.real(object, "momentum");
  state.config.dampening = read.real(object, "dampening");
  state.config.nesterov = read.boolean(object, "nesterov");
  state.config.beta1 = read.real(object, "beta1");
  state.config.beta2 = read.real(object, "beta2");
  state.config.eps = read.real(object, "eps");
  state.step_count = read.integer(object, "step_count");
  return state;
}

}  // namespace

Checkpoint make_checkpoint(const SequenceModel& model, const Optimizer& optimizer,
                           const TrainingProgress& progress,
                           std::map<std::string, std::string> metadata) {
  Checkpoint checkpoint;
  checkpoint.model.tensors = model.tensors();
  checkpoint.model.metadata = model.file_metadata();
  checkpoint.optimizer = optimizer.state();
  checkpoint.progress = progress;
  checkpoint.metadata = std::move(metadata);
  return checkpoint;
}

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  const TrainingProgress& p = checkpoint.progress;
  if (std::isnan(p.best_validation_loss)) fail(path, "not written: best validation loss is NaN");
  std::vector<std::pair<std::string, HostTensor>> tensors = checkpoint.model.tensors;
  for (const auto& item : tensors)
    if (item.first.starts_with(train_keys::kOptimizerPrefix))
      fail(path, "model tensor " + quote_name(item.first) + " uses the optimizer's prefix");
  for (const auto& [name, tensor] : checkpoint.optimizer.tensors)
    tensors.emplace_back(train_keys::kOptimizerPrefix + name, tensor);
  detail::require_finite_tensors(path, tensors);

  std::map<std::string, std::string> metadata = checkpoint.model.metadata;
  if (metadata.count(train_keys::kCheckpoint))
    fail(path, "model metadata key 'checkpoint' is reserved");
  json state{
      {"step", p.step},
      {"epoch", p.epoch},
      {"seed", p.seed},
      {"rng_counter", p.rng_counter},
      // JSON has no infinity: null stands for "no validation loss yet".
      {"best_validation_loss", std::isinf(p.best_validation_loss) && p.best_validation_loss > 0
                                   ? json(nullptr)
                                   : json(p.best_validation_loss)},
      {"optimizer", optimizer_json(checkpoint.optimizer)},
      {"metadata", checkpoint.metadata}};
  metadata[train_keys::kCheckpoint] = json_text::dump(state);
  write_safetensors(path, tensors, metadata);
}

Checkpoint load_checkpoint(const std::string& path) {
  return checkpoint_from_contents(read_safetensors(path), path);
}

Checkpoint checkpoint_from_contents(SafetensorsContents contents, const std::string& path) {
  Checkpoint checkpoint;
  for (auto& [name, tensor] : contents.tensors) {
    if (name.starts_with(train_keys::kOptimizerPrefix))
      checkpoint.optimizer.tensors.emplace_back(
          name.substr(std::string(train_keys::kOptimizerPrefix).size()), std::move(tensor));
    else
      checkpoint.model.tensors.emplace_back(name, std::move(tensor));
  }
  const auto entry = contents.metadata.find(train_keys::kCheckpoint);
  if (entry == contents.metadata.end()) fail(path, "not a checkpoint: no metadata 'checkpoint'");
  json state;
  try {
    state = json_text::parse(entry->second);
  } catch (const json::exception&) {
    fail(path, "metadata 'checkpoint': not valid JSON");
  }
  if (!state.is_object()) fail(path, "metadata 'checkpoint': not a JSON object");
  const JsonReader read(path, "metadata 'checkpoint': ");
  TrainingProgress& p = checkpoint.progress;
  p.step = read.integer(state, "step");
  p.epoch = read.integer(state, "epoch");
  p.seed = read.unsigned_integer(state, "seed");
  p.rng_counter = read.unsigned_integer(state, "rng_counter");
  const json& best = read.field(state, "best_validation_loss");
  p.best_validation_loss = best.is_null() ? INFINITY : read.real(state, "best_validation_loss");

  const json& optimizer = read.field(state, "optimizer");
  if (!optimizer.is_object()) fail(path, "metadata 'checkpoint': 'optimizer' is not an object");
  const OptimizerState settings =
      read_optimizer(optimizer, JsonReader(path, "metadata 'checkpoint' optimizer: "), path);
  checkpoint.optimizer.config = settings.config;
  checkpoint.optimizer.step_count = settings.step_count;

  const json& free = read.field(state, "metadata");
  if (!free.is_object()) fail(path, "metadata 'checkpoint': 'metadata' is not an object");
  const JsonReader read_free(path, "metadata 'checkpoint' metadata: ");
  for (const auto& item : free.items())
    checkpoint.metadata[item.key()] = read_free.text(free, item.key().c_str());

  contents.metadata.erase(entry);
  checkpoint.model.metadata = std::move(contents.metadata);
  return checkpoint;
}

}  // namespace lstm
