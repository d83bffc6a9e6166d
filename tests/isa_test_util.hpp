// For the tests that CTest runs once per instruction-set path (LSTM_MAX_ISA): the path the CPU
// should give, read independently of the library from /proc/cpuinfo, and a skip for the paths
// this CPU lacks.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "lstm/isa.hpp"

namespace test_util {

// The value of the first line of /proc/cpuinfo that starts with `key` (the first CPU's), or "".
inline std::string cpuinfo_value(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0 && line.find(':') != std::string::npos) return line.substr(line.find(':') + 1);
  return "";
}

// The best path by the flags Linux lists for the first CPU.
inline lstm::Isa isa_from_cpuinfo() {
  std::set<std::string> flags;
  std::istringstream words(cpuinfo_value("flags"));
  for (std::string w; words >> w;) flags.insert(w);
  auto has = [&](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (!flags.count(n)) return false;
    return true;
  };
  if (!has({"avx2", "fma", "f16c", "bmi2"})) return lstm::Isa::scalar;
  if (!has({"avx512f", "avx512bw", "avx512dq", "avx512vl"})) return lstm::Isa::avx2;
  if (has({"amx_bf16", "amx_tile"})) return lstm::Isa::amx;
  return has({"avx512_bf16"}) ? lstm::Isa::avx512_bf16 : lstm::Isa::avx512;
}

// An AMD family 25 (19h) CPU with AVX-512: Zen 4.
inline bool zen4_from_cpuinfo() {
  const std::string family = cpuinfo_value("cpu family");
  return cpuinfo_value("vendor_id").find("AuthenticAMD") != std::string::npos && !family.empty() &&
         std::stoi(family) == 25 && isa_from_cpuinfo() >= lstm::Isa::avx512;
}

// The path LSTM_MAX_ISA asks for, or the CPU's best when it is unset.
inline lstm::Isa requested_isa() {
  const char* cap = std::getenv("LSTM_MAX_ISA");
  return cap && *cap ? lstm::parse_isa(cap) : lstm::cpu_isa();
}

// Skips every test of the binary when LSTM_MAX_ISA names a path this CPU lacks.
class IsaCapEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!lstm::isa_supported(requested_isa()))
      GTEST_SKIP() << "this CPU (" << lstm::cpu_name() << ") lacks the " << lstm::isa_name(requested_isa())
                   << " path; its best is " << lstm::isa_name(lstm::cpu_isa());
  }
};

}  // namespace test_util

// Once, at namespace scope, in each test file that CTest runs per path.
#define LSTM_TEST_PER_ISA_PATH() \
  [[maybe_unused]] static ::testing::Environment* const lstm_isa_environment = \
      ::testing::AddGlobalTestEnvironment(new test_util::IsaCapEnvironment)
