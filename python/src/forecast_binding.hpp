// Binds the forecasting application (src/apps/forecast) for lstm.Forecaster.
#pragma once

#include <pybind11/pybind11.h>

namespace lstm_python {

void bind_forecast(pybind11::module_& module);

}  // namespace lstm_python
