// ONNX models (SPEC.md §6): import an ONNX graph of LSTM/GRU/RNN nodes as a model file's tensors
// with PyTorch's names, export a network as one ONNX node per layer, and the one model-reading
// entry point that accepts both .safetensors and .onnx files.
#pragma once

#include <map>
#include <string>

#include "lstm/io.hpp"
#include "lstm/network.hpp"

namespace lstm {

// Reads an .onnx file and returns what the equivalent model file would hold: the recurrent
// layers' tensors with PyTorch's names (weight_ih_l0, ...), gates reordered from ONNX's
// (LSTM i,o,f,c; GRU z,r,h; peepholes i,o,f) to ours, and the "config" metadata entry (plus
// the model's metadata_props). Accepts one LSTM, GRU or RNN node per layer, chained directly
// or through the Transpose/Reshape/Squeeze that torch.onnx.export writes, with weights stored
// as initializers or computed from them by Slice/Concat/Unsqueeze/... (constant folding off).
// Throws lstm::Error naming the file, the node and the attribute or operator at fault for
// anything that cannot be represented (other activations, clip, input_forget, GRU
// linear_before_reset=0, direction=reverse, unknown operators, no recurrent node).
SafetensorsContents read_onnx(const std::string& path);
// Parses an in-memory .onnx image; `name` stands for the path in messages.
SafetensorsContents parse_onnx(const std::string& name, const unsigned char* bytes, size_t size);

struct OnnxExportOptions {
  int opset = 14;               // 9..17
  bool sequence_lens = false;   // add a graph input "sequence_lens" (int32 [batch])
  bool initial_states = false;  // add graph inputs "h0" [L*D, batch, Hout] (and "c0" for LSTM)
  std::map<std::string, std::string> metadata;  // written as metadata_props
  // A trained model's parts around the network (all optional, not owned):
  const HostTensor* embedding = nullptr;    // [V, E]: the graph input is "tokens" (int64
                                            // [seq_len, batch], ids in [0, V)), looked up by Gather
  const HostTensor* head_weight = nullptr;  // [O, D*H]: "output" is the head's x Wᵀ + b
  const HostTensor* head_bias = nullptr;    // [O]
  bool head_last_step = false;  // the head reads the last layer's final h: "output" [batch, O]
};

// Writes `network` as an ONNX model, atomically: graph input "input" [seq_len, batch, I],
// outputs "output" [seq_len, batch, D*H], "h_n" [L*D, batch, H] (and "c_n" for LSTM): the
// computation `lstm forward` does, one LSTM/GRU/RNN node per layer (layout 0). With a head,
// "output" is the head's ([seq_len, batch, O], or [batch, O] on the last step). Throws
// lstm::Error for what ONNX cannot express (projection), an opset outside 9..17, or parts whose
// shapes do not fit the network.
void write_onnx(const std::string& path, const Network<float>& network,
                const OnnxExportOptions& options = {});
// The serialised model, as write_onnx would write it.
std::string serialize_onnx(const Network<float>& network, const OnnxExportOptions& options = {},
                           const std::string& name = "model");

// True if `path` ends in ".onnx" (any case).
bool is_onnx_path(const std::string& path);
// The one way every command reads a model file: read_onnx for .onnx, else read_safetensors.
SafetensorsContents read_model_contents(const std::string& path);

}  // namespace lstm
