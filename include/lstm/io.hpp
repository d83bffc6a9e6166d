// Files: safetensors (weights, states, gradients), NumPy .npy (arrays), and model files that
// map a Network to PyTorch's state_dict names (SPEC.md §4). Every reader validates everything
// and throws lstm::Error whose message starts with the path and names the tensor or field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lstm/config.hpp"
#include "lstm/network.hpp"

namespace lstm {

// A dense row-major float32 array with its shape.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t numel() const;
};

// A dense row-major int64 array (lengths, token ids) with its shape.
struct IntTensor {
  std::vector<int64_t> shape;
  std::vector<int64_t> data;
};

struct SafetensorsContents {
  std::vector<std::pair<std::string, HostTensor>> tensors;  // in file order
  std::map<std::string, std::string> metadata;               // the header's "__metadata__"
  const HostTensor* find(const std::string& name) const;     // null if absent
};

// Reads a whole safetensors file. F32 is read as is; F64, F16 and BF16 are converted to float.
// Rejects: short or oversized header, malformed JSON, unknown dtypes, shapes that do not match
// the byte ranges, offsets past the end, overlapping or unsorted ranges, bytes not covered.
SafetensorsContents read_safetensors(const std::string& path);
// Parses an in-memory safetensors image; `name` stands for the path in messages.
SafetensorsContents parse_safetensors(const std::string& name, const unsigned char* bytes, size_t size);
// Writes F32 tensors, atomically (temporary file, fsync, rename): the file is complete or absent.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, HostTensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Reads a float array: float32, float64 or float16, little- or big-endian, C or Fortran order.
HostTensor read_npy(const std::string& path);
// Reads an integer array: int32 or int64 (also int8/16, uint8/16/32).
IntTensor read_npy_integers(const std::string& path);
// Parses an in-memory .npy image as a float array; `name` stands for the path in messages.
HostTensor parse_npy(const std::string& name, const unsigned char* bytes, size_t size);
// Writes little-endian float32, C order, atomically.
void write_npy(const std::string& path, const HostTensor& tensor);

// Writes bytes to path atomically: a temporary file beside it, fsync, rename.
void write_file_atomically(const std::string& path, const std::string& bytes);

// What a model file cannot say by itself, or what the user overrides (e.g. --cell rnn_relu).
struct ConfigOverrides {
  std::optional<CellType> cell;
  std::optional<double> dropout;
  // With `cell`: the variants the shapes cannot tell (NetworkConfig::coupled_gates, reset_before).
  bool coupled_gates = false, reset_before = false;
};

// Infers the configuration from tensor names and shapes (and "config" in the metadata) of the
// tensors whose names start with `prefix` ("" for a bare network, "rnn." inside a trained model).
NetworkConfig infer_config(const SafetensorsContents& contents, const std::string& path,
                           const std::string& prefix = "", const ConfigOverrides& overrides = {});
// Builds a network from the tensors under `prefix`; every tensor under it must belong to the
// network and every network tensor must be present with its exact shape.
Network<float> network_from_tensors(const SafetensorsContents& contents, const std::string& path,
                                    const std::string& prefix = "",
                                    const ConfigOverrides& overrides = {});
// Reads a model file: a bare network, or a trained model whose recurrent tensors are under "rnn.".
Network<float> load_network(const std::string& path, const ConfigOverrides& overrides = {});
// The network's tensors, named with `prefix`, ready to write.
std::vector<std::pair<std::string, HostTensor>> network_tensors(const Network<float>& network,
                                                                const std::string& prefix = "");
// The "config" metadata entry (JSON) that records what names and shapes cannot.
std::string config_metadata(const NetworkConfig& config);
// Writes a bare network with PyTorch's names, plus its config in the metadata.
void save_network(const std::string& path, const Network<float>& network,
                  std::map<std::string, std::string> metadata = {});

}  // namespace lstm
