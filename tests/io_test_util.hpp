// Helpers for the file-format tests: raw byte files, directory listings, and error checks.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "lstm/error.hpp"
#include "test_util.hpp"

namespace lstm_test {

using test_util::TempDir;

using test_util::directory_entries;

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string le64(uint64_t value) {
  std::string bytes;
  for (int k = 0; k < 8; ++k) bytes.push_back(static_cast<char>((value >> (8 * k)) & 0xff));
  return bytes;
}

// Succeeds if `action` throws lstm::Error whose message is one line containing every fragment.
inline ::testing::AssertionResult throws_error(const std::function<void()>& action,
                                               const std::vector<std::string>& fragments) {
  try {
    action();
  } catch (const lstm::Error& error) {
    const std::string message = error.what();
    if (message.find('\n') != std::string::npos)
      return ::testing::AssertionFailure() << "message has a newline: " << message;
    for (const std::string& fragment : fragments)
      if (message.find(fragment) == std::string::npos)
        return ::testing::AssertionFailure() << "message lacks \"" << fragment << "\": " << message;
    return ::testing::AssertionSuccess() << message;
  } catch (const std::exception& error) {
    return ::testing::AssertionFailure()
           << "threw something other than lstm::Error: " << error.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace lstm_test
