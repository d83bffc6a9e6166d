// The extension module `lstm._lstm`: networks, files, threads and precision. The pure-Python
// package `lstm` (python/lstm/) builds the user-facing API on top of it.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <stdexcept>
#include <string>

#include "charlm_binding.hpp"
#include "forecast_binding.hpp"
#include "lstm/lstm.hpp"
#include "multi_series_binding.hpp"
#include "network_binding.hpp"

namespace py = pybind11;

namespace {

// A library error while reading or writing a file: becomes lstm.FileError (an OSError).
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

lstm::Network<float> load_float(const std::string& path, const std::string& cell) {
  lstm::ConfigOverrides overrides;
  if (!cell.empty()) overrides.cell = lstm::parse_cell(cell);
  try {
    return lstm::load_network(path, overrides);
  } catch (const lstm::Error& error) {
    throw FileError(error.what());
  }
}

template <typename T>
void save(const std::string& path, const lstm::Network<T>& network,
          const std::map<std::string, std::string>& metadata) {
  lstm::Network<float> copy(network.config());
  for (size_t k = 0; k < network.parameters().size(); ++k)
    copy.parameters()[k] = static_cast<float>(network.parameters()[k]);
  try {
    lstm::save_network(path, copy, metadata);
  } catch (const lstm::Error& error) {
    throw FileError(error.what());
  }
}

}  // namespace

PYBIND11_MODULE(_lstm, m) {
  m.doc() = "Bindings of the lstm C++ library (use the `lstm` package, not this module).";
  // Opens OpenBLAS now, before `lstm` imports NumPy, so that its kernels are lstm's choice
  // (core/blas.cpp); after NumPy they are the ones NumPy's OpenBLAS already took.
  lstm::blas_kernels();
  py::register_exception<lstm::Error>(m, "Error", PyExc_ValueError);
  py::register_exception<FileError>(m, "FileError", PyExc_OSError);

  lstm_python::bind_network<float>(m, "Network32", "Workspace32");
  lstm_python::bind_network<double>(m, "Network64", "Workspace64");
  lstm_python::bind_forecast(m);
  lstm_python::bind_charlm(m);
  lstm_python::bind_multi_series(m);

  m.def("load_network", &load_float, py::arg("path"), py::arg("cell") = "",
        "Reads a model file (a bare network, or a trained model's `rnn.` tensors) as float32.");
  m.def("save_network", &save<float>, py::arg("path"), py::arg("network"), py::arg("metadata"));
  m.def("save_network", &save<double>, py::arg("path"), py::arg("network"), py::arg("metadata"));
  m.def("set_num_threads", &lstm::set_num_threads, py::arg("threads"));
  m.def("num_threads", &lstm::num_threads);
  m.def("bf16_available", &lstm::bf16_available);
  m.def("set_precision", [](const std::string& precision) {
    if (precision == "fp32")
      lstm::set_matmul_precision(lstm::MatmulPrecision::fp32);
    else if (precision == "bf16")
      lstm::set_matmul_precision(lstm::MatmulPrecision::bf16);
    else if (precision == "int8")
      lstm::set_matmul_precision(lstm::MatmulPrecision::int8);
    else
      throw py::value_error("precision: expected 'fp32', 'bf16' or 'int8', got '" + precision + "'");
  });
  m.def("precision", [] { return std::string(lstm::precision_name(lstm::matmul_precision())); });
  m.def("int8_kernel", &lstm::int8_kernel_name);
  m.def("blas_kernels", &lstm::blas_kernels);
}
