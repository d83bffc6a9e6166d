// `lstm convert IN OUT`: ONNX import (.onnx -> .safetensors) and export (.safetensors -> .onnx).
#include <iostream>
#include <memory>

#include "commands.hpp"

namespace lstm_cli {
namespace {

struct ConvertOptions {
  std::string in, out;
  int opset = 14;
  bool sequence_lens = false, initial_states = false;
};

void import_onnx(const ConvertOptions& options) {
  const lstm::SafetensorsContents contents = lstm::read_onnx(options.in);
  // Validates the imported tensors as a model file would be validated when loaded.
  const lstm::Network<float> network =
      lstm::network_from_tensors(contents, options.in, network_prefix(contents));
  if (contents.find("head.weight")) (void)lstm::SequenceModel::from_tensors(contents, options.in);
  lstm::write_safetensors(options.out, contents.tensors, contents.metadata);
  std::cerr << "imported " << network.config().describe()
            << (contents.find("head.weight") ? " with a linear head" : "")
            << (contents.find("embedding.weight") ? " and an embedding" : "") << " from "
            << options.in << '\n';
}

void export_onnx(const ConvertOptions& options) {
  const LoadedModel model = load_model(options.in, {});
  lstm::OnnxExportOptions export_options;
  if (!model.prefix.empty()) {  // a trained model: its embedding and head go along
    const lstm::SequenceModel trained =
        lstm::SequenceModel::from_tensors(model.contents, options.in);
    export_options.embedding = model.contents.find("embedding.weight");
    export_options.head_weight = model.contents.find("head.weight");
    export_options.head_bias = model.contents.find("head.bias");
    export_options.head_last_step = trained.config().head_mode == lstm::HeadMode::last_step;
  }
  export_options.opset = options.opset;
  export_options.sequence_lens = options.sequence_lens;
  export_options.initial_states = options.initial_states;
  export_options.metadata = model.contents.metadata;
  lstm::write_onnx(options.out, model.network, export_options);
  std::cerr << "exported " << model.network.config().describe() << " to " << options.out
            << " (opset " << options.opset << ")\n";
}

}  // namespace

void add_convert_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<ConvertOptions>();
  CLI::App* command = app.add_subcommand(
      "convert", "Convert a model between safetensors and ONNX (by the files' extensions)");
  command->add_option("in", options->in, "The model to read (.onnx or .safetensors)")->required();
  command->add_option("out", options->out, "The file to write (.safetensors or .onnx)")->required();
  command->add_option("--opset", options->opset, "ONNX opset of an export")
      ->check(CLI::Range(9, 17));
  command->add_flag("--sequence-lens", options->sequence_lens,
                    "Export: add the graph input sequence_lens (int32 [batch])");
  command->add_flag("--initial-states", options->initial_states,
                    "Export: add the graph inputs h0 [L*D, batch, H] (and c0 for an LSTM)");
  add_compute_options(*command, global);
  command->footer(
      "IN.onnx OUT.safetensors imports one LSTM/GRU/RNN node per layer (as torch.onnx.export "
      "writes them) with PyTorch's tensor names. IN.safetensors OUT.onnx exports one node per "
      "layer with graph input 'input' [seq_len, batch, I] and outputs 'output', 'h_n' (and "
      "'c_n'). A trained model exports with its head ('output' is the head's) and embedding "
      "(graph input 'tokens', int64 [seq_len, batch]); its metadata goes into metadata_props.");
  command->callback([options] {
    const bool in_onnx = lstm::is_onnx_path(options->in),
               out_onnx = lstm::is_onnx_path(options->out);
    const bool out_safetensors = options->out.ends_with(".safetensors");
    if (in_onnx == out_onnx || (in_onnx && !out_safetensors))
      throw lstm::Error(options->out +
                        ": convert reads .onnx and writes .safetensors, or the reverse; "
                        "give one file of each kind");
    check_output_path(options->out);
    if (in_onnx)
      import_onnx(*options);
    else
      export_onnx(*options);
  });
}

}  // namespace lstm_cli
