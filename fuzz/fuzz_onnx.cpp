// libFuzzer target: any byte string must import as an ONNX model or throw lstm::Error, never
// crash; what imports is also offered to the model loader, and a network that loads is exported
// and imported again.
#include <cstddef>
#include <cstdint>

#include "lstm/error.hpp"
#include "lstm/io.hpp"
#include "lstm/onnx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lstm::SafetensorsContents contents;
  try {
    contents = lstm::parse_onnx("fuzz.onnx", data, size);
  } catch (const lstm::Error&) {
    return 0;
  }
  try {
    const lstm::Network<float> network = lstm::network_from_tensors(contents, "fuzz.onnx");
    const std::string bytes = lstm::serialize_onnx(network);
    (void)lstm::parse_onnx("fuzz.onnx", reinterpret_cast<const unsigned char*>(bytes.data()),
                           bytes.size());
  } catch (const lstm::Error&) {
  }
  return 0;
}
