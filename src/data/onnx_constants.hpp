// Constants of an ONNX graph: decoding TensorProtos, and folding the small operators that
// torch.onnx.export (do_constant_folding=False) uses to reorder weights. Not public API.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>  // defines ONNX_API, then includes onnx-ml.pb.h (ONNX_ML=1)

namespace lstm::onnx_detail {

// A constant tensor, float or integer, dense row-major.
struct ConstTensor {
  std::vector<int64_t> shape;
  bool integer = false;
  std::vector<float> floats;  // when !integer
  std::vector<int64_t> ints;  // when integer
  int64_t numel() const { return static_cast<int64_t>(integer ? ints.size() : floats.size()); }
};

// Decodes a TensorProto (float16/bfloat16/float/double as float; 8..64-bit integers and bool
// as int64). Throws lstm::Error("<file>: <where>: ...") on external data, unknown types, shapes
// that disagree with the data, or a tensor over `max_elements`.
ConstTensor decode_tensor(const onnx::TensorProto& tensor, const std::string& file,
                          const std::string& where, int64_t max_elements);

// True for FLOAT, DOUBLE, FLOAT16 and BFLOAT16 (decoded as float); false for integer types.
bool is_float_type(int type);

// "node 'name' (LSTM)" or "node #3 (LSTM)" when it has no name: how messages name a node.
std::string node_label(const onnx::NodeProto& node, int index);

// Values of a graph that do not depend on its inputs: initializers, Constant nodes and
// Identity/Cast/Unsqueeze/Squeeze/Reshape/Transpose/Concat/Slice of those.
class ConstantFolder {
 public:
  ConstantFolder(const onnx::GraphProto& graph, std::string file);

  // The value named `name`, or null if it is computed at run time (from a graph input, or by
  // an operator not folded here). Throws lstm::Error on a malformed constant or operator.
  const ConstTensor* value(const std::string& name);
  // The node that produces `name`, or null (graph input, initializer, or unknown).
  const onnx::NodeProto* producer(const std::string& name) const;
  int producer_index(const std::string& name) const;  // -1 if none
  bool is_graph_input(const std::string& name) const { return inputs_.count(name) != 0; }

 private:
  const ConstTensor* evaluate(const std::string& name, int depth);
  std::optional<ConstTensor> fold(const onnx::NodeProto& node, int index, int depth);

  const onnx::GraphProto& graph_;
  std::string file_;
  std::map<std::string, const onnx::TensorProto*> initializers_;
  std::map<std::string, int> producers_;  // output name -> node index
  std::map<std::string, bool> inputs_;    // graph inputs that are not initializers
  std::map<std::string, std::optional<ConstTensor>> cache_;
  int64_t folded_elements_ = 0;  // bounded, so that a hostile graph cannot exhaust memory
};

}  // namespace lstm::onnx_detail
