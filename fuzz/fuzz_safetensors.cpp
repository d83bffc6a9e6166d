// libFuzzer target: any byte string must parse or throw lstm::Error, never crash; what parses
// is also offered to the model loader (configuration inference and shape checks).
#include <cstddef>
#include <cstdint>

#include "lstm/error.hpp"
#include "lstm/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lstm::SafetensorsContents contents;
  try {
    contents = lstm::parse_safetensors("fuzz.safetensors", data, size);
  } catch (const lstm::Error&) {
    return 0;
  }
  for (const char* prefix : {"", "rnn."}) {
    try {
      (void)lstm::network_from_tensors(contents, "fuzz.safetensors", prefix);
    } catch (const lstm::Error&) {
    }
  }
  return 0;
}
