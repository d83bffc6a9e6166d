// NumPy .npy files: reading versions 1.0-3.0 (float and integer dtypes, either byte order, C or
// Fortran order) and writing float32 exactly as numpy.save does.
#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <string>
#include <string_view>

#include "data/io_detail.hpp"
#include "lstm/error.hpp"
#include "lstm/io.hpp"

namespace lstm {
namespace {

using detail::fail;
using detail::quote_name;

enum class Kind { floating, signed_integer, unsigned_integer };

std::string dtype_name(Kind kind, int width) {
  const std::string bits = std::to_string(8 * width);
  switch (kind) {
    case Kind::floating:
      return "float" + bits;
    case Kind::signed_integer:
      return "int" + bits;
    case Kind::unsigned_integer:
      return "uint" + bits;
  }
  return "?";
}

// "(3, 4)", "(3,)", "()": the shape as Python writes a tuple.
std::string python_shape(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t k = 0; k < shape.size(); ++k) text += (k ? ", " : "") + std::to_string(shape[k]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

// A value in the header dict: a string, a bool or a tuple of integers.
struct Literal {
  enum class Type { string, boolean, tuple } type = Type::string;
  std::string text;
  bool flag = false;
  std::vector<int64_t> items;
};

// A careful parser for the header, a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. Accepts only what numpy writes:
// quoted strings without escapes, True/False, tuples of non-negative integers, trailing commas.
class HeaderParser {
 public:
  HeaderParser(const std::string& name, std::string_view text) : name_(name), text_(text) {}

  std::map<std::string, Literal> parse_dict() {
    std::map<std::string, Literal> dict;
    skip_space();
    expect('{');
    while (true) {
      skip_space();
      if (consume('}')) break;
      if (!at('\'') && !at('"')) error("expected a quoted key or '}'");
      std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      Literal value = parse_value(key);
      if (!dict.emplace(key, std::move(value)).second)
        error("key " + quote_name(key) + " appears twice");
      skip_space();
      if (consume(',')) continue;
      expect('}');
      break;
    }
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the closing '}'");
    return dict;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(name_, ".npy header: " + what + " (at byte " + std::to_string(pos_) + " of the header)");
  }
  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool consume(char c) {
    if (!at(c)) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!consume(c)) error(std::string("expected '") + c + "'");
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool consume_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  std::string parse_string() {
    const char quote = text_[pos_++];
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') error("escape sequences in strings are not supported");
      if (text_[pos_] == '\n') break;
      ++pos_;
    }
    if (!at(quote)) error("unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  int64_t parse_integer() {
    if (at('-')) error("negative dimension");
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9')
      error("expected an integer");
    int64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const int digit = text_[pos_++] - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) error("integer too large");
      value = value * 10 + digit;
    }
    consume('L');  // Python 2 long suffix, found in old files
    return value;
  }

  // "(" [int ("," int)* [","]] ")" where a single element needs its comma, as in Python.
  std::vector<int64_t> parse_tuple() {
    std::vector<int64_t> items;
    skip_space();
    if (consume(')')) return items;
    while (true) {
      items.push_back(parse_integer());
      skip_space();
      const bool comma = consume(',');
      skip_space();
      if (consume(')')) {
        if (items.size() == 1 && !comma) error("'(n)' is an integer, not a tuple: write '(n,)'");
        return items;
      }
      if (!comma) error("expected ',' or ')' in a tuple");
    }
  }

  Literal parse_value(const std::string& key) {
    Literal value;
    if (at('\'') || at('"')) {
      value.text = parse_string();
    } else if (consume_word("True")) {
      value.type = Literal::Type::boolean;
      value.flag = true;
    } else if (consume_word("False")) {
      value.type = Literal::Type::boolean;
    } else if (consume('(')) {
      value.type = Literal::Type::tuple;
      value.items = parse_tuple();
    } else if (at('[') || at('{')) {
      error("the value of " + quote_name(key) + " is a list or dict" +
            (key == "descr" ? ": structured dtypes are not supported" : ", not allowed here"));
    } else {
      error("the value of " + quote_name(key) + " is not a string, True/False or a tuple");
    }
    return value;
  }

  const std::string& name_;
  std::string_view text_;
  size_t pos_ = 0;
};

// Everything the header says, checked against the data that follows it.
struct NpyArray {
  Kind kind = Kind::floating;
  int width = 4;
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  size_t numel = 0;
  const unsigned char* data = nullptr;  // numel * width bytes
};

void parse_descr(const std::string& name, const std::string& descr, NpyArray& array) {
  const auto unsupported = [&] {
    fail(name, "unsupported dtype " + quote_name(descr) +
                   " (expected float16/32/64 or an integer type, either byte order)");
  };
  if (descr.size() != 3) unsupported();
  const char order = descr[0], kind = descr[1], width = descr[2];
  if (order != '<' && order != '>' && order != '|') unsupported();
  array.big_endian = order == '>';
  array.width = width - '0';
  if (kind == 'f' && (width == '2' || width == '4' || width == '8')) {
    array.kind = Kind::floating;
  } else if ((kind == 'i' || kind == 'u') &&
             (width == '1' || width == '2' || width == '4' || width == '8')) {
    array.kind = kind == 'i' ? Kind::signed_integer : Kind::unsigned_integer;
  } else {
    unsupported();
  }
  if (order == '|' && array.width != 1) unsupported();
}

NpyArray parse_npy_array(const std::string& name, const unsigned char* bytes, size_t size) {
  static const unsigned char magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10)
    fail(name, "file is " + std::to_string(size) + " bytes, too short for a .npy file");
  if (!std::equal(magic, magic + 6, bytes)) fail(name, "not a .npy file (no \\x93NUMPY magic)");
  const int major = bytes[6], minor = bytes[7];
  if (minor != 0 || major < 1 || major > 3)
    fail(name, "unsupported .npy version " + std::to_string(major) + "." + std::to_string(minor));
  const int length_width = major == 1 ? 2 : 4;
  const size_t preamble = 8 + static_cast<size_t>(length_width);
  if (size < preamble) fail(name, "file ends inside the .npy header length");
  const uint64_t header_size = detail::load_uint(bytes + 8, length_width);
  if (header_size > size - preamble)
    fail(name, ".npy header length " + std::to_string(header_size) +
                   " runs past the end of the file (" + std::to_string(size) + " bytes)");

  const std::string_view text(reinterpret_cast<const char*>(bytes + preamble), header_size);
  const auto dict = HeaderParser(name, text).parse_dict();
  for (const auto& [key, value] : dict)
    if (key != "descr" && key != "fortran_order" && key != "shape")
      fail(name, ".npy header: unexpected key " + quote_name(key));
  const auto field = [&](const char* key, Literal::Type type, const char* what) -> const Literal& {
    const auto found = dict.find(key);
    if (found == dict.end()) fail(name, std::string(".npy header has no '") + key + "'");
    if (found->second.type != type)
      fail(name, std::string(".npy header: '") + key + "' is not " + what);
    return found->second;
  };

  NpyArray array;
  parse_descr(name, field("descr", Literal::Type::string, "a string").text, array);
  array.fortran_order = field("fortran_order", Literal::Type::boolean, "True or False").flag;
  array.shape = field("shape", Literal::Type::tuple, "a tuple").items;
  const auto numel = detail::shape_numel(array.shape);
  if (!numel) fail(name, "shape " + python_shape(array.shape) + " has too many elements");
  array.numel = static_cast<size_t>(*numel);

  const size_t data_size = size - preamble - header_size;
  const std::string needs = "shape " + python_shape(array.shape) + " of " +
                            dtype_name(array.kind, array.width) + " needs ";
  if (array.numel > data_size / static_cast<size_t>(array.width))
    fail(name, needs + std::to_string(array.numel) + " x " + std::to_string(array.width) +
                   " bytes but the file has " + std::to_string(data_size) +
                   " bytes of data (truncated?)");
  const size_t expected = array.numel * static_cast<size_t>(array.width);
  if (data_size != expected)
    fail(name, needs + std::to_string(expected) + " bytes but the file has " +
                   std::to_string(data_size) + " bytes of data (" +
                   std::to_string(data_size - expected) + " trailing bytes)");
  array.data = bytes + preamble + header_size;
  return array;
}

// Reorders values stored in Fortran order (first axis fastest) into C order.
template <typename T>
std::vector<T> to_c_order(std::vector<T> values, const std::vector<int64_t>& shape, bool fortran) {
  if (!fortran || shape.size() < 2 || values.empty()) return values;
  const size_t rank = shape.size();
  std::vector<int64_t> stride(rank);  // Fortran strides, in elements
  int64_t step = 1;
  for (size_t k = 0; k < rank; ++k) {
    stride[k] = step;
    step *= shape[k];
  }
  std::vector<int64_t> index(rank, 0);  // the C-order multi-index of `out`
  std::vector<T> result(values.size());
  int64_t offset = 0;  // where `index` lives in Fortran order
  for (size_t out = 0; out < result.size(); ++out) {
    result[out] = values[static_cast<size_t>(offset)];
    for (size_t k = rank; k-- > 0;) {  // advance the last axis fastest, carrying leftwards
      if (++index[k] < shape[k]) {
        offset += stride[k];
        break;
      }
      offset -= stride[k] * (shape[k] - 1);
      index[k] = 0;
    }
  }
  return result;
}

}  // namespace

HostTensor parse_npy(const std::string& name, const unsigned char* bytes, size_t size) {
  const NpyArray array = parse_npy_array(name, bytes, size);
  if (array.kind != Kind::floating)
    fail(name, "expected a float array, got " + dtype_name(array.kind, array.width));
  const auto format = array.width == 2   ? detail::FloatFormat::f16
                      : array.width == 4 ? detail::FloatFormat::f32
                                         : detail::FloatFormat::f64;
  std::vector<float> values(array.numel);
  const auto bad =
      detail::decode_floats(array.data, array.numel, format, array.big_endian, values.data());
  if (bad)
    fail(name,
         "float64 value at flat index " + std::to_string(*bad) + " is outside the float32 range");
  HostTensor tensor;
  tensor.data = to_c_order(std::move(values), array.shape, array.fortran_order);
  tensor.shape = array.shape;
  return tensor;
}

IntTensor detail::parse_npy_integers(const std::string& name, const unsigned char* bytes,
                                     size_t size) {
  const NpyArray array = parse_npy_array(name, bytes, size);
  if (array.kind == Kind::floating)
    fail(name, "expected an integer array, got " + dtype_name(array.kind, array.width));
  std::vector<int64_t> values(array.numel);
  const int bits = 8 * array.width;
  for (size_t k = 0; k < array.numel; ++k) {
    const uint64_t raw =
        detail::load_uint(array.data + k * array.width, array.width, array.big_endian);
    if (array.kind == Kind::unsigned_integer) {
      if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(name, "uint64 value at flat index " + std::to_string(k) + " does not fit in int64");
      values[k] = static_cast<int64_t>(raw);
    } else if (bits < 64 && (raw >> (bits - 1)) != 0) {  // negative: sign-extend
      values[k] = static_cast<int64_t>(raw) - (int64_t{1} << bits);
    } else {
      values[k] = std::bit_cast<int64_t>(raw);
    }
  }
  IntTensor tensor;
  tensor.data = to_c_order(std::move(values), array.shape, array.fortran_order);
  tensor.shape = array.shape;
  return tensor;
}

HostTensor read_npy(const std::string& path) {
  const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
  return parse_npy(path, bytes.data(), bytes.size());
}

IntTensor read_npy_integers(const std::string& path) {
  const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
  return detail::parse_npy_integers(path, bytes.data(), bytes.size());
}

void write_npy(const std::string& path, const HostTensor& tensor) {
  const auto numel = detail::shape_numel(tensor.shape);
  if (!numel || static_cast<size_t>(*numel) != tensor.data.size())
    fail(path, "shape " + detail::shape_string(tensor.shape) + " does not match its " +
                   std::to_string(tensor.data.size()) + " values");
  // numpy.save's layout: the dict, room for axis 0 to grow to 21 digits, spaces up to a
  // 64-byte boundary (always at least one), then '\n'.
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + python_shape(tensor.shape) + ", }";
  if (!tensor.shape.empty()) header.append(21 - std::to_string(tensor.shape[0]).size(), ' ');
  const auto padding = [&](size_t preamble) { return 64 - (preamble + header.size() + 1) % 64; };
  const bool version1 = header.size() + 1 + padding(10) <= 65535;  // else 2.0: a 4-byte length
  header.append(padding(version1 ? 10 : 12), ' ');
  header.push_back('\n');

  std::string bytes = "\x93NUMPY";
  bytes.push_back(version1 ? 1 : 2);
  bytes.push_back(0);
  detail::append_le(bytes, header.size(), version1 ? 2 : 4);
  bytes += header;
  bytes.reserve(bytes.size() + 4 * tensor.data.size());
  for (float value : tensor.data) detail::append_le(bytes, std::bit_cast<uint32_t>(value), 4);
  write_file_atomically(path, bytes);
}

}  // namespace lstm
