// safetensors: round trips, the exact layout save_file writes, dtype conversion, every rejection
// of a corrupted header, and atomic writes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <limits>

#include "io_test_util.hpp"
#include "lstm/io.hpp"

namespace {

using lstm::HostTensor;
using lstm_test::le64;
using lstm_test::read_bytes;
using lstm_test::TempDir;
using lstm_test::throws_error;
using lstm_test::write_bytes;

// A safetensors image: header length, header, data buffer.
std::string image(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

template <typename Word>
std::string words(std::initializer_list<Word> values) {
  std::string bytes;
  for (Word value : values)
    for (size_t k = 0; k < sizeof(Word); ++k)
      bytes.push_back(static_cast<char>((value >> (8 * k)) & 0xff));
  return bytes;
}

std::string floats(std::initializer_list<float> values) {
  std::string bytes;
  for (float value : values) bytes += words<uint32_t>({std::bit_cast<uint32_t>(value)});
  return bytes;
}

TEST(Safetensors, RoundTripSortsByNameAndKeepsMetadata) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  const std::vector<std::pair<std::string, HostTensor>> tensors = {
      {"zeta", HostTensor{{2, 3}, {1, 2, 3, 4, 5, -6.5f}}},
      {"alpha", HostTensor{{}, {42.0f}}},
      {"empty", HostTensor{{0, 3}, {}}},
      {"mid", HostTensor{{1}, {std::numeric_limits<float>::infinity()}}}};
  lstm::write_safetensors(path, tensors, {{"config", "{\"cell\":\"gru\"}"}, {"note", "ünïcode"}});
  const lstm::SafetensorsContents contents = lstm::read_safetensors(path);
  ASSERT_EQ(contents.tensors.size(), 4u);
  EXPECT_EQ(contents.tensors[0].first, "alpha");
  EXPECT_EQ(contents.tensors[1].first, "empty");  // zero bytes at the same offset as "mid"
  EXPECT_EQ(contents.tensors[2].first, "mid");
  EXPECT_EQ(contents.tensors[3].first, "zeta");
  for (const auto& [name, tensor] : tensors) {
    const HostTensor* read = contents.find(name);
    ASSERT_NE(read, nullptr) << name;
    EXPECT_EQ(read->shape, tensor.shape) << name;
    EXPECT_EQ(read->data, tensor.data) << name;
  }
  EXPECT_EQ(contents.find("absent"), nullptr);
  EXPECT_EQ(contents.metadata.at("config"), "{\"cell\":\"gru\"}");
  EXPECT_EQ(contents.metadata.at("note"), "ünïcode");
  EXPECT_EQ(contents.find("alpha")->numel(), 1);
  EXPECT_EQ(contents.find("empty")->numel(), 0);
  EXPECT_EQ(lstm_test::directory_entries(dir.path()),
            std::vector<std::string>{"model.safetensors"});
}

TEST(Safetensors, WritesTheLayoutOfSaveFile) {
  TempDir dir;
  const std::string path = dir.file("two.safetensors");
  lstm::write_safetensors(path,
                          {{"b", HostTensor{{2}, {3, 4}}}, {"a", HostTensor{{1, 2}, {1, 2}}}});
  std::string header = R"({"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  EXPECT_EQ(read_bytes(path), image(header, floats({1, 2, 3, 4})));

  lstm::write_safetensors(path, {}, {{"k", "v"}});
  EXPECT_EQ(read_bytes(path), image(R"({"__metadata__":{"k":"v"}})" + std::string(6, ' '), ""));
  EXPECT_TRUE(lstm::read_safetensors(path).tensors.empty());
}

// Files written by PyTorch state_dicts in save_file's format: read, rewrite, compare byte by byte.
TEST(Safetensors, RewritesTorchFilesByteForByte) {
  TempDir dir;
  for (const char* name : {"torch_lstm_proj_bidir", "torch_gru_nobias", "torch_rnn_relu"}) {
    const std::string source =
        std::string(LSTM_TEST_DATA_DIR) + "/safetensors/" + name + ".safetensors";
    const lstm::SafetensorsContents contents = lstm::read_safetensors(source);
    const std::string copy = dir.file(std::string(name) + ".safetensors");
    lstm::write_safetensors(copy, contents.tensors, contents.metadata);
    EXPECT_EQ(read_bytes(copy), read_bytes(source)) << name;
  }
}

TEST(Safetensors, ConvertsF16BF16AndF64) {
  TempDir dir;
  const std::string path = dir.file("types.safetensors");
  const std::string f16 = words<uint16_t>(
      {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x0400, 0x3555, 0x8000, 0x7C00, 0xFC00, 0x7E00});
  const std::string bf16 = words<uint16_t>({0x3F80, 0xC040, 0x4049, 0x0001, 0xFF80});
  const std::string f64 =
      words<uint64_t>({std::bit_cast<uint64_t>(0.1), std::bit_cast<uint64_t>(-1e-3),
                       std::bit_cast<uint64_t>(1e30)});
  const std::string header = R"({"h":{"dtype":"F16","shape":[10],"data_offsets":[0,20]},)"
                             R"("b":{"dtype":"BF16","shape":[5],"data_offsets":[20,30]},)"
                             R"("d":{"dtype":"F64","shape":[3],"data_offsets":[30,54]}})";
  write_bytes(path, image(header, f16 + bf16 + f64));
  const lstm::SafetensorsContents contents = lstm::read_safetensors(path);
  const auto& h = contents.find("h")->data;
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], 65504.0f);
  EXPECT_EQ(h[3], std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(h[4], std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(h[5], 0.333251953125f);
  EXPECT_EQ(h[6], 0.0f);
  EXPECT_TRUE(std::signbit(h[6]));
  EXPECT_EQ(h[7], std::numeric_limits<float>::infinity());
  EXPECT_EQ(h[8], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(h[9]));
  const auto& b = contents.find("b")->data;
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], -3.0f);
  EXPECT_EQ(b[2], 3.140625f);
  EXPECT_EQ(b[3], std::bit_cast<float>(uint32_t{0x00010000}));
  EXPECT_EQ(b[4], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(contents.find("d")->data, (std::vector<float>{0.1f, -1e-3f, 1e30f}));
  // Tensors come in the order of their data.
  EXPECT_EQ(contents.tensors[0].first, "h");
  EXPECT_EQ(contents.tensors[2].first, "d");
}

TEST(Safetensors, AcceptsHeaderPaddedWithSpaces) {
  TempDir dir;
  const std::string path = dir.file("padded.safetensors");
  write_bytes(path,
              image(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}     )", floats({7})));
  EXPECT_EQ(lstm::read_safetensors(path).find("x")->data, std::vector<float>{7});
}

// One corrupted file per case: the message must name the file and what is wrong with it.
struct Corruption {
  const char* label;
  std::string bytes;
  std::vector<std::string> fragments;
};

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + R"(":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" +
         offsets + "}";
}

TEST(Safetensors, RejectsCorruptedFiles) {
  const std::string w = entry("weight_ih_l0", "F32", "[2,2]", "[0,16]");
  const std::string data16 = floats({1, 2, 3, 4});
  const std::vector<Corruption> cases = {
      {"short", "abc", {"3 bytes, too short"}},
      {"header past end",
       le64(100) + "{}",
       {"header length 100 runs past the end of the file (10 bytes)"}},
      {"absurd header", le64(uint64_t{1} << 40) + "{}", {"implausibly large"}},
      {"malformed json", image(R"({"weight_ih_l0":{)", ""), {"header is not valid JSON"}},
      {"invalid utf-8", image("{\"\xff\":{}}", ""), {"header is not valid JSON"}},
      {"not an object", image("[1,2]", ""), {"header is not a JSON object"}},
      {"entry not object",
       image(R"({"weight_ih_l0":[1]})", ""),
       {"'weight_ih_l0'", "not a JSON object"}},
      {"missing key",
       image(R"({"weight_ih_l0":{"dtype":"F32","shape":[1]}})", ""),
       {"'weight_ih_l0'", "no 'data_offsets'"}},
      {"extra key",
       image(R"({"weight_ih_l0":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})",
             floats({1})),
       {"'weight_ih_l0'", "unexpected key 'x'"}},
      {"unknown dtype",
       image("{" + entry("weight_ih_l0", "F128", "[1]", "[0,4]") + "}", floats({1})),
       {"'weight_ih_l0'", "unknown dtype 'F128'"}},
      {"integer dtype",
       image("{" + entry("lengths", "I64", "[1]", "[0,8]") + "}", floats({1, 2})),
       {"'lengths'", "unsupported dtype 'I64'"}},
      {"dtype not string",
       image(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", floats({1})),
       {"'w'", "'dtype' is not a string"}},
      {"shape not list",
       image("{" + entry("w", "F32", "4", "[0,4]") + "}", floats({1})),
       {"'w'", "'shape' is not a list"}},
      {"negative extent",
       image("{" + entry("w", "F32", "[-1]", "[0,4]") + "}", floats({1})),
       {"'w'", "not a non-negative integer: -1"}},
      {"fractional extent",
       image("{" + entry("w", "F32", "[1.5]", "[0,4]") + "}", floats({1})),
       {"'w'", "not a non-negative integer"}},
      {"shape overflow",
       image("{" + entry("w", "F32", "[4294967296,4294967296]", "[0,4]") + "}", floats({1})),
       {"'w'", "too many elements"}},
      {"product exceeds buffer",
       image("{" + entry("w", "F32", "[1073741824,16]", "[0,4]") + "}", floats({1})),
       {"'w'", "more bytes than the file has"}},
      {"size mismatch",
       image("{" + entry("weight_ih_l0", "F32", "[3]", "[0,16]") + "}", data16),
       {"'weight_ih_l0'", "shape [3] of F32 needs 12 bytes but data range [0, 16) holds 16"}},
      {"past end",
       image("{" + entry("weight_ih_l0", "F32", "[2,2]", "[4,20]") + "}", data16),
       {"'weight_ih_l0'", "data range [4, 20) runs past the end of the data buffer (16 bytes)"}},
      {"begin after end",
       image("{" + entry("w", "F32", "[0]", "[8,4]") + "}", data16),
       {"'w'", "[8, 4) ends before it begins"}},
      {"offsets not a pair",
       image("{" + entry("w", "F32", "[1]", "[0,4,8]") + "}", floats({1})),
       {"'w'", "'data_offsets' is not a list of two non-negative integers"}},
      {"overlap",
       image("{" + w + "," + entry("bias", "F32", "[2]", "[8,16]") + "}", data16),
       {"'weight_ih_l0'", "'bias'", "overlaps"}},
      {"gap",
       image(
           "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[2]", "[8,16]") + "}",
           data16),
       {"bytes [4, 8) of the data buffer belong to no tensor", "'b'"}},
      {"uncovered tail",
       image("{" + entry("a", "F32", "[3]", "[0,12]") + "}", data16),
       {"bytes [12, 16) at the end of the data buffer belong to no tensor"}},
      {"duplicate name", image("{" + w + "," + w + "}", data16), {"'weight_ih_l0' more than once"}},
      {"metadata not object",
       image(R"({"__metadata__":[1]})", ""),
       {"'__metadata__' is not a JSON object"}},
      {"metadata value not string",
       image(R"({"__metadata__":{"config":{"cell":"gru"}}})", ""),
       {"'__metadata__' value for key 'config' is not a string"}},
      {"f64 out of range",
       image("{" + entry("w", "F64", "[2]", "[0,16]") + "}",
             words<uint64_t>({std::bit_cast<uint64_t>(1.0), std::bit_cast<uint64_t>(1e300)})),
       {"'w'", "flat index 1 is outside the float32 range"}},
  };
  TempDir dir;
  for (const Corruption& corruption : cases) {
    const std::string path = dir.file("bad.safetensors");
    write_bytes(path, corruption.bytes);
    std::vector<std::string> fragments = corruption.fragments;
    fragments.push_back(path + ": ");
    EXPECT_TRUE(throws_error([&] { lstm::read_safetensors(path); }, fragments)) << corruption.label;
  }
}

TEST(Safetensors, RejectsMissingFilesAndDirectories) {
  TempDir dir;
  EXPECT_TRUE(throws_error([&] { lstm::read_safetensors(dir.file("absent.safetensors")); },
                           {dir.file("absent.safetensors"), "No such file or directory"}));
  EXPECT_TRUE(
      throws_error([&] { lstm::read_safetensors(dir.path().string()); }, {"is a directory"}));
}

TEST(Safetensors, WriterRejectsInconsistentTensors) {
  TempDir dir;
  const std::string path = dir.file("out.safetensors");
  EXPECT_TRUE(throws_error(
      [&] {
        lstm::write_safetensors(path, {{"w", HostTensor{{2, 2}, {1, 2, 3}}}});
      },
      {path, "'w'", "shape [2, 2] does not match its 3 values"}));
  EXPECT_TRUE(throws_error(
      [&] {
        lstm::write_safetensors(path, {{"w", HostTensor{{1}, {1}}}, {"w", HostTensor{{1}, {2}}}});
      },
      {path, "'w'", "more than once"}));
  EXPECT_TRUE(throws_error(
      [&] {
        lstm::write_safetensors(path, {{"__metadata__", HostTensor{{1}, {1}}}});
      },
      {path, "reserved"}));
  EXPECT_TRUE(throws_error(
      [&] {
        lstm::write_safetensors(path, {}, {{"k", "\xff"}});
      },
      {path, "not valid UTF-8"}));
  EXPECT_TRUE(lstm_test::directory_entries(dir.path()).empty());
}

TEST(SafetensorsAtomicWrite, ReplacesAnExistingFileWhole) {
  TempDir dir;
  const std::string path = dir.file("file.bin");
  lstm::write_file_atomically(path, std::string(10000, 'x'));
  lstm::write_file_atomically(path, "short");
  EXPECT_EQ(read_bytes(path), "short");
  EXPECT_EQ(lstm_test::directory_entries(dir.path()), std::vector<std::string>{"file.bin"});
}

TEST(SafetensorsAtomicWrite, FailsCleanlyWhenTheDirectoryIsMissing) {
  TempDir dir;
  const std::string path = dir.file("missing/file.bin");
  EXPECT_TRUE(throws_error([&] { lstm::write_file_atomically(path, "data"); },
                           {path + ": ", "temporary file", "No such file or directory"}));
  EXPECT_TRUE(lstm_test::directory_entries(dir.path()).empty());
}

TEST(SafetensorsAtomicWrite, FailsCleanlyWhenTheTargetIsADirectory) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("taken"));
  EXPECT_TRUE(throws_error([&] { lstm::write_file_atomically(dir.file("taken"), "data"); },
                           {dir.file("taken") + ": ", "cannot replace"}));
  EXPECT_EQ(lstm_test::directory_entries(dir.path()),
            std::vector<std::string>{"taken"});  // no temporary file left
}

TEST(SafetensorsAtomicWrite, FailsCleanlyInAnUnwritableDirectory) {
  // sysfs refuses new files even to root.
  if (std::filesystem::is_directory("/sys/kernel")) {
    EXPECT_TRUE(
        throws_error([] { lstm::write_file_atomically("/sys/kernel/lstm_test.bin", "data"); },
                     {"/sys/kernel/lstm_test.bin: ",
                      "cannot create a temporary file in directory '/sys/kernel'"}));
  }
  if (::geteuid() == 0) GTEST_SKIP() << "root may write into read-only directories";
  TempDir dir;
  std::filesystem::permissions(
      dir.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  const std::string path = dir.file("file.bin");
  EXPECT_TRUE(throws_error([&] { lstm::write_file_atomically(path, "data"); },
                           {path + ": ", "Permission denied"}));
  EXPECT_TRUE(lstm_test::directory_entries(dir.path()).empty());
  std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_all);
}

TEST(SafetensorsAtomicWrite, RejectsBadNames) {
  TempDir dir;
  write_bytes(dir.file("plain"), "x");
  const std::string inside_a_file = dir.file("plain/file.bin");
  EXPECT_TRUE(throws_error([&] { lstm::write_file_atomically(inside_a_file, "data"); },
                           {inside_a_file + ": ", "Not a directory"}));
  EXPECT_TRUE(throws_error([] { lstm::write_file_atomically("", "data"); }, {"empty name"}));
  EXPECT_TRUE(throws_error([] { lstm::write_file_atomically("dir/", "data"); }, {"dir/: "}));
  EXPECT_EQ(lstm_test::directory_entries(dir.path()), std::vector<std::string>{"plain"});
}

}  // namespace
