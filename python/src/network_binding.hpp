// Binds lstm::Network<T> and lstm::Workspace<T> for one scalar type (declared here, defined in
// network_binding.cpp, instantiated for float and double).
#pragma once

#include <pybind11/pybind11.h>

namespace lstm_python {

// Adds classes `network_name` (a Network<T>) and `workspace_name` (a Workspace<T>) to `module`.
template <typename T>
void bind_network(pybind11::module_& module, const char* network_name, const char* workspace_name);

}  // namespace lstm_python
