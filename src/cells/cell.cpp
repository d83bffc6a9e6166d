// Picks the postgemm kernels for a configuration, on the active instruction-set path.
#include "cells/cell.hpp"

#include <type_traits>

#include "core/isa_internal.hpp"

namespace lstm {
namespace {

template <typename T, typename Path>
CellKernels<T> kernels_of(const NetworkConfig& config, Path) {
  switch (config.cell) {
    case CellType::lstm:
      if (config.layer_norm) return Path::template layer_norm_lstm<T>(config.coupled_gates);
      return Path::template lstm<T>(config.peephole, config.coupled_gates);
    case CellType::gru: return Path::template gru<T>(config.reset_before);
    case CellType::rnn_tanh: return Path::template rnn<T>(false);
    case CellType::rnn_relu: return Path::template rnn<T>(true);
  }
  return Path::template rnn<T>(false);
}

#define LSTM_CELL_PATH(ns)                                                     \
  struct ns##_cells {                                                          \
    template <typename T> static CellKernels<T> lstm(bool p, bool c) { return ns::lstm_kernels<T>(p, c); } \
    template <typename T> static CellKernels<T> gru(bool r) { return ns::gru_kernels<T>(r); }   \
    template <typename T> static CellKernels<T> layer_norm_lstm(bool c) { return ns::layer_norm_lstm_kernels<T>(c); } \
    template <typename T> static CellKernels<T> rnn(bool r) { return ns::rnn_kernels<T>(r); }  \
  };
LSTM_CELL_PATH(scalar)
LSTM_CELL_PATH(avx2)
LSTM_CELL_PATH(avx512)
#undef LSTM_CELL_PATH

}  // namespace

template <typename T>
CellKernels<T> cell_kernels(const NetworkConfig& config) {
  if constexpr (std::is_same_v<T, double>) return kernels_of<T>(config, scalar_cells{});
  const Isa isa = active_isa();
  count_dispatch(isa);
  switch (vector_path(isa)) {
    case VectorPath::avx512: return kernels_of<T>(config, avx512_cells{});
    case VectorPath::avx2: return kernels_of<T>(config, avx2_cells{});
    case VectorPath::scalar: break;
  }
  return kernels_of<T>(config, scalar_cells{});
}

template CellKernels<float> cell_kernels<float>(const NetworkConfig&);
template CellKernels<double> cell_kernels<double>(const NetworkConfig&);

}  // namespace lstm
