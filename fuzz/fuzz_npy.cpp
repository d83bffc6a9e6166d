// libFuzzer target: any byte string must parse as a float or integer .npy array or throw
// lstm::Error, never crash.
#include <cstddef>
#include <cstdint>

#include "data/io_detail.hpp"
#include "lstm/error.hpp"
#include "lstm/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)lstm::parse_npy("fuzz.npy", data, size);
  } catch (const lstm::Error&) {
  }
  try {
    (void)lstm::detail::parse_npy_integers("fuzz.npy", data, size);
  } catch (const lstm::Error&) {
  }
  return 0;
}
