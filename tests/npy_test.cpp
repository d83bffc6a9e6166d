// .npy: files written by NumPy (every supported dtype, byte order, Fortran order, versions 1-3),
// byte-identical writing, and every rejection of a corrupted file.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>

#include "io_test_util.hpp"
#include "lstm/io.hpp"

namespace {

using lstm::HostTensor;
using lstm_test::read_bytes;
using lstm_test::TempDir;
using lstm_test::throws_error;
using lstm_test::write_bytes;

std::string fixture(const std::string& name) {
  return std::string(LSTM_TEST_DATA_DIR) + "/npy/" + name;
}

const std::vector<float> counting = {-0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f};  // see the script

TEST(Npy, ReadsEveryFloatTypeNumpyWrites) {
  for (const char* name : {"f4_2x3.npy", "f4_be_2x3.npy", "f8_2x3.npy", "f8_be_2x3.npy",
                           "f2_2x3.npy", "f2_be_2x3.npy", "f4_v2_2x3.npy", "f4_v3_2x3.npy"}) {
    const HostTensor tensor = lstm::read_npy(fixture(name));
    EXPECT_EQ(tensor.shape, (std::vector<int64_t>{2, 3})) << name;
    EXPECT_EQ(tensor.data, counting) << name;
  }
}

TEST(Npy, TransposesFortranOrder) {
  const HostTensor tensor = lstm::read_npy(fixture("f4_fortran_2x3x4.npy"));
  ASSERT_EQ(tensor.shape, (std::vector<int64_t>{2, 3, 4}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(tensor.data[i * 12 + j * 4 + k], 100 * i + 10 * j + k);
  const lstm::IntTensor ints = lstm::read_npy_integers(fixture("i4_fortran_2x3.npy"));
  EXPECT_EQ(ints.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ints.data, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, ReadsScalarsEmptyArraysAndVectors) {
  const HostTensor scalar = lstm::read_npy(fixture("f4_scalar.npy"));
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.data, std::vector<float>{3.5f});
  const HostTensor empty = lstm::read_npy(fixture("f4_empty_0x3.npy"));
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(empty.data.empty());
  EXPECT_EQ(lstm::read_npy(fixture("f4_vector_5.npy")).data, (std::vector<float>{0, 1, 2, 3, 4}));
}

TEST(Npy, ReadsEveryIntegerType) {
  const std::vector<std::pair<const char*, std::vector<int64_t>>> cases = {
      {"i4_lengths.npy", {3, 1, 2}},     {"i8_values.npy", {5, -1, 7, int64_t{1} << 40}},
      {"i2_be_values.npy", {-3, 300}},   {"i1_values.npy", {-128, 127}},
      {"u1_values.npy", {0, 255}},       {"u2_values.npy", {0, 65535}},
      {"u4_be_values.npy", {4000000000}}};
  for (const auto& [name, values] : cases) {
    const lstm::IntTensor tensor = lstm::read_npy_integers(fixture(name));
    EXPECT_EQ(tensor.shape, std::vector<int64_t>{static_cast<int64_t>(values.size())}) << name;
    EXPECT_EQ(tensor.data, values) << name;
  }
}

TEST(Npy, RejectsTheWrongKindOfArray) {
  EXPECT_TRUE(throws_error([] { lstm::read_npy(fixture("i8_values.npy")); },
                           {fixture("i8_values.npy") + ": ", "expected a float array, got int64"}));
  EXPECT_TRUE(
      throws_error([] { lstm::read_npy_integers(fixture("f4_2x3.npy")); },
                   {fixture("f4_2x3.npy") + ": ", "expected an integer array, got float32"}));
  EXPECT_TRUE(throws_error([] { lstm::read_npy(fixture("c8_unsupported.npy")); },
                           {"c8_unsupported.npy: ", "unsupported dtype '<c8'"}));
  EXPECT_TRUE(throws_error([] { lstm::read_npy_integers(fixture("bool_unsupported.npy")); },
                           {"bool_unsupported.npy: ", "unsupported dtype '|b1'"}));
}

TEST(Npy, WritesExactlyWhatNumpyWrites) {
  TempDir dir;
  const std::vector<std::pair<const char*, HostTensor>> cases = {
      {"f4_2x3.npy", HostTensor{{2, 3}, counting}},
      {"f4_scalar.npy", HostTensor{{}, {3.5f}}},
      {"f4_empty_0x3.npy", HostTensor{{0, 3}, {}}},
      {"f4_vector_5.npy", HostTensor{{5}, {0, 1, 2, 3, 4}}}};
  for (const auto& [name, tensor] : cases) {
    lstm::write_npy(dir.file(name), tensor);
    EXPECT_EQ(read_bytes(dir.file(name)), read_bytes(fixture(name))) << name;
  }
}

TEST(Npy, RoundTripsManyShapes) {
  TempDir dir;
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{7}, {1, 1, 1, 1}, {3, 0}, {2, 5, 3}, {123456789012, 0}}) {
    HostTensor tensor{shape, {}};
    for (int64_t k = 0; k < tensor.numel(); ++k)
      tensor.data.push_back(static_cast<float>(k) * 0.5f - 1);
    lstm::write_npy(dir.file("a.npy"), tensor);
    const HostTensor read = lstm::read_npy(dir.file("a.npy"));
    EXPECT_EQ(read.shape, shape);
    EXPECT_EQ(read.data, tensor.data);
    EXPECT_EQ(read_bytes(dir.file("a.npy")).size() % 64, (tensor.data.size() * 4) % 64);
  }
  EXPECT_TRUE(throws_error(
      [&] {
        lstm::write_npy(dir.file("b.npy"), HostTensor{{2, 2}, {1}});
      },
      {dir.file("b.npy") + ": ", "shape [2, 2] does not match its 1 values"}));
  EXPECT_EQ(lstm_test::directory_entries(dir.path()), std::vector<std::string>{"a.npy"});
}

// A .npy image with the given header text (padded as numpy does not bother to here) and data.
std::string npy_image(const std::string& header, const std::string& data, int major = 1) {
  std::string bytes = "\x93NUMPY";
  bytes.push_back(static_cast<char>(major));
  bytes.push_back(0);
  const int width = major == 1 ? 2 : 4;
  for (int k = 0; k < width; ++k)
    bytes.push_back(static_cast<char>((header.size() >> (8 * k)) & 0xff));
  return bytes + header + data;
}

std::string dict(const std::string& descr, const std::string& fortran, const std::string& shape) {
  std::string text = "{'descr': ";  // appended piece by piece: GCC 12 warns falsely on "..." + s
  text += descr;
  text += ", 'fortran_order': ";
  text += fortran;
  text += ", 'shape': ";
  text += shape;
  return text + ", }\n";
}

TEST(Npy, RejectsCorruptedFiles) {
  const std::string data24(24, '\0');
  const std::string f4 = dict("'<f4'", "False", "(2, 3)");
  const std::vector<std::tuple<const char*, std::string, std::string>> cases = {
      {"short", "\x93NUM", "4 bytes, too short"},
      {"magic", "NOTNUMPYAT ALL", "not a .npy file"},
      {"version 4", npy_image(f4, data24, 4), "unsupported .npy version 4.0"},
      {"version 1.1",
       [&] {
         std::string bytes = npy_image(f4, data24);
         bytes[7] = 1;  // minor version
         return bytes;
       }(),
       "unsupported .npy version 1.1"},
      {"v2 length cut", std::string("\x93NUMPY\x02\x00\x10\x00", 10),
       "ends inside the .npy header length"},
      {"header past end", npy_image(f4, "").substr(0, 30), "runs past the end of the file"},
      {"not a dict", npy_image("[1, 2]\n", data24), "expected '{'"},
      {"missing shape", npy_image("{'descr': '<f4', 'fortran_order': False}", data24),
       "has no 'shape'"},
      {"extra key",
       npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': True}", data24),
       "unexpected key 'x'"},
      {"duplicate key", npy_image("{'descr': '<f4', 'descr': '<f4'}", data24),
       "'descr' appears twice"},
      {"descr not string", npy_image(dict("True", "False", "(2, 3)"), data24),
       "'descr' is not a string"},
      {"structured", npy_image(dict("[('a', '<f4')]", "False", "(2, 3)"), data24),
       "structured dtypes"},
      {"fortran not bool", npy_image(dict("'<f4'", "0", "(2, 3)"), data24),
       "'fortran_order' is not a string, True/False"},
      {"shape list", npy_image(dict("'<f4'", "False", "[2, 3]"), data24),
       "'shape' is a list or dict"},
      {"shape not tuple", npy_image(dict("'<f4'", "False", "(6)"), data24), "not a tuple"},
      {"negative dim", npy_image(dict("'<f4'", "False", "(-1, 3)"), data24), "negative dimension"},
      {"huge dim", npy_image(dict("'<f4'", "False", "(99999999999999999999,)"), data24),
       "integer too large"},
      {"overflow", npy_image(dict("'<f4'", "False", "(4294967296, 4294967296)"), data24),
       "too many elements"},
      {"unterminated", npy_image("{'descr: '<f4'}", data24), "expected ':'"},
      {"unterminated string", npy_image("{'descr", data24), "unterminated string"},
      {"escape", npy_image("{'des\\cr': '<f4'}", data24), "escape sequences"},
      {"after dict", npy_image(f4 + "x", data24), "unexpected text after the closing '}'"},
      {"native order", npy_image(dict("'=f4'", "False", "(2, 3)"), data24),
       "unsupported dtype '=f4'"},
      {"f16 wide", npy_image(dict("'<f16'", "False", "(2, 3)"), data24),
       "unsupported dtype '<f16'"},
      {"truncated", npy_image(f4, data24.substr(0, 20)),
       "shape (2, 3) of float32 needs 6 x 4 bytes but the file has 20 bytes of data"},
      {"trailing", npy_image(f4, data24 + "abcd"),
       "needs 24 bytes but the file has 28 bytes of data (4 trailing"},
      {"shape past data", npy_image(dict("'<f4'", "False", "(1000000,)"), data24), "truncated"},
      {"f8 out of range",
       npy_image(dict("'<f8'", "False", "(1,)"), lstm_test::le64(std::bit_cast<uint64_t>(-1e300))),
       "float64 value at flat index 0 is outside the float32 range"},
  };
  TempDir dir;
  const std::string path = dir.file("bad.npy");
  for (const auto& [label, bytes, fragment] : cases) {
    write_bytes(path, bytes);
    EXPECT_TRUE(throws_error([&] { lstm::read_npy(path); }, {path + ": ", fragment})) << label;
  }
  write_bytes(path, npy_image(dict("'<u8'", "False", "(1,)"), lstm_test::le64(~uint64_t{0})));
  EXPECT_TRUE(throws_error([&] { lstm::read_npy_integers(path); },
                           {path + ": ", "uint64 value at flat index 0 does not fit in int64"}));
  EXPECT_TRUE(throws_error([&] { lstm::read_npy(dir.file("absent.npy")); },
                           {dir.file("absent.npy") + ": ", "No such file"}));
}

TEST(Npy, AcceptsNumpyHeaderVariants) {
  TempDir dir;
  const std::string path = dir.file("ok.npy");
  const std::string data = std::string("\0\0\x80\x3f", 4) + std::string("\0\0\0\x40", 4);  // 1, 2
  for (const std::string& header :
       {std::string("{\"descr\": \"<f4\", \"fortran_order\": True, \"shape\": (2,)}"),
        std::string("{'shape':(2L,),'fortran_order':False,'descr':'<f4'}   \n"),
        std::string("  {'descr': '<f4',\n 'fortran_order': False,\t'shape': ( 2 , ) , }")}) {
    write_bytes(path, npy_image(header, data));
    EXPECT_EQ(lstm::read_npy(path).data, (std::vector<float>{1, 2})) << header;
    write_bytes(path, npy_image(header, data, 2));
    EXPECT_EQ(lstm::read_npy(path).data, (std::vector<float>{1, 2})) << header;
  }
}

}  // namespace
