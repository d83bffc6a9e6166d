// Checks that a NumPy array argument has the dtype, layout and shape a library call needs,
// and raises TypeError / ValueError naming the argument otherwise (no conversion, no copy).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lstm_python {

namespace py = pybind11;

inline std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t k = 0; k < shape.size(); ++k) text += (k ? ", " : "") + std::to_string(shape[k]);
  return text + "]";
}

// The data pointer of `object` viewed as a C-contiguous array of T with exactly `shape`;
// null when `object` is None and `optional`. `writable` arrays must not be read-only.
template <typename T>
T* checked_array(py::handle object, const char* name, const std::vector<int64_t>& shape,
                 bool writable, bool optional) {
  if (object.is_none()) {
    if (optional) return nullptr;
    throw py::type_error(std::string(name) + ": an array is required, got None");
  }
  if (!py::isinstance<py::array>(object))
    throw py::type_error(std::string(name) + ": expected a NumPy array, got " +
                         std::string(py::str(py::type::of(object).attr("__name__"))));
  py::array array = py::reinterpret_borrow<py::array>(object);
  if (!array.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(name) + ": expected dtype " +
                         std::string(py::str(py::dtype::of<T>())) + ", got " +
                         std::string(py::str(array.dtype())));
  std::vector<int64_t> actual(array.shape(), array.shape() + array.ndim());
  if (actual != shape)
    throw py::value_error(std::string(name) + ": expected shape " + shape_text(shape) + ", got " +
                          shape_text(actual));
  if (!(array.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + ": the array must be C-contiguous");
  if (writable && !array.writeable())
    throw py::value_error(std::string(name) + ": the array is read-only");
  return static_cast<T*>(const_cast<void*>(array.data()));
}

}  // namespace lstm_python
