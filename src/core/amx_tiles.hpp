// The AMX tile configuration of both tile kernels (bf16_amx.cpp, int8_amx.cpp): palette 1, all
// eight tiles 16 rows of 64 bytes. Passed to _tile_loadconfig before a kernel's tiles.
#pragma once

#include <cstdint>

namespace lstm {

struct AmxTileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
  AmxTileConfig() {
    for (int t = 0; t < 8; ++t) {
      bytes_per_row[t] = 64;
      rows[t] = 16;
    }
  }
};

}  // namespace lstm
