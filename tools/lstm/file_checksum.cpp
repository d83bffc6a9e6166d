// File fingerprints: size and FNV-1a 64 over the bytes, read in 1 MiB pieces.
#include "file_checksum.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "lstm/error.hpp"

namespace lstm_cli {

std::string file_fingerprint(const std::string& path) {
  const std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw lstm::Error(path + ": cannot open: " + std::strerror(errno));
  std::vector<unsigned char> piece(1 << 20);
  uint64_t hash = 0xcbf29ce484222325ull, size = 0;
  for (;;) {
    const size_t got = std::fread(piece.data(), 1, piece.size(), file.get());
    for (size_t k = 0; k < got; ++k) hash = (hash ^ piece[k]) * 0x100000001b3ull;
    size += got;
    if (got < piece.size()) break;
  }
  if (std::ferror(file.get())) throw lstm::Error(path + ": cannot read");
  char text[80];
  std::snprintf(text, sizeof text, "%" PRIu64 " bytes, checksum %016" PRIx64, size, hash);
  return text;
}

}  // namespace lstm_cli
