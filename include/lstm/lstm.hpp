// lstm: Long Short-Term Memory networks and their relatives on the CPU.
//
// Notation used in every shape comment of this library:
//   T  steps          B  batch              I  input size       H  hidden size
//   P  projection     L  layers             D  directions (1 or 2)
//   G  gates per cell: 4 LSTM (i, f, g, o), 3 GRU (r, z, n), 1 RNN
//   Hout = P with projection, else H  (width of one direction's h)
//   Hcat = D * Hout                   (width of a layer's output)
// Arrays are row-major and sequence-first: [T, B, ·].
#pragma once

#include "lstm/config.hpp"
#include "lstm/data.hpp"
#include "lstm/distributed.hpp"
#include "lstm/error.hpp"
#include "lstm/io.hpp"
#include "lstm/isa.hpp"
#include "lstm/network.hpp"
#include "lstm/onnx.hpp"
#include "lstm/precision.hpp"
#include "lstm/threads.hpp"
#include "lstm/train.hpp"
