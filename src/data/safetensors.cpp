// safetensors reading (every header field validated) and writing (as safetensors.torch.save_file).
#include <algorithm>
#include <bit>
#include <limits>
#include <set>
#include <string>
#include <tuple>

#include "data/io_detail.hpp"
#include "data/json_text.hpp"
#include "lstm/error.hpp"
#include "lstm/io.hpp"

namespace lstm {
namespace {

using detail::fail;
using detail::FloatFormat;
using detail::quote_name;
using detail::shape_string;
using nlohmann::json;

constexpr uint64_t max_header_bytes = 100'000'000;  // as the reference implementation

// One tensor's header entry, validated against the data buffer.
struct Entry {
  std::string name;
  FloatFormat format = FloatFormat::f32;
  std::vector<int64_t> shape;
  uint64_t numel = 0;
  uint64_t begin = 0, end = 0;  // byte range in the data buffer
};

std::string range_string(uint64_t begin, uint64_t end) {
  std::string text = "[";  // built step by step: GCC 12 warns falsely (-Wrestrict) on "[" + ...
  text += std::to_string(begin);
  text += ", ";
  text += std::to_string(end);
  return text + ")";
}

// Parses the header JSON, rejecting duplicate keys at any level (plain parsing keeps the last).
json parse_header(const std::string& name, const char* begin, const char* end) {
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  const auto callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == json::parse_event_t::key && !duplicate && !open_objects.empty() &&
        !open_objects.back().insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json_text::parse(std::string_view(begin, end - begin), callback);
  } catch (const json::exception& error) {
    std::string what = error.what();
    const size_t bracket = what.find("] ");
    if (what.starts_with("[json.exception") && bracket != std::string::npos)
      what.erase(0, bracket + 2);
    for (char& c : what)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    fail(name, "header is not valid JSON: " + what);
  }
  if (duplicate) fail(name, "header has the key " + quote_name(*duplicate) + " more than once");
  if (!header.is_object()) fail(name, "header is not a JSON object");
  return header;
}

// A short description of a JSON value for a message: numbers as written, anything else by type
// (dumping it could be long, or recurse deeply on nested input).
std::string describe(const json& value) {
  return value.is_number() ? json_text::dump(value) : std::string("a JSON ") + value.type_name();
}

// A JSON integer >= 0 (integers written as 1.0 or -1 are rejected).
std::optional<uint64_t> as_count(const json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  return std::nullopt;
}

FloatFormat parse_dtype(const std::string& name, const std::string& tensor, const json& value) {
  const std::string where = "tensor " + quote_name(tensor) + ": ";
  if (!value.is_string()) fail(name, where + "'dtype' is not a string");
  const auto& dtype = value.get_ref<const std::string&>();
  if (dtype == "F32") return FloatFormat::f32;
  if (dtype == "F64") return FloatFormat::f64;
  if (dtype == "F16") return FloatFormat::f16;
  if (dtype == "BF16") return FloatFormat::bf16;
  static const std::set<std::string> other_known = {
      "BOOL", "U8",      "I8",      "U16",     "I16", "U32",     "I32",     "U64",
      "I64",  "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2", "C64"};
  if (other_known.count(dtype))
    fail(name, where + "unsupported dtype " + quote_name(dtype) +
                   " (only F32, F64, F16, BF16 can be read)");
  fail(name, where + "unknown dtype " + quote_name(dtype));
}

Entry parse_entry(const std::string& name, const std::string& tensor, const json& value,
                  uint64_t buffer_size) {
  const std::string where = "tensor " + quote_name(tensor) + ": ";
  if (!value.is_object()) fail(name, where + "header entry is not a JSON object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!value.contains(key)) fail(name, where + "header entry has no '" + key + "'");
  for (const auto& item : value.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      fail(name, where + "header entry has an unexpected key " + quote_name(item.key()));

  Entry entry;
  entry.name = tensor;
  entry.format = parse_dtype(name, tensor, value["dtype"]);

  const json& shape = value["shape"];
  if (!shape.is_array()) fail(name, where + "'shape' is not a list");
  for (const json& extent : shape) {
    const auto count = as_count(extent);
    if (!count || *count > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(name,
           where + "'shape' has an entry that is not a non-negative integer: " + describe(extent));
    entry.shape.push_back(static_cast<int64_t>(*count));
  }
  const auto numel = detail::shape_numel(entry.shape);
  if (!numel) fail(name, where + "shape " + shape_string(entry.shape) + " has too many elements");
  entry.numel = static_cast<uint64_t>(*numel);

  const json& offsets = value["data_offsets"];
  const bool pair = offsets.is_array() && offsets.size() == 2;
  const auto begin = pair ? as_count(offsets[0]) : std::nullopt;
  const auto end = pair ? as_count(offsets[1]) : std::nullopt;
  if (!begin || !end)
    fail(name, where + "'data_offsets' is not a list of two non-negative integers");
  entry.begin = *begin;
  entry.end = *end;
  const std::string range = "data range " + range_string(entry.begin, entry.end);
  if (entry.begin > entry.end) fail(name, where + range + " ends before it begins");
  if (entry.end > buffer_size)
    fail(name, where + range + " runs past the end of the data buffer (" +
                   std::to_string(buffer_size) + " bytes)");
  const uint64_t width = static_cast<uint64_t>(detail::float_width(entry.format));
  if (entry.numel > buffer_size / width || entry.end - entry.begin != entry.numel * width)
    fail(name,
         where + "shape " + shape_string(entry.shape) + " of " + value["dtype"].get<std::string>() +
             " needs " +
             (entry.numel > buffer_size / width ? "more bytes than the file has"
                                                : std::to_string(entry.numel * width) + " bytes") +
             " but " + range + " holds " + std::to_string(entry.end - entry.begin));
  return entry;
}

std::map<std::string, std::string> parse_metadata(const std::string& name, const json& value) {
  if (!value.is_object()) fail(name, "'__metadata__' is not a JSON object");
  std::map<std::string, std::string> metadata;
  for (const auto& item : value.items()) {
    if (!item.value().is_string())
      fail(name, "'__metadata__' value for key " + quote_name(item.key()) + " is not a string");
    metadata[item.key()] = item.value().get<std::string>();
  }
  return metadata;
}

// Sorts the entries by position and checks that they tile the data buffer exactly.
void check_coverage(const std::string& name, std::vector<Entry>& entries, uint64_t buffer_size) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t covered = 0;  // bytes [0, covered) belong to the entries seen so far
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    if (entry.begin < covered)
      fail(name, "tensor " + quote_name(entry.name) + ": data range " +
                     range_string(entry.begin, entry.end) + " overlaps tensor " +
                     quote_name(previous->name) + " " +
                     range_string(previous->begin, previous->end));
    if (entry.begin > covered)
      fail(name, "bytes " + range_string(covered, entry.begin) +
                     " of the data buffer belong to no tensor (before tensor " +
                     quote_name(entry.name) + ")");
    covered = entry.end;
    previous = &entry;
  }
  if (covered < buffer_size)
    fail(name, "bytes " + range_string(covered, buffer_size) +
                   " at the end of the data buffer belong to no tensor");
}

}  // namespace

const HostTensor* SafetensorsContents::find(const std::string& name) const {
  for (const auto& [tensor_name, tensor] : tensors)
    if (tensor_name == name) return &tensor;
  return nullptr;
}

SafetensorsContents parse_safetensors(const std::string& name, const unsigned char* bytes,
                                      size_t size) {
  if (size < 8)
    fail(name, "file is " + std::to_string(size) + " bytes, too short for a safetensors header");
  const uint64_t header_size = detail::load_uint(bytes, 8);
  if (header_size > max_header_bytes)
    fail(name, "header length " + std::to_string(header_size) + " is implausibly large (limit " +
                   std::to_string(max_header_bytes) + " bytes)");
  if (header_size > size - 8)
    fail(name, "header length " + std::to_string(header_size) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes)");
  const auto* text = reinterpret_cast<const char*>(bytes + 8);
  const json header = parse_header(name, text, text + header_size);
  const unsigned char* buffer = bytes + 8 + header_size;
  const uint64_t buffer_size = size - 8 - header_size;

  SafetensorsContents contents;
  std::vector<Entry> entries;
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__")
      contents.metadata = parse_metadata(name, item.value());
    else
      entries.push_back(parse_entry(name, item.key(), item.value(), buffer_size));
  }
  check_coverage(name, entries, buffer_size);

  // Tensors in the order of their data in the file.
  for (const Entry& entry : entries) {
    HostTensor tensor;
    tensor.shape = entry.shape;
    tensor.data.resize(entry.numel);
    const auto bad = detail::decode_floats(buffer + entry.begin, entry.numel, entry.format,
                                           /*big_endian=*/false, tensor.data.data());
    if (bad)
      fail(name, "tensor " + quote_name(entry.name) + ": F64 value at flat index " +
                     std::to_string(*bad) + " is outside the float32 range");
    contents.tensors.emplace_back(entry.name, std::move(tensor));
  }
  return contents;
}

SafetensorsContents read_safetensors(const std::string& path) {
  const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
  return parse_safetensors(path, bytes.data(), bytes.size());
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, HostTensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Like safetensors.torch.save_file: tensors sorted by name, data in that order, contiguous.
  std::vector<const std::pair<std::string, HostTensor>*> order;
  for (const auto& item : tensors) order.push_back(&item);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& [tensor_name, tensor] = *order[k];
    const std::string where = "tensor " + quote_name(tensor_name) + ": ";
    if (tensor_name == "__metadata__") fail(path, where + "this name is reserved for metadata");
    if (k > 0 && order[k - 1]->first == tensor_name) fail(path, where + "given more than once");
    const auto numel = detail::shape_numel(tensor.shape);
    if (!numel || static_cast<uint64_t>(*numel) != tensor.data.size())
      fail(path, where + "shape " + shape_string(tensor.shape) + " does not match its " +
                     std::to_string(tensor.data.size()) + " values");
    const uint64_t end = offset + 4 * tensor.data.size();
    header[tensor_name] = {
        {"dtype", "F32"}, {"shape", tensor.shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = json_text::dump(header);
  } catch (const nlohmann::json::exception&) {
    fail(path, "a tensor name or metadata entry is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string bytes;
  bytes.reserve(8 + text.size() + offset);
  detail::append_le(bytes, text.size(), 8);
  bytes += text;
  for (const auto* item : order)
    for (float value : item->second.data)
      detail::append_le(bytes, std::bit_cast<uint32_t>(value), 4);
  write_file_atomically(path, bytes);
}

}  // namespace lstm
