// The one exception type the library throws; its message names the file, tensor or field at fault.
#pragma once

#include <stdexcept>
#include <string>

namespace lstm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace lstm
