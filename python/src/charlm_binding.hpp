// Binds the character-level language model application (src/apps/charlm) for lstm.CharLM.
#pragma once

#include <pybind11/pybind11.h>

namespace lstm_python {

void bind_charlm(pybind11::module_& module);

}  // namespace lstm_python
