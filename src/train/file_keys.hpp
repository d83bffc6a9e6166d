// Names shared by model files and checkpoints (SPEC.md §4): reserved metadata keys and the
// optimiser's tensor prefix.
#pragma once

namespace lstm::train_keys {

constexpr const char* kModel = "sequence_model";   // metadata: {"head_mode": "..."}
constexpr const char* kCheckpoint = "checkpoint";  // metadata: progress, optimiser, free metadata
constexpr const char* kOptimizerPrefix = "optimizer.";  // tensors: "optimizer.<buffer>.<param>"
// Tensors a training loop keeps in its checkpoints (best weights, carried state): model files
// skip them, like the optimiser's.
constexpr const char* kTrainerPrefix = "trainer.";

}  // namespace lstm::train_keys
