// The int8 pieces of the forward loop (--precision int8): quantizing rows of the states, the
// products of the projection, and the recurrent product (with, for many rows, the input part)
// fused with the cell tile by tile. forward.cpp runs them; the cells are the float ones.
#pragma once

#include <algorithm>
#include <type_traits>

#include "cells/cell.hpp"
#include "core/int8_gemm.hpp"
#include "network/driver.hpp"

namespace lstm::driver {

// Rows [b0, b1) of A [·, k] quantized into this thread's `rows` (its row 0 is A's row b0).
template <typename T>
void quantize_rows(int8::Rows& rows, const T* a, int64_t k, int64_t b0, int64_t b1) {
  if constexpr (std::is_same_v<T, float>) {
    rows.shape(b1 - b0, k);
    rows.quantize(0, b1 - b0, a + b0 * k, k);
  }
}

// int8 products of rows [b0, b1) of A [·, k] with the units [u0, u1) of every block of w, into
// C [·, ldc] (rows b0.. as well): A is quantized into this thread's `rows` first.
template <typename T>
void int8_product(int8::Rows& rows, const T* a, int64_t k, int64_t b0, int64_t b1, const int8::Weights& w, T* c,
                  int64_t ldc, int64_t u0, int64_t u1, bool accumulate) {
  if constexpr (std::is_same_v<T, float>) {
    quantize_rows(rows, a, k, b0, b1);
    int8::multiply(rows, 0, b1 - b0, w, c + b0 * ldc, ldc, u0, u1, accumulate);
  }
}

// Units per tile of the int8 recurrent product fused with the cell: as many as one call of the
// sum kernels computes (4 panels of 16).
constexpr int64_t kInt8TileUnits = int8::kPanelBlock * int8::kPanel;

// The input part of one step computed in the tiles too (int8_input_per_step): x_t's quantized
// rows from `first_row` of `x`, with W_ih and b_ih (or no bias).
template <typename T>
struct Int8StepInput {
  const int8::Rows* x;
  int64_t first_row;
  const int8::Weights* w_ih;
  const T* bias;
};

// Whether each step computes its own input part inside the int8 tiles, instead of one product
// over every step before the loop: when each thread has a whole tile of rows, or half of one
// with a W_ih [G*H, in] of at most 256 KiB in int8. The input part over every step is written
// to memory and read back by the cells (26 MB for lstm 512/512/64/50), while W_ih streamed once
// per step from L2 or L3 costs the tiles less when enough rows share it (CPU time per
// iteration, int8, 2 threads: lstm 512/512/64/50 23.0 → 20.6 ms, 1024/1024/64/25 46.9 → 40.5,
// 128/128/32/100 (16 rows a thread) 3.5 → 3.0; but 512/512/32/50, 16 rows a thread, 11.3 →
// 13.7). A batch of few rows reads the weights once for all steps instead.
inline bool int8_input_per_step(const Dims& d, int64_t in, bool by_batch, int threads) {
  const int64_t rows = by_batch ? d.B / threads : d.B;
  return rows >= int8::kRowBlock || (rows >= int8::kRowBlock / 2 && d.GH * in <= (int64_t{256} << 10));
}

// An int8 recurrent product fused with a phase of the cell: the sums of the cell's rows (in `q`,
// quantized) with every block of w are turned to float in `recurrent` ([cell.batch, G*H], the
// cell's rows, from column `column`) 32 rows by 64 units of every block at a time, and each tile
// goes to the cell at once, while it is still in L1: the float products never make a pass over
// memory of their own. With `input`, the tile's input part x_t W_ihᵀ + b_ih is computed into
// `gates` first. The layer-normalised cell needs every unit of its rows at once: its tiles are 32
// rows by all units.
template <typename T>
void int8_cell_tiles(const Dims& d, const CellForward<T>& cell,
                     void (*phase)(const CellForward<T>&), const int8::Rows& q,
                     const int8::Weights& w, T* recurrent, int64_t column,
                     const Int8StepInput<T>* input, PhaseClock& clock) {
  if constexpr (std::is_same_v<T, float>) {
    const int64_t units = d.layer_norm ? cell.unit_end - cell.unit_begin : kInt8TileUnits;
    for (int64_t r = 0; r < cell.batch; r += int8::kRowBlock) {
      const int64_t rows = std::min(int8::kRowBlock, cell.batch - r);
      CellForward<T> tile = cell_rows(cell, r, rows, d.GH, d.Hout);
      for (int64_t j = cell.unit_begin; j < cell.unit_end; j += units) {
        tile.unit_begin = j;
        tile.unit_end = std::min(cell.unit_end, j + units);
        if (input) {
          int8::multiply(*input->x, input->first_row + r, input->first_row + r + rows, *input->w_ih, tile.gates, d.GH, j,
                         tile.unit_end, false, input->bias);
          clock.lap(&PhaseSeconds::input_products);
        } else {
          // The tile's input part comes from memory (it was computed for every step before the
          // loop): asked for now, it arrives while the tile's sums are computed.
          for (int64_t b = 0; b < rows; ++b)
            for (int64_t g = 0; g < d.G; ++g)
              for (int64_t k = j; k < tile.unit_end; k += 16) __builtin_prefetch(tile.gates + b * d.GH + g * d.H + k, 1, 3);
        }
        int8::multiply(q, r, r + rows, w, recurrent + r * d.GH + column, d.GH, j, tile.unit_end, false);
        clock.lap(&PhaseSeconds::recurrent_products);
        phase(tile);
        clock.lap(&PhaseSeconds::cells);
      }
    }
  }
}

}  // namespace lstm::driver
