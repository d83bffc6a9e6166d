// `lstm forward`: runs a model over an input file; optionally backpropagates a given dY.
#include <memory>

#include "commands.hpp"

namespace lstm_cli {
namespace {

struct ForwardOptions {
  std::string model, input, output, lengths, state_in, state_out, grad_output, grads, cell;
  bool batch_first = false;
};

// Everything the run needs, read and validated, sequence-first.
struct ForwardInputs {
  lstm::HostTensor input;        // [T, B, I]
  std::vector<int64_t> lengths;  // [B], or empty: every sequence has T steps
  lstm::HostTensor h0, c0;       // [L*D, B, Hout], [L*D, B, H]; empty data: zeros
  lstm::HostTensor grad_output;  // [T, B, Hcat]; empty data: no backward
  int64_t seq_len() const { return input.shape[0]; }
  int64_t batch() const { return input.shape[1]; }
};

// Reads X ([T, B, I], or [B, T, I] with --batch-first) and returns it sequence-first.
lstm::HostTensor read_input(const std::string& path, const lstm::NetworkConfig& config,
                            bool batch_first) {
  lstm::HostTensor input = lstm::read_npy(path);
  const char* layout = batch_first ? "[B, T, I] (--batch-first)" : "[T, B, I]";
  if (input.shape.size() != 3)
    throw lstm::Error(path + ": input must be 3-D " + std::string(layout) + ", got shape " +
                      shape_string(input.shape));
  if (shape_numel(input.shape) == 0)
    throw lstm::Error(path + ": input has an empty dimension (shape " + shape_string(input.shape) +
                      "); T and B must be at least 1");
  if (input.shape[2] != config.input_size)
    throw lstm::Error(path + ": input size (last dimension) is " + std::to_string(input.shape[2]) +
                      " but the model expects " + std::to_string(config.input_size));
  check_finite(input.data, input.shape, path, "input");
  return batch_first ? swap_leading_axes(input) : input;
}

// Reads lengths: 1-D integers, one per sequence, each in 1..T.
std::vector<int64_t> read_lengths(const std::string& path, int64_t batch, int64_t seq_len) {
  lstm::IntTensor lengths = lstm::read_npy_integers(path);
  if (lengths.shape.size() != 1 || lengths.shape[0] != batch)
    throw lstm::Error(path + ": lengths must have shape [" + std::to_string(batch) +
                      "] (one per sequence), got " + shape_string(lengths.shape));
  for (size_t b = 0; b < lengths.data.size(); ++b)
    if (lengths.data[b] < 1 || lengths.data[b] > seq_len)
      throw lstm::Error(path + ": lengths[" + std::to_string(b) +
                        "] = " + std::to_string(lengths.data[b]) + " is outside 1.." +
                        std::to_string(seq_len));
  return std::move(lengths.data);
}

// Reads initial states: `h` [L*D, B, Hout] and, for LSTM, `c` [L*D, B, H]; nothing else.
void read_states(const std::string& path, const lstm::NetworkConfig& config, int64_t batch,
                 ForwardInputs& inputs) {
  const lstm::SafetensorsContents states = lstm::read_safetensors(path);
  const int64_t rows = config.num_layers * config.directions();
  const std::vector<int64_t> h_shape{rows, batch, config.output_size()};
  const std::vector<int64_t> c_shape{rows, batch, config.hidden_size};
  const bool lstm_cell = config.has_cell_state();
  for (const auto& [name, tensor] : states.tensors)
    if (name != "h" && !(name == "c" && lstm_cell))
      throw lstm::Error(path + ": unknown tensor '" + name + "' (a state file holds " +
                        (lstm_cell ? "'h' and 'c'" : "only 'h' for this cell") + ")");
  auto take = [&](const std::string& name, const std::vector<int64_t>& shape) {
    const lstm::HostTensor* tensor = states.find(name);
    if (tensor == nullptr) throw lstm::Error(path + ": missing tensor '" + name + "'");
    if (tensor->shape != shape)
      throw lstm::Error(path + ": tensor '" + name + "' has shape " + shape_string(tensor->shape) +
                        ", expected [L*D, B, " + (name == "h" ? "Hout" : "H") +
                        "] = " + shape_string(shape));
    check_finite(tensor->data, tensor->shape, path, "tensor '" + name + "'");
    return *tensor;
  };
  inputs.h0 = take("h", h_shape);
  if (lstm_cell) inputs.c0 = take("c", c_shape);
}

// Reads dY, which must have exactly Y's shape, and returns it sequence-first.
lstm::HostTensor read_grad_output(const std::string& path, const std::vector<int64_t>& y_shape,
                                  bool batch_first) {
  lstm::HostTensor grad = lstm::read_npy(path);
  if (grad.shape != y_shape)
    throw lstm::Error(path + ": grad-output has shape " + shape_string(grad.shape) +
                      " but the output Y has shape " + shape_string(y_shape));
  check_finite(grad.data, grad.shape, path, "grad-output");
  return batch_first ? swap_leading_axes(grad) : grad;
}

lstm::HostTensor make_tensor(std::vector<int64_t> shape) {
  lstm::HostTensor tensor;
  tensor.data.assign(static_cast<size_t>(shape_numel(shape)), 0.0f);
  tensor.shape = std::move(shape);
  return tensor;
}

void run_forward(const ForwardOptions& options) {
  check_output_files({{"--output", options.output},
                      {"--state-out", options.state_out},
                      {"--grads", options.grads}});
  lstm::ConfigOverrides overrides;
  if (!options.cell.empty()) {
    lstm::NetworkConfig variant;
    lstm::apply_cell_variant(variant, options.cell);
    overrides.cell = variant.cell;
    overrides.coupled_gates = variant.coupled_gates;
    overrides.reset_before = variant.reset_before;
  }
  overrides.dropout = 0.0;  // deterministic: Y is the same with and without --grads
  const LoadedModel model = load_model(options.model, overrides);
  const lstm::Network<float>& network = model.network;
  const lstm::NetworkConfig& config = network.config();

  // Read and validate every input before computing anything.
  ForwardInputs inputs;
  inputs.input = read_input(options.input, config, options.batch_first);
  const int64_t seq_len = inputs.seq_len(), batch = inputs.batch();
  if (!options.lengths.empty()) inputs.lengths = read_lengths(options.lengths, batch, seq_len);
  if (!options.state_in.empty()) read_states(options.state_in, config, batch, inputs);
  const int64_t rows = config.num_layers * config.directions();
  std::vector<int64_t> y_shape{seq_len, batch, config.layer_output_size()};
  if (options.batch_first) std::swap(y_shape[0], y_shape[1]);
  const bool backward = !options.grad_output.empty();
  if (backward)
    inputs.grad_output = read_grad_output(options.grad_output, y_shape, options.batch_first);

  // Forward: training mode keeps what backward needs.
  lstm::HostTensor output = make_tensor({seq_len, batch, config.layer_output_size()});
  lstm::HostTensor h_n = make_tensor({rows, batch, config.output_size()});
  lstm::HostTensor c_n = make_tensor({rows, batch, config.hidden_size});
  lstm::ForwardArgs<float> args;
  args.seq_len = seq_len;
  args.batch = batch;
  args.input = inputs.input.data.data();
  args.lengths = inputs.lengths.empty() ? nullptr : inputs.lengths.data();
  args.h0 = inputs.h0.data.empty() ? nullptr : inputs.h0.data.data();
  args.c0 = inputs.c0.data.empty() ? nullptr : inputs.c0.data.data();
  args.output = output.data.data();
  args.h_n = h_n.data.data();
  args.c_n = config.has_cell_state() ? c_n.data.data() : nullptr;
  lstm::Workspace<float> workspace;
  network.forward(backward ? lstm::Mode::training : lstm::Mode::inference, args, workspace);

  // Backward for the scalar sum(Y * dY).
  std::vector<std::pair<std::string, lstm::HostTensor>> grads;
  if (backward) {
    std::vector<float> grad_params(static_cast<size_t>(network.num_parameters()), 0.0f);
    lstm::HostTensor grad_input = make_tensor(inputs.input.shape);
    lstm::HostTensor grad_h0 = make_tensor(h_n.shape);
    lstm::HostTensor grad_c0 = make_tensor(c_n.shape);
    lstm::BackwardArgs<float> grad_args;
    grad_args.grad_output = inputs.grad_output.data.data();
    grad_args.grad_params = grad_params.data();
    grad_args.grad_input = grad_input.data.data();
    grad_args.grad_h0 = grad_h0.data.data();
    grad_args.grad_c0 = config.has_cell_state() ? grad_c0.data.data() : nullptr;
    network.backward(grad_args, workspace);
    for (const lstm::ParameterInfo& info : network.layout()) {
      lstm::HostTensor tensor;
      tensor.shape = info.shape;
      tensor.data.assign(grad_params.begin() + info.offset,
                         grad_params.begin() + info.offset + info.numel);
      grads.emplace_back(model.prefix + info.name, std::move(tensor));
    }
    grads.emplace_back("input", options.batch_first ? swap_leading_axes(grad_input) : grad_input);
    grads.emplace_back("h0", std::move(grad_h0));
    if (config.has_cell_state()) grads.emplace_back("c0", std::move(grad_c0));
  }

  // Everything succeeded: write the outputs (each write is atomic).
  lstm::write_npy(options.output, options.batch_first ? swap_leading_axes(output) : output);
  if (!options.state_out.empty()) {
    std::vector<std::pair<std::string, lstm::HostTensor>> states;
    states.emplace_back("h", std::move(h_n));
    if (config.has_cell_state()) states.emplace_back("c", std::move(c_n));
    lstm::write_safetensors(options.state_out, states);
  }
  if (backward) lstm::write_safetensors(options.grads, grads);
}

}  // namespace

void add_forward_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<ForwardOptions>();
  CLI::App* command = app.add_subcommand(
      "forward", "Run a model over an input array and write its output (and optionally gradients)");
  command
      ->add_option("--model", options->model,
                   "Model file (.safetensors; bare network or 'rnn.'-prefixed)")
      ->required();
  command->add_option("--input", options->input, "Input X (.npy, float) of shape [T, B, I]")
      ->required();
  command
      ->add_option("--output", options->output, "Where to write Y (.npy, float32) [T, B, D*Hout]")
      ->required();
  command->add_option("--lengths", options->lengths,
                      "Sequence lengths (.npy, int32 or int64) of shape [B], each in 1..T; "
                      "outputs past a sequence's end are 0");
  command->add_option(
      "--state-in", options->state_in,
      "Initial states (.safetensors): 'h' [L*D, B, Hout] and, for LSTM, 'c' [L*D, B, H]");
  command->add_option("--state-out", options->state_out,
                      "Where to write the final states 'h' (and 'c' for LSTM) (.safetensors)");
  CLI::Option* grad_output = command->add_option(
      "--grad-output", options->grad_output,
      "dY (.npy), shaped like Y: backpropagate the scalar sum(Y * dY); needs --grads");
  CLI::Option* grads = command->add_option(
      "--grads", options->grads,
      "Where to write the gradients (.safetensors): every parameter under the model file's name, "
      "'input' (shaped like X), 'h0' and, for LSTM, 'c0'; needs --grad-output");
  grad_output->needs(grads);
  grads->needs(grad_output);
  command->add_flag("--batch-first", options->batch_first,
                    "X, Y, dY and the 'input' gradient are [B, T, .] instead of [T, B, .]");
  command
      ->add_option("--cell", options->cell,
                   "Override the model's cell type (e.g. rnn_relu; cifg or gru_reset_before for "
                   "a file of 3 gates per unit without config metadata)")
      ->check(CLI::IsMember({"lstm", "cifg", "gru", "gru_reset_before", "rnn", "rnn_tanh", "rnn_relu"}));
  add_compute_options(*command, global);
  command->footer(
      "NaN or Inf in any input file is an error. Every input is validated before anything is "
      "computed, and outputs are written only after everything succeeded, each atomically, so a "
      "failure leaves no output file behind. Dropout in the model is not applied. An output may "
      "overwrite an input file.");
  command->callback([options, &global] {
    apply_compute_options(global, options->grads.empty() ? nullptr : "--grads");
    run_forward(*options);
  });
}

}  // namespace lstm_cli
