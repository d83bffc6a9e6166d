// ONNX TensorProto decoding (every numeric type, raw or typed fields, bounds-checked) and how
// messages name a node.
#include <cmath>
#include <limits>

#include "data/io_detail.hpp"
#include "data/onnx_constants.hpp"
#include "lstm/error.hpp"

namespace lstm::onnx_detail {
namespace {

using detail::fail;
using detail::quote_name;

// Bytes per element in raw_data, or 0 for types we do not read.
int raw_width(int type) {
  switch (type) {
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::BOOL:
      return 1;
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
      return 2;
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::UINT32:
      return 4;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::UINT64:
      return 8;
    default:
      return 0;
  }
}

bool is_signed_type(int type) {
  return type == onnx::TensorProto::INT8 || type == onnx::TensorProto::INT16 ||
         type == onnx::TensorProto::INT32 || type == onnx::TensorProto::INT64;
}

int64_t sign_extend(uint64_t bits, int width) {
  if (width == 8) return static_cast<int64_t>(bits);
  const uint64_t sign = uint64_t{1} << (8 * width - 1);
  return static_cast<int64_t>((bits ^ sign)) - static_cast<int64_t>(sign);
}

}  // namespace

bool is_float_type(int type) {
  return type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE ||
         type == onnx::TensorProto::FLOAT16 || type == onnx::TensorProto::BFLOAT16;
}

std::string node_label(const onnx::NodeProto& node, int index) {
  std::string label = "node ";
  if (node.name().empty())
    label.append("#").append(std::to_string(index));  // (not '+': GCC 12 -Wrestrict false alarm)
  else
    label.append(quote_name(node.name()));
  return label.append(" (").append(quote_name(node.op_type())).append(")");
}

ConstTensor decode_tensor(const onnx::TensorProto& tensor, const std::string& file,
                          const std::string& where, int64_t max_elements) {
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL || tensor.external_data_size() > 0)
    fail(file, where + ": tensor data stored in an external file is not supported");
  if (tensor.has_segment()) fail(file, where + ": segmented tensors are not supported");
  const int type = tensor.data_type();
  const int width = raw_width(type);
  if (width == 0)
    fail(file, where + ": tensor data type " + std::to_string(type) + " is not supported");
  ConstTensor out;
  out.integer = !is_float_type(type);
  int64_t count = 1;
  for (int64_t extent : tensor.dims()) {
    if (extent < 0) fail(file, where + ": negative dimension " + std::to_string(extent));
    if (extent > 0 && count > max_elements / extent)
      fail(file, where + ": tensor has more than " + std::to_string(max_elements) + " elements");
    count *= extent;
    out.shape.push_back(extent);
  }
  const size_t n = static_cast<size_t>(count);
  const auto mismatch = [&](size_t stored) {
    fail(file, where + ": shape " + detail::shape_string(out.shape) + " needs " +
                   std::to_string(count) + " values but the tensor stores " +
                   std::to_string(stored));
  };
  if (tensor.has_raw_data()) {
    const std::string& raw = tensor.raw_data();
    if (raw.size() != n * static_cast<size_t>(width))
      mismatch(raw.size() / static_cast<size_t>(width));
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
    if (!out.integer) {
      out.floats.resize(n);
      const detail::FloatFormat format =
          type == onnx::TensorProto::FLOAT     ? detail::FloatFormat::f32
          : type == onnx::TensorProto::DOUBLE  ? detail::FloatFormat::f64
          : type == onnx::TensorProto::FLOAT16 ? detail::FloatFormat::f16
                                               : detail::FloatFormat::bf16;
      if (const auto bad = detail::decode_floats(bytes, n, format, false, out.floats.data()))
        fail(file, where + ": value at flat index " + std::to_string(*bad) +
                       " is outside float32's range");
    } else {
      out.ints.resize(n);
      for (size_t k = 0; k < n; ++k) {
        const uint64_t bits = detail::load_uint(bytes + k * static_cast<size_t>(width), width);
        out.ints[k] = is_signed_type(type) ? sign_extend(bits, width) : static_cast<int64_t>(bits);
      }
    }
    return out;
  }
  switch (type) {
    case onnx::TensorProto::FLOAT:
      if (static_cast<size_t>(tensor.float_data_size()) != n)
        mismatch(static_cast<size_t>(tensor.float_data_size()));
      out.floats.assign(tensor.float_data().begin(), tensor.float_data().end());
      break;
    case onnx::TensorProto::DOUBLE:
      if (static_cast<size_t>(tensor.double_data_size()) != n)
        mismatch(static_cast<size_t>(tensor.double_data_size()));
      for (double value : tensor.double_data()) {
        if (std::isfinite(value) && std::abs(value) > std::numeric_limits<float>::max())
          fail(file, where + ": a value is outside float32's range");
        out.floats.push_back(static_cast<float>(value));
      }
      break;
    case onnx::TensorProto::INT64:
      if (static_cast<size_t>(tensor.int64_data_size()) != n)
        mismatch(static_cast<size_t>(tensor.int64_data_size()));
      out.ints.assign(tensor.int64_data().begin(), tensor.int64_data().end());
      break;
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT64:
      if (static_cast<size_t>(tensor.uint64_data_size()) != n)
        mismatch(static_cast<size_t>(tensor.uint64_data_size()));
      for (uint64_t value : tensor.uint64_data()) out.ints.push_back(static_cast<int64_t>(value));
      break;
    default:  // the 8/16/32-bit types, float16 and bfloat16 live in int32_data
      if (static_cast<size_t>(tensor.int32_data_size()) != n)
        mismatch(static_cast<size_t>(tensor.int32_data_size()));
      for (int32_t value : tensor.int32_data()) {
        const auto bits = static_cast<uint16_t>(static_cast<uint32_t>(value) & 0xffffu);
        if (type == onnx::TensorProto::FLOAT16)
          out.floats.push_back(detail::half_to_float(bits));
        else if (type == onnx::TensorProto::BFLOAT16)
          out.floats.push_back(detail::bfloat16_to_float(bits));
        else
          out.ints.push_back(value);
      }
  }
  return out;
}

}  // namespace lstm::onnx_detail
