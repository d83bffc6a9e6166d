// A file's size and 64-bit FNV-1a checksum, to tell whether a resumed run reads the same data.
#pragma once

#include <string>

namespace lstm_cli {

// "<size> bytes, checksum <16 hex digits>"; throws lstm::Error naming the path if unreadable.
std::string file_fingerprint(const std::string& path);

}  // namespace lstm_cli
