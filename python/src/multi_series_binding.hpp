// Binds the global model of several series (src/apps/multi_series) for lstm.GlobalForecaster.
#pragma once

#include <pybind11/pybind11.h>

namespace lstm_python {

void bind_multi_series(pybind11::module_& module);

}  // namespace lstm_python
