// SequenceModel files: one safetensors file with PyTorch module names (embedding.weight, rnn.*,
// head.weight, head.bias), the network's config and the head mode in the metadata.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "data/io_detail.hpp"
#include "data/json_text.hpp"
#include "lstm/error.hpp"
#include "lstm/onnx.hpp"
#include "lstm/train.hpp"
#include "train/file_keys.hpp"

namespace lstm {
namespace {

using detail::fail;
using detail::quote_name;
using detail::shape_string;

bool reserved_key(const std::string& key) {
  return key == "config" || key == train_keys::kModel || key == train_keys::kCheckpoint;
}

// A tensor that must be present with `shape` and finite values.
const HostTensor& require(const SafetensorsContents& contents, const std::string& path,
                          const std::string& name, const std::vector<int64_t>& shape,
                          const std::string& why) {
  const HostTensor* tensor = contents.find(name);
  if (!tensor) fail(path, "missing tensor " + quote_name(name) + " " + shape_string(shape) + why);
  if (tensor->shape != shape)
    fail(path, "tensor " + quote_name(name) + " has shape " + shape_string(tensor->shape) +
                   ", expected " + shape_string(shape) + why);
  const auto bad = std::find_if(tensor->data.begin(), tensor->data.end(),
                                [](float value) { return !std::isfinite(value); });
  if (bad != tensor->data.end())
    fail(path, "tensor " + quote_name(name) + " has a non-finite value at flat index " +
                   std::to_string(bad - tensor->data.begin()));
  return *tensor;
}

// The head mode from the metadata entry "sequence_model" (every_step if absent).
HeadMode read_head_mode(const SafetensorsContents& contents, const std::string& path) {
  const auto entry = contents.metadata.find(train_keys::kModel);
  if (entry == contents.metadata.end()) return HeadMode::every_step;
  const std::string where = std::string("metadata '") + train_keys::kModel + "': ";
  nlohmann::json stated;
  try {
    stated = json_text::parse(entry->second);
  } catch (const nlohmann::json::exception&) {
    fail(path, where + "not valid JSON");
  }
  if (!stated.is_object()) fail(path, where + "not a JSON object");
  HeadMode mode = HeadMode::every_step;
  for (const auto& item : stated.items()) {
    if (item.key() != "head_mode") fail(path, where + "unknown key " + quote_name(item.key()));
    if (!item.value().is_string()) fail(path, where + "'head_mode' is not a string");
    try {
      mode = parse_head_mode(item.value().get<std::string>());
    } catch (const Error& error) {
      fail(path, where + error.what());
    }
  }
  return mode;
}

}  // namespace

std::vector<std::pair<std::string, HostTensor>> SequenceModel::tensors() const {
  std::vector<std::pair<std::string, HostTensor>> out;
  for (const ParameterView& view : const_cast<SequenceModel*>(this)->parameters())
    out.emplace_back(view.name, HostTensor{view.shape, {view.value.begin(), view.value.end()}});
  return out;
}

std::map<std::string, std::string> SequenceModel::file_metadata() const {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : metadata_) {
    if (reserved_key(key))
      throw Error("sequence model: metadata key " + quote_name(key) + " is reserved");
    out.emplace(key, value);
  }
  out["config"] = config_metadata(config_.rnn);
  nlohmann::ordered_json model;
  model["head_mode"] = std::string(head_mode_name(config_.head_mode));
  out[train_keys::kModel] = json_text::dump(model);
  return out;
}

SequenceModel SequenceModel::from_tensors(const SafetensorsContents& contents,
                                          const std::string& path) {
  for (const auto& [name, tensor] : contents.tensors)
    if (!name.starts_with("rnn.") && !name.starts_with(train_keys::kOptimizerPrefix) &&
        !name.starts_with(train_keys::kTrainerPrefix) && name != "head.weight" && name != "head.bias" && name != "embedding.weight")
      fail(path, "unexpected tensor " + quote_name(name) +
                     " (a sequence model has embedding.weight, rnn.*, head.weight and head.bias)");
  Network<float> network = network_from_tensors(contents, path, "rnn.");

  SequenceModelConfig config;
  config.rnn = network.config();
  config.head_mode = read_head_mode(contents, path);
  const int64_t hcat = config.rnn.layer_output_size(), width = config.rnn.input_size;
  const HostTensor* weight = contents.find("head.weight");
  if (!weight) fail(path, "missing tensor 'head.weight' [O, " + std::to_string(hcat) + "]");
  if (weight->shape.size() != 2)
    fail(path,
         "tensor 'head.weight' should be a matrix but has shape " + shape_string(weight->shape));
  config.output_size = weight->shape[0];
  const std::string for_network = " for the network's output width " + std::to_string(hcat);
  require(contents, path, "head.weight", {config.output_size, hcat}, for_network);
  require(contents, path, "head.bias", {config.output_size}, " for head.weight's rows");
  const HostTensor* embedding = contents.find("embedding.weight");
  if (embedding) {
    if (embedding->shape.size() != 2)
      fail(path, "tensor 'embedding.weight' should be a matrix but has shape " +
                     shape_string(embedding->shape));
    config.vocab_size = embedding->shape[0];
    require(contents, path, "embedding.weight", {config.vocab_size, width},
            " for the network's input size " + std::to_string(width));
  }
  try {
    config.validate();
  } catch (const Error& error) {
    fail(path, error.what());
  }

  SequenceModel model(config, std::move(network));
  for (ParameterView& view : model.parameters())
    if (!view.name.starts_with("rnn."))
      std::ranges::copy(contents.find(view.name)->data, view.value.begin());
  for (const auto& [key, value] : contents.metadata)
    if (!reserved_key(key)) model.metadata_.emplace(key, value);
  return model;
}

void save_sequence_model(const std::string& path, const SequenceModel& model) {
  const std::vector<std::pair<std::string, HostTensor>> tensors = model.tensors();
  detail::require_finite_tensors(path, tensors);
  write_safetensors(path, tensors, model.file_metadata());
}

SequenceModel load_sequence_model(const std::string& path) {
  return SequenceModel::from_tensors(read_model_contents(path), path);  // .safetensors or .onnx
}

}  // namespace lstm
