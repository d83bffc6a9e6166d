// libFuzzer target: any byte string offered as a checkpoint file must load (model, optimizer
// state) or throw lstm::Error, never crash.
#include <cstddef>
#include <cstdint>

#include "lstm/error.hpp"
#include "lstm/io.hpp"
#include "lstm/train.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const lstm::Checkpoint checkpoint = lstm::checkpoint_from_contents(
        lstm::parse_safetensors("fuzz.ckpt", data, size), "fuzz.ckpt");
    lstm::SequenceModel model = lstm::SequenceModel::from_tensors(checkpoint.model, "fuzz.ckpt");
    lstm::Optimizer optimizer(checkpoint.optimizer.config, model.parameters());
    optimizer.load_state(checkpoint.optimizer, "fuzz.ckpt");
  } catch (const lstm::Error&) {
  }
  return 0;
}
