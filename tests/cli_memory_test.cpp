// Memory refusals: a model, a batch or a text that would not fit in the memory available is
// refused before allocating, with one line naming the sizes, exit 1 and no output file. The
// address-space limit (prlimit --as) stands for a small machine; sanitizer builds, which reserve
// terabytes of address space, skip those cases.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "lstm/lstm.hpp"
#include "lstm/memory.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

using test_util::kSanitized;

std::string charlm(const std::string& data, const std::string& out, const std::string& extra) {
  return cli + " train --task charlm --data " + shell_quote(data) + " --out " + shell_quote(out) +
         " --threads 1 --quiet --epochs 1 " + extra;
}

TEST(CliMemory, HugeHiddenSizeIsRefusedBeforeAllocating) {
  if (kSanitized) GTEST_SKIP() << "address-space limits and sanitizers do not mix";
  test_util::TempDir dir;
  const std::string data = dir.file("t.txt");
  std::ofstream(data) << "abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc";
  // By hand: LSTM 4H(E + H) + 8H = 1078067200, head V·H + V = 49155 and embedding V·E = 192
  // (V = 3, E = 64, H = 16384): 1078116547 parameters, 8.6 GB with their gradients.
  test_util::expect_cli_failure(
      "prlimit --as=2000000000 " + charlm(data, dir.file("m.safetensors"), "--hidden 16384 --window 10"),
      dir.path(), {"a model of 1078116547 parameters", "needs about 8.6 GB of memory, but only"});
}

TEST(CliMemory, HugeBatchTimesSequenceLengthIsRefused) {
  if (kSanitized) GTEST_SKIP() << "address-space limits and sanitizers do not mix";
  test_util::TempDir dir;
  const std::string data = dir.file("t.txt");
  {
    std::ofstream out(data);
    for (int k = 0; k < 200000; ++k) out << static_cast<char>('a' + (k * 7 + k / 13) % 26);
  }
  // 9 windows of 20000 characters (the batch) through 1024 units: about 13.5 GB of buffers.
  test_util::expect_cli_failure(
      "prlimit --as=2000000000 " +
          charlm(data, dir.file("m.safetensors"), "--hidden 1024 --window 20000 --batch 64"),
      dir.path(), {"a batch of 9 sequences of 20000 steps", "needs about", "GB of memory"});
}

TEST(CliMemory, TerabyteTextIsRefusedBeforeReading) {
  test_util::TempDir dir;
  const std::string data = dir.file("huge.txt");
  {
    std::ofstream(data).flush();
  }
  fs::resize_file(data, uint64_t{1} << 40);  // sparse: 1 TiB of zeros that take no disk
  test_util::expect_cli_failure(
      charlm(data, dir.file("m.safetensors"), "--vocabulary bytes"), dir.path(),
      {data + ": a text of 1.1 TB needs about 11.0 TB of memory, but only"});
}

TEST(CliMemory, SparseTerabyteModelFileIsRefusedBeforeReading) {
  test_util::TempDir dir;
  const std::string model = dir.file("huge.safetensors");
  {
    std::ofstream(model).flush();
  }
  fs::resize_file(model, uint64_t{1} << 40);
  test_util::expect_cli_failure(cli + " info " + shell_quote(model), dir.path(),
                                {model + ": reading it needs about 1.1 TB of memory"});
}

TEST(MemoryBudget, SizesAndAvailability) {
  EXPECT_EQ(lstm::byte_size_text(512), "512 B");
  EXPECT_EQ(lstm::byte_size_text(8'626'643'072), "8.6 GB");
  EXPECT_GT(lstm::available_memory_bytes(), uint64_t{1} << 20);
  EXPECT_NO_THROW(lstm::require_memory(1000, "a little"));
  EXPECT_THROW(lstm::require_memory(UINT64_MAX, "everything"), lstm::Error);
}

}  // namespace
