// Network<T> for Python: configuration, the flat parameter buffer as a NumPy view, forward and
// backward over caller-owned buffers with the GIL released. Two entry points each: one that
// checks NumPy arrays (the NumPy API), one over raw addresses (lstm.torch, which checks shapes
// itself and needs the lowest per-call cost).
#include "network_binding.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "array_checks.hpp"
#include "lstm/lstm.hpp"

namespace lstm_python {

namespace {

// Raw addresses from Python (0 = absent).
template <typename T>
T* address(uintptr_t value) {
  return reinterpret_cast<T*>(value);
}

// The cell variants beside PyTorch's options (NetworkConfig; README "Cell variants").
struct Variants {
  bool coupled_gates = false, reset_before = false, layer_norm = false, residual = false, highway = false;
  double zoneout = 0.0;
};

lstm::NetworkConfig make_config(const std::string& cell, int64_t input_size, int64_t hidden_size,
                                int64_t num_layers, bool bias, bool bidirectional,
                                int64_t proj_size, bool peephole, double dropout,
                                const Variants& variants) {
  lstm::NetworkConfig config;
  config.cell = lstm::parse_cell(cell);
  config.input_size = input_size;
  config.hidden_size = hidden_size;
  config.num_layers = num_layers;
  config.bias = bias;
  config.bidirectional = bidirectional;
  config.proj_size = proj_size;
  config.peephole = peephole;
  config.dropout = dropout;
  config.coupled_gates = variants.coupled_gates;
  config.reset_before = variants.reset_before;
  config.layer_norm = variants.layer_norm;
  config.zoneout = variants.zoneout;
  config.residual = variants.residual;
  config.highway = variants.highway;
  config.validate();
  return config;
}

// Python holds views of the parameters (state_dict arrays, torch Parameters) that may change
// them at any time unseen, so every call from Python packs (or quantizes) the weights again
// rather than trust the ones a workspace keeps.
template <typename T>
void weights_may_have_changed(const lstm::Network<T>& network) {
  const_cast<lstm::Network<T>&>(network).weights_changed();
}

// Forward over NumPy arrays: input [T, B, I]; optional lengths [B] int64, h0 [L*D, B, Hout],
// c0 [L*D, B, H]; output [T, B, Hcat]; optional h_n, c_n shaped like h0, c0.
template <typename T>
void forward_arrays(const lstm::Network<T>& network, lstm::Workspace<T>& workspace, bool training,
                    py::handle input, py::handle lengths, py::handle h0, py::handle c0,
                    py::handle output, py::handle h_n, py::handle c_n, uint64_t dropout_seed) {
  const lstm::NetworkConfig& c = network.config();
  if (!py::isinstance<py::array>(input) || py::reinterpret_borrow<py::array>(input).ndim() != 3)
    throw py::value_error("input: expected a 3-dimensional array [T, B, " +
                          std::to_string(c.input_size) + "]");
  const py::array input_array = py::reinterpret_borrow<py::array>(input);
  const int64_t steps = input_array.shape(0), batch = input_array.shape(1);
  const int64_t rows = c.num_layers * c.directions();
  lstm::ForwardArgs<T> args;
  args.seq_len = steps;
  args.batch = batch;
  args.input = checked_array<T>(input, "input", {steps, batch, c.input_size}, false, false);
  args.lengths = checked_array<int64_t>(lengths, "lengths", {batch}, false, true);
  args.h0 = checked_array<T>(h0, "h0", {rows, batch, c.output_size()}, false, true);
  args.output =
      checked_array<T>(output, "output", {steps, batch, c.layer_output_size()}, true, false);
  args.h_n = checked_array<T>(h_n, "h_n", {rows, batch, c.output_size()}, true, true);
  if (c.has_cell_state()) {
    args.c0 = checked_array<T>(c0, "c0", {rows, batch, c.hidden_size}, false, true);
    args.c_n = checked_array<T>(c_n, "c_n", {rows, batch, c.hidden_size}, true, true);
  }
  args.dropout_seed = dropout_seed;
  weights_may_have_changed(network);
  py::gil_scoped_release release;
  network.forward(training ? lstm::Mode::training : lstm::Mode::inference, args, workspace);
}

// Backward over NumPy arrays, shapes taken from the last training forward of `workspace`.
template <typename T>
void backward_arrays(const lstm::Network<T>& network, lstm::Workspace<T>& workspace,
                     py::handle grad_output, py::handle grad_h_n, py::handle grad_c_n,
                     py::handle grad_params, py::handle grad_input, py::handle grad_h0,
                     py::handle grad_c0) {
  const lstm::NetworkConfig& c = network.config();
  const lstm::ForwardRecord<T> record =
      network.record(workspace, 0, 0);  // throws if no training forward
  const int64_t steps = record.steps, batch = record.batch;
  const int64_t rows = c.num_layers * c.directions();
  lstm::BackwardArgs<T> args;
  args.grad_output =
      checked_array<T>(grad_output, "dy", {steps, batch, c.layer_output_size()}, false, true);
  args.grad_h_n = checked_array<T>(grad_h_n, "dh_n", {rows, batch, c.output_size()}, false, true);
  args.grad_params =
      checked_array<T>(grad_params, "grad_params", {network.num_parameters()}, true, false);
  args.grad_input =
      checked_array<T>(grad_input, "grad_input", {steps, batch, c.input_size}, true, true);
  args.grad_h0 = checked_array<T>(grad_h0, "grad_h0", {rows, batch, c.output_size()}, true, true);
  if (c.has_cell_state()) {
    args.grad_c_n = checked_array<T>(grad_c_n, "dc_n", {rows, batch, c.hidden_size}, false, true);
    args.grad_c0 = checked_array<T>(grad_c0, "grad_c0", {rows, batch, c.hidden_size}, true, true);
  }
  py::gil_scoped_release release;
  network.backward(args, workspace);
}

}  // namespace

template <typename T>
void bind_network(py::module_& module, const char* network_name, const char* workspace_name) {
  using Network = lstm::Network<T>;
  using Workspace = lstm::Workspace<T>;
  py::class_<Workspace>(module, workspace_name,
                        "Activations kept between a training forward and backward.")
      .def(py::init<>());

  py::class_<Network>(module, network_name)
      .def(py::init([](const std::string& cell, int64_t input_size, int64_t hidden_size,
                       int64_t num_layers, bool bias, bool bidirectional, int64_t proj_size,
                       bool peephole, double dropout, bool coupled_gates, bool reset_before,
                       bool layer_norm, double zoneout, bool residual, bool highway) {
             const Variants variants{coupled_gates, reset_before, layer_norm, residual, highway, zoneout};
             return Network(make_config(cell, input_size, hidden_size, num_layers, bias,
                                        bidirectional, proj_size, peephole, dropout, variants));
           }),
           py::arg("cell"), py::arg("input_size"), py::arg("hidden_size"), py::arg("num_layers"),
           py::arg("bias"), py::arg("bidirectional"), py::arg("proj_size"), py::arg("peephole"),
           py::arg("dropout"), py::kw_only(), py::arg("coupled_gates") = false,
           py::arg("reset_before") = false, py::arg("layer_norm") = false,
           py::arg("zoneout") = 0.0, py::arg("residual") = false, py::arg("highway") = false)
      .def_property_readonly(
          "cell", [](const Network& n) { return std::string(lstm::cell_name(n.config().cell)); })
      .def_property_readonly("input_size", [](const Network& n) { return n.config().input_size; })
      .def_property_readonly("hidden_size", [](const Network& n) { return n.config().hidden_size; })
      .def_property_readonly("proj_size", [](const Network& n) { return n.config().proj_size; })
      .def_property_readonly("num_layers", [](const Network& n) { return n.config().num_layers; })
      .def_property_readonly("bidirectional",
                             [](const Network& n) { return n.config().bidirectional; })
      .def_property_readonly("peephole", [](const Network& n) { return n.config().peephole; })
      .def_property_readonly("bias", [](const Network& n) { return n.config().bias; })
      .def_property_readonly("dropout", [](const Network& n) { return n.config().dropout; })
      .def_property_readonly("variants",
                             [](const Network& n) {
                               const lstm::NetworkConfig& c = n.config();
                               py::dict d;
                               d["coupled_gates"] = c.coupled_gates;
                               d["reset_before"] = c.reset_before;
                               d["layer_norm"] = c.layer_norm;
                               d["zoneout"] = c.zoneout;
                               d["residual"] = c.residual;
                               d["highway"] = c.highway;
                               return d;
                             })
      .def_property_readonly("num_parameters", &Network::num_parameters)
      .def("describe", [](const Network& n) { return n.config().describe(); })
      // [(name, shape, offset, numel)] in the flat buffer's order (PyTorch's parameter order).
      .def("layout",
           [](const Network& n) {
             py::list items;
             for (const lstm::ParameterInfo& info : n.layout())
               items.append(py::make_tuple(info.name, py::tuple(py::cast(info.shape)), info.offset,
                                           info.numel));
             return items;
           })
      // The flat parameter buffer [num_parameters] as a writable NumPy view that keeps the network
      // alive.
      .def("parameters",
           [](py::object self) {
             Network& n = self.cast<Network&>();
             return py::array_t<T>({n.num_parameters()}, {static_cast<int64_t>(sizeof(T))},
                                   n.parameters().data(), self);
           })
      .def("parameters_address",
           [](Network& n) { return reinterpret_cast<uintptr_t>(n.parameters().data()); })
      .def("init_uniform", &Network::init_uniform, py::arg("seed"))
      .def("forward", &forward_arrays<T>, py::arg("workspace"), py::arg("training"),
           py::arg("input"), py::arg("lengths"), py::arg("h0"), py::arg("c0"), py::arg("output"),
           py::arg("h_n"), py::arg("c_n"), py::arg("dropout_seed"))
      .def("backward", &backward_arrays<T>, py::arg("workspace"), py::arg("grad_output"),
           py::arg("grad_h_n"), py::arg("grad_c_n"), py::arg("grad_params"), py::arg("grad_input"),
           py::arg("grad_h0"), py::arg("grad_c0"))
      // Unchecked: the caller guarantees dense buffers of the documented shapes (0 = absent).
      .def("forward_raw",
           [](const Network& n, Workspace& workspace, bool training, int64_t steps, int64_t batch,
              uintptr_t input, uintptr_t lengths, uintptr_t h0, uintptr_t c0, uintptr_t output,
              uintptr_t h_n, uintptr_t c_n, uint64_t dropout_seed) {
             lstm::ForwardArgs<T> args;
             args.seq_len = steps;
             args.batch = batch;
             args.input = address<const T>(input);
             args.lengths = address<const int64_t>(lengths);
             args.h0 = address<const T>(h0);
             args.c0 = address<const T>(c0);
             args.output = address<T>(output);
             args.h_n = address<T>(h_n);
             args.c_n = address<T>(c_n);
             args.dropout_seed = dropout_seed;
             weights_may_have_changed(n);
             py::gil_scoped_release release;
             n.forward(training ? lstm::Mode::training : lstm::Mode::inference, args, workspace);
           })
      .def("backward_raw", [](const Network& n, Workspace& workspace, uintptr_t grad_output,
                              uintptr_t grad_h_n, uintptr_t grad_c_n, uintptr_t grad_params,
                              uintptr_t grad_input, uintptr_t grad_h0, uintptr_t grad_c0) {
        lstm::BackwardArgs<T> args;
        args.grad_output = address<const T>(grad_output);
        args.grad_h_n = address<const T>(grad_h_n);
        args.grad_c_n = address<const T>(grad_c_n);
        args.grad_params = address<T>(grad_params);
        args.grad_input = address<T>(grad_input);
        args.grad_h0 = address<T>(grad_h0);
        args.grad_c0 = address<T>(grad_c0);
        py::gil_scoped_release release;
        n.backward(args, workspace);
      });
}

template void bind_network<float>(py::module_&, const char*, const char*);
template void bind_network<double>(py::module_&, const char*, const char*);

}  // namespace lstm_python
