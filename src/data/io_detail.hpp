// Internals shared by the file readers and writers: errors, whole-file reads, byte-order loads,
// float decoding, shape arithmetic and message formatting. Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lstm/io.hpp"

namespace lstm::detail {

// Throws lstm::Error("<name>: <what>").
[[noreturn]] void fail(std::string_view name, const std::string& what);
// The text of an errno value, e.g. "No such file or directory".
std::string errno_text(int error);

// The whole file; throws naming the path if it cannot be opened or read.
std::vector<unsigned char> read_file_bytes(const std::string& path);

// An unsigned integer of `width` bytes (1..8) stored little- or big-endian.
uint64_t load_uint(const unsigned char* bytes, int width, bool big_endian = false);
// Appends `value` as `width` little-endian bytes.
void append_le(std::string& out, uint64_t value, int width);

enum class FloatFormat { f16, bf16, f32, f64 };
int float_width(FloatFormat format);  // bytes per value
float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);
// Decodes `count` values into dst. Returns the index of the first float64 value that is finite
// but outside float32's range (nothing is written for it), or nullopt if all were converted.
std::optional<size_t> decode_floats(const unsigned char* src, size_t count, FloatFormat format,
                                    bool big_endian, float* dst);

// Number of elements, or nullopt if an extent is negative or the product of the non-zero
// extents overflows int64 (so that every partial product of a valid shape fits in int64).
std::optional<int64_t> shape_numel(const std::vector<int64_t>& shape);
// "[3, 4]".
std::string shape_string(const std::vector<int64_t>& shape);
// A name for a message: quoted, control characters escaped, very long names shortened.
std::string quote_name(std::string_view name);

// Throws naming the path, tensor and index if any value is NaN or infinite: model and
// checkpoint writers call it so that no such file is ever written with a non-finite weight.
void require_finite_tensors(const std::string& path,
                            const std::vector<std::pair<std::string, HostTensor>>& tensors);

// Parses an in-memory .npy image as an integer array (int8..int64, uint8..uint64).
IntTensor parse_npy_integers(const std::string& name, const unsigned char* bytes, size_t size);

}  // namespace lstm::detail
