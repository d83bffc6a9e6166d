// The writers' guard against saving a model or checkpoint that holds NaN or infinity.
#include <cmath>

#include "data/io_detail.hpp"

namespace lstm::detail {

void require_finite_tensors(const std::string& path,
                            const std::vector<std::pair<std::string, HostTensor>>& tensors) {
  for (const auto& [name, tensor] : tensors)
    for (size_t k = 0; k < tensor.data.size(); ++k)
      if (!std::isfinite(tensor.data[k]))
        fail(path, "not written: tensor " + quote_name(name) + " holds a non-finite value (" +
                       (std::isnan(tensor.data[k]) ? std::string("nan") : std::string("inf")) +
                       ") at index " + std::to_string(k));
}

}  // namespace lstm::detail
