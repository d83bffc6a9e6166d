// Picks the postgemm kernels for a configuration.
#include "cells/cell.hpp"

namespace lstm {

template <typename T>
CellKernels<T> cell_kernels(const NetworkConfig& config) {
  switch (config.cell) {
    case CellType::lstm: return lstm_kernels<T>(config.peephole);
    case CellType::gru: return gru_kernels<T>();
    case CellType::rnn_tanh: return rnn_kernels<T>(false);
    case CellType::rnn_relu: return rnn_kernels<T>(true);
  }
  return rnn_kernels<T>(false);
}

template CellKernels<float> cell_kernels<float>(const NetworkConfig&);
template CellKernels<double> cell_kernels<double>(const NetworkConfig&);

}  // namespace lstm
