// Internals shared by the file readers and writers (see io_detail.hpp).
#include "data/io_detail.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <system_error>

#include "lstm/error.hpp"
#include "lstm/memory.hpp"

namespace lstm {

int64_t HostTensor::numel() const {
  return detail::shape_numel(shape).value_or(0);
}

namespace detail {

void fail(std::string_view name, const std::string& what) {
  throw Error(std::string(name) + ": " + what);
}

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

std::vector<unsigned char> read_file_bytes(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open for reading: " + errno_text(errno));
  std::vector<unsigned char> bytes;
  struct stat info {};
  if (::fstat(fd, &info) == 0) {
    if (S_ISDIR(info.st_mode)) {
      ::close(fd);
      fail(path, "is a directory, not a file");
    }
    if (S_ISREG(info.st_mode) && info.st_size > 0) {
      try {
        require_memory(static_cast<uint64_t>(info.st_size), std::string(path) + ": reading it");
      } catch (...) {
        ::close(fd);
        throw;
      }
      bytes.reserve(static_cast<size_t>(info.st_size));
    }
  }
  unsigned char chunk[1 << 16];
  while (true) {
    const ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      fail(path, "cannot read: " + errno_text(error));
    }
    if (got == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  ::close(fd);
  return bytes;
}

uint64_t load_uint(const unsigned char* bytes, int width, bool big_endian) {
  uint64_t value = 0;
  for (int k = 0; k < width; ++k) {
    const int index = big_endian ? k : width - 1 - k;  // most significant byte first
    value = (value << 8) | bytes[index];
  }
  return value;
}

void append_le(std::string& out, uint64_t value, int width) {
  for (int k = 0; k < width; ++k) out.push_back(static_cast<char>((value >> (8 * k)) & 0xff));
}

int float_width(FloatFormat format) {
  switch (format) {
    case FloatFormat::f16:
    case FloatFormat::bf16:
      return 2;
    case FloatFormat::f32:
      return 4;
    case FloatFormat::f64:
      return 8;
  }
  return 0;
}

float half_to_float(uint16_t bits) {
  const bool negative = (bits & 0x8000) != 0;
  const uint32_t exponent = (bits >> 10) & 0x1f;
  const uint32_t mantissa = bits & 0x3ff;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
  } else if (exponent == 31) {
    magnitude =
        mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {  // normal: rebias the exponent from 15 to 127, widen the mantissa from 10 to 23 bits
    magnitude = std::bit_cast<float>(((exponent + 112) << 23) | (mantissa << 13));
  }
  return negative ? -magnitude : magnitude;
}

float bfloat16_to_float(uint16_t bits) {
  return std::bit_cast<float>(uint32_t{bits} << 16);
}

std::optional<size_t> decode_floats(const unsigned char* src, size_t count, FloatFormat format,
                                    bool big_endian, float* dst) {
  const int width = float_width(format);
  for (size_t k = 0; k < count; ++k) {
    const uint64_t bits = load_uint(src + k * width, width, big_endian);
    switch (format) {
      case FloatFormat::f16:
        dst[k] = half_to_float(static_cast<uint16_t>(bits));
        break;
      case FloatFormat::bf16:
        dst[k] = bfloat16_to_float(static_cast<uint16_t>(bits));
        break;
      case FloatFormat::f32:
        dst[k] = std::bit_cast<float>(static_cast<uint32_t>(bits));
        break;
      case FloatFormat::f64: {
        const double value = std::bit_cast<double>(bits);
        if (std::isfinite(value) && std::fabs(value) > std::numeric_limits<float>::max()) return k;
        dst[k] = static_cast<float>(value);
        break;
      }
    }
  }
  return std::nullopt;
}

std::optional<int64_t> shape_numel(const std::vector<int64_t>& shape) {
  int64_t product = 1;
  bool empty = false;
  for (int64_t extent : shape) {
    if (extent < 0) return std::nullopt;
    if (extent == 0) {
      empty = true;
      continue;
    }
    if (product > std::numeric_limits<int64_t>::max() / extent) return std::nullopt;
    product *= extent;
  }
  return empty ? 0 : product;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t k = 0; k < shape.size(); ++k) {
    if (k) text += ", ";
    text += std::to_string(shape[k]);
  }
  return text + "]";
}

std::string quote_name(std::string_view name) {
  constexpr size_t limit = 120;
  std::string text = "'";
  for (size_t k = 0; k < name.size() && k < limit; ++k) {
    const auto c = static_cast<unsigned char>(name[k]);
    if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      text += escaped;
    } else {
      text += static_cast<char>(c);
    }
  }
  if (name.size() > limit) text += "...";
  return text + "'";
}

}  // namespace detail
}  // namespace lstm
