// The ONNX importer's internals: which operators it accepts, one recurrent layer as read from
// its node, the linear head, and the Importer that walks a graph. Not public API.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "data/io_detail.hpp"
#include "data/onnx_constants.hpp"
#include "lstm/config.hpp"
#include "lstm/io.hpp"

namespace lstm::onnx_detail {

// Operators that may appear in an importable graph besides the recurrent nodes: the weight
// reordering and layout plumbing torch.onnx.export writes, and the zero initial states it
// builds with Shape/Gather/Expand.
inline const std::set<std::string> plumbing_operators = {
    "Constant", "Identity", "Cast",  "Unsqueeze", "Squeeze",         "Reshape", "Transpose",
    "Concat",   "Slice",    "Shape", "Gather",    "ConstantOfShape", "Expand",  "Dropout"};
// Operators allowed only as part of a recognised embedding (Gather) or linear head
// (MatMul + Add, or Gemm): anywhere else they are an error.
inline const std::set<std::string> module_operators = {"MatMul", "Add", "Gemm"};
// Operators that only move data between layers (X of layer k from Y of layer k-1).
inline const std::set<std::string> layout_operators = {"Transpose", "Reshape",  "Squeeze",
                                                       "Unsqueeze", "Identity", "Dropout"};

// One of our gate blocks, taken from ONNX's block `block` times `sign`.
struct OnnxBlock {
  int64_t block;
  float sign;
};

// For our (PyTorch's) gate blocks in order, the ONNX blocks they come from. Coupled gates
// (input_forget=1: onnxruntime computes f = 1 − i, and ignores the f block): our f, g, o from
// ONNX's −i, c, o, since σ(−a) = 1 − σ(a).
inline std::vector<OnnxBlock> gate_source(CellType cell, bool coupled_gates) {
  if (coupled_gates) return {{0, -1}, {3, 1}, {1, 1}};
  if (cell == CellType::lstm) return {{0, 1}, {2, 1}, {3, 1}, {1, 1}};  // i,f,g,o <- i,o,f,c
  if (cell == CellType::gru) return {{1, 1}, {0, 1}, {2, 1}};          // r,z,n <- z,r,h
  return {{0, 1}};
}

// Our peepholes i, f, o from ONNX's P (i, o, f); coupled gates: f, o from −i, o.
inline std::vector<OnnxBlock> peephole_source(bool coupled_gates) {
  if (coupled_gates) return {{0, -1}, {1, 1}};
  return {{0, 1}, {2, 1}, {1, 1}};
}

// A linear head after the last layer: y = x Wᵀ + b.
struct Head {
  std::vector<float> weight;  // [O, Hcat] (PyTorch's Linear.weight)
  std::vector<float> bias;    // [O]
  int64_t outputs = 0;        // O
  bool last_step = false;     // reads the final h [B, D*H] rather than every step's output
};

// One recurrent node, its attributes read and its constant inputs evaluated.
struct Layer {
  const onnx::NodeProto* node = nullptr;
  std::string label;
  CellType cell = CellType::lstm;
  bool input_forget = false;  // LSTM: coupled input and forget gates (our coupled_gates)
  bool reset_before = false;  // GRU: linear_before_reset = 0 (our reset_before)
  int64_t hidden = 0;
  int64_t directions = 1;
  const ConstTensor* W = nullptr;  // [D, G*H, I]
  const ConstTensor* R = nullptr;  // [D, G*H, H]
  const ConstTensor* B = nullptr;  // [D, 2*G*H] or null
  const ConstTensor* P = nullptr;  // [D, 3H] or null (LSTM)
};

class Importer {
 public:
  Importer(const std::string& file, const onnx::GraphProto& graph)
      : file_(file), graph_(graph), folder_(graph, file) {
    for (int index = 0; index < graph.node_size(); ++index)
      for (const auto& input : graph.node(index).input()) {
        std::vector<int>& readers = consumers_[input];
        if (readers.empty() || readers.back() != index) readers.push_back(index);
      }
  }

  SafetensorsContents run(const onnx::ModelProto& model);

 private:
  [[noreturn]] void fail_at(const Layer& layer, const std::string& what) const {
    detail::fail(file_, layer.label + ": " + what);
  }
  void read_attributes(Layer& layer) const;
  const ConstTensor* constant_input(Layer& layer, int position, const char* what, bool required);
  void check_initial_state(const Layer& layer, int position, const char* what);
  std::string trace_back(std::string name) const;
  void check_shapes(const Layer& layer) const;

  // The embedding table if layer 0's input is a Gather from a constant [V, E] float table.
  const ConstTensor* find_embedding(const std::string& origin);
  // The linear head fed by the last layer's output Y, if any.
  std::optional<Head> find_head(const Layer& last, int64_t width);
  // The MatMul or Gemm that reads `name` through layout operators only (-1 if none); `name`
  // becomes the tensor it multiplies.
  int reach_product(std::string& name, int depth) const;
  // The one node that reads `name`, or -1 (none, or several).
  int sole_consumer(const std::string& name) const;

  const std::string& file_;
  const onnx::GraphProto& graph_;
  ConstantFolder folder_;
  std::map<std::string, std::vector<int>> consumers_;  // value name -> nodes that read it
  std::set<int> claimed_;  // module_operators nodes (and the embedding Gather) recognised
};

}  // namespace lstm::onnx_detail
