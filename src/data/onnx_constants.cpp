// Constants of an ONNX graph: folding of the shape/slicing operators
// that surround weights in torch.onnx.export's output when constant folding is off.
#include "data/onnx_constants.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "data/io_detail.hpp"
#include "lstm/error.hpp"

namespace lstm::onnx_detail {
namespace {

using detail::fail;
using detail::quote_name;

constexpr int max_fold_depth = 200;
constexpr int64_t max_folded_elements = int64_t{1} << 26;  // all folded values together

std::vector<int64_t> row_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t a = shape.size(); a-- > 1;) strides[a - 1] = strides[a] * shape[a];
  return strides;
}

int64_t product(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

// out[i] = src[offset + Σ i_a * strides[a]] for every multi-index i of out_shape.
template <typename V>
std::vector<V> gather_strided(const std::vector<V>& src, const std::vector<int64_t>& out_shape,
                              const std::vector<int64_t>& strides, int64_t offset) {
  const int64_t count = product(out_shape);
  std::vector<V> out;
  out.reserve(static_cast<size_t>(count));
  std::vector<int64_t> index(out_shape.size(), 0);
  for (int64_t k = 0; k < count; ++k) {
    int64_t position = offset;
    for (size_t a = 0; a < index.size(); ++a) position += index[a] * strides[a];
    out.push_back(src[static_cast<size_t>(position)]);
    for (size_t a = index.size(); a-- > 0;) {
      if (++index[a] < out_shape[a]) break;
      index[a] = 0;
    }
  }
  return out;
}

ConstTensor view(const ConstTensor& in, std::vector<int64_t> out_shape,
                 const std::vector<int64_t>& strides, int64_t offset) {
  ConstTensor out;
  out.integer = in.integer;
  if (in.integer)
    out.ints = gather_strided(in.ints, out_shape, strides, offset);
  else
    out.floats = gather_strided(in.floats, out_shape, strides, offset);
  out.shape = std::move(out_shape);
  return out;
}

const onnx::AttributeProto* find_attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& attribute : node.attribute())
    if (attribute.name() == name) return &attribute;
  return nullptr;
}

}  // namespace

ConstantFolder::ConstantFolder(const onnx::GraphProto& graph, std::string file)
    : graph_(graph), file_(std::move(file)) {
  for (const auto& initializer : graph.initializer())
    initializers_[initializer.name()] = &initializer;
  for (int k = 0; k < graph.node_size(); ++k)
    for (const auto& output : graph.node(k).output())
      if (!output.empty()) producers_.emplace(output, k);
  for (const auto& input : graph.input())
    if (!initializers_.count(input.name())) inputs_[input.name()] = true;
}

const onnx::NodeProto* ConstantFolder::producer(const std::string& name) const {
  const int index = producer_index(name);
  return index < 0 ? nullptr : &graph_.node(index);
}

int ConstantFolder::producer_index(const std::string& name) const {
  const auto found = producers_.find(name);
  return found == producers_.end() ? -1 : found->second;
}

const ConstTensor* ConstantFolder::value(const std::string& name) {
  return evaluate(name, 0);
}

const ConstTensor* ConstantFolder::evaluate(const std::string& name, int depth) {
  if (const auto cached = cache_.find(name); cached != cache_.end())
    return cached->second ? &*cached->second : nullptr;
  if (depth > max_fold_depth)
    fail(file_, "constant expression for " + quote_name(name) + " is more than " +
                    std::to_string(max_fold_depth) + " operators deep");
  cache_[name] = std::nullopt;  // in progress: a cycle reads as "not constant"
  std::optional<ConstTensor> result;
  if (inputs_.count(name)) {
    // a graph input: known only at run time
  } else if (const auto initializer = initializers_.find(name);
             initializer != initializers_.end()) {
    result = decode_tensor(*initializer->second, file_, "initializer " + quote_name(name),
                           max_folded_elements);
  } else if (const int index = producer_index(name); index >= 0) {
    result = fold(graph_.node(index), index, depth);
  }
  if (result) {
    folded_elements_ += result->numel();
    if (folded_elements_ > max_folded_elements)
      fail(file_, "constants of the graph hold more than " + std::to_string(max_folded_elements) +
                      " elements");
  }
  auto& slot = cache_[name];
  slot = std::move(result);
  return slot ? &*slot : nullptr;
}

std::optional<ConstTensor> ConstantFolder::fold(const onnx::NodeProto& node, int index, int depth) {
  const std::string& op = node.op_type();
  const std::string where = node_label(node, index);
  if (!node.domain().empty() && node.domain() != "ai.onnx") return std::nullopt;
  if (node.output_size() != 1 && op != "Constant") return std::nullopt;
  const auto bad = [&](const std::string& what) { fail(file_, where + ": " + what); };
  if (op == "Constant") {
    ConstTensor out;
    if (const auto* value = find_attribute(node, "value"))
      return decode_tensor(value->t(), file_, where + " attribute 'value'", max_folded_elements);
    if (const auto* value = find_attribute(node, "value_float")) {
      out.floats = {value->f()};
    } else if (const auto* values = find_attribute(node, "value_floats")) {
      out.floats.assign(values->floats().begin(), values->floats().end());
      out.shape = {static_cast<int64_t>(out.floats.size())};
    } else if (const auto* integer = find_attribute(node, "value_int")) {
      out.integer = true;
      out.ints = {integer->i()};
    } else if (const auto* integers = find_attribute(node, "value_ints")) {
      out.integer = true;
      out.ints.assign(integers->ints().begin(), integers->ints().end());
      out.shape = {static_cast<int64_t>(out.ints.size())};
    } else {
      return std::nullopt;
    }
    return out;
  }
  static const char* const folded[] = {"Identity", "Cast",      "Unsqueeze", "Squeeze",
                                       "Reshape",  "Transpose", "Concat",    "Slice"};
  if (std::find(std::begin(folded), std::end(folded), op) == std::end(folded)) return std::nullopt;

  std::vector<const ConstTensor*> inputs;
  for (const auto& input : node.input()) {
    if (input.empty()) {
      inputs.push_back(nullptr);
      continue;
    }
    const ConstTensor* value = evaluate(input, depth + 1);
    if (!value) return std::nullopt;
    inputs.push_back(value);
  }
  if (inputs.empty() || !inputs[0]) bad("no data input");
  const ConstTensor& data = *inputs[0];
  const int64_t rank = static_cast<int64_t>(data.shape.size());
  const auto ints_input = [&](size_t k, const char* what) -> std::vector<int64_t> {
    if (k >= inputs.size() || !inputs[k]) return {};
    if (!inputs[k]->integer) bad(std::string("input '") + what + "' is not an integer tensor");
    return inputs[k]->ints;
  };
  const auto ints_attribute = [&](const char* name) -> std::optional<std::vector<int64_t>> {
    const auto* attribute = find_attribute(node, name);
    if (!attribute) return std::nullopt;
    return std::vector<int64_t>(attribute->ints().begin(), attribute->ints().end());
  };
  const auto normalise_axis = [&](int64_t axis, int64_t axis_rank) {
    if (axis < -axis_rank || axis >= axis_rank)
      bad("axis " + std::to_string(axis) + " is outside a rank-" + std::to_string(axis_rank) +
          " tensor");
    return axis < 0 ? axis + axis_rank : axis;
  };

  if (op == "Identity") return data;
  if (op == "Cast") {
    const auto* to = find_attribute(node, "to");
    if (!to) bad("no attribute 'to'");
    ConstTensor out;
    out.shape = data.shape;
    out.integer = !is_float_type(static_cast<int>(to->i()));
    if (out.integer == data.integer) {
      out.ints = data.ints;
      out.floats = data.floats;
    } else if (out.integer) {
      for (float value : data.floats) {
        if (!std::isfinite(value) || std::abs(value) > 9.0e18f)
          bad("cannot cast a value to an integer");
        out.ints.push_back(static_cast<int64_t>(value));
      }
    } else {
      for (int64_t value : data.ints) out.floats.push_back(static_cast<float>(value));
    }
    return out;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    std::vector<int64_t> axes = ints_attribute("axes").value_or(ints_input(1, "axes"));
    ConstTensor out = data;
    if (op == "Unsqueeze") {
      const int64_t out_rank = rank + static_cast<int64_t>(axes.size());
      std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
      for (int64_t axis : axes) {
        const int64_t at = normalise_axis(axis, out_rank);
        if (inserted[static_cast<size_t>(at)]) bad("axis " + std::to_string(axis) + " repeated");
        inserted[static_cast<size_t>(at)] = true;
      }
      out.shape.clear();
      size_t next = 0;
      for (int64_t a = 0; a < out_rank; ++a)
        out.shape.push_back(inserted[static_cast<size_t>(a)] ? 1 : data.shape[next++]);
      return out;
    }
    std::vector<bool> removed(static_cast<size_t>(rank), axes.empty());
    if (axes.empty())
      for (int64_t a = 0; a < rank; ++a)
        removed[static_cast<size_t>(a)] = data.shape[static_cast<size_t>(a)] == 1;
    for (int64_t axis : axes) {
      const int64_t at = normalise_axis(axis, rank);
      if (data.shape[static_cast<size_t>(at)] != 1)
        bad("cannot squeeze axis " + std::to_string(axis) + " of extent other than 1");
      removed[static_cast<size_t>(at)] = true;
    }
    out.shape.clear();
    for (int64_t a = 0; a < rank; ++a)
      if (!removed[static_cast<size_t>(a)]) out.shape.push_back(data.shape[static_cast<size_t>(a)]);
    return out;
  }
  if (op == "Reshape") {
    const std::vector<int64_t> requested = ints_input(1, "shape");
    if (inputs.size() < 2 || !inputs[1]) bad("no input 'shape'");
    ConstTensor out = data;
    out.shape.clear();
    int64_t known = 1, infer_at = -1;
    for (size_t a = 0; a < requested.size(); ++a) {
      int64_t extent = requested[a];
      if (extent == 0) {
        if (static_cast<int64_t>(a) >= rank) bad("shape copies a dimension the data does not have");
        extent = data.shape[a];
      }
      if (extent == -1) {
        if (infer_at >= 0) bad("shape has more than one -1");
        infer_at = static_cast<int64_t>(a);
        extent = 1;
      } else if (extent < 0) {
        bad("shape has a negative extent");
      }
      if (extent > 0 && known > max_folded_elements / extent) bad("shape is too large");
      known *= extent;
      out.shape.push_back(extent);
    }
    if (infer_at >= 0) {
      if (known == 0 || data.numel() % known != 0) bad("cannot infer the -1 extent");
      out.shape[static_cast<size_t>(infer_at)] = data.numel() / known;
    } else if (known != data.numel()) {
      bad("shape " + detail::shape_string(out.shape) + " does not hold " +
          std::to_string(data.numel()) + " elements");
    }
    return out;
  }
  const std::vector<int64_t> strides = row_strides(data.shape);
  if (op == "Transpose") {
    std::vector<int64_t> perm = ints_attribute("perm").value_or(std::vector<int64_t>{});
    if (perm.empty())
      for (int64_t a = rank; a-- > 0;) perm.push_back(a);
    if (static_cast<int64_t>(perm.size()) != rank) bad("'perm' does not match the data's rank");
    std::vector<bool> used(static_cast<size_t>(rank), false);
    std::vector<int64_t> out_shape, out_strides;
    for (int64_t axis : perm) {
      if (axis < 0 || axis >= rank || used[static_cast<size_t>(axis)])
        bad("'perm' is not a permutation");
      used[static_cast<size_t>(axis)] = true;
      out_shape.push_back(data.shape[static_cast<size_t>(axis)]);
      out_strides.push_back(strides[static_cast<size_t>(axis)]);
    }
    return view(data, out_shape, out_strides, 0);
  }
  if (op == "Slice") {
    const auto old_starts = ints_attribute("starts");  // opset < 10: attributes
    const std::vector<int64_t> starts = old_starts ? *old_starts : ints_input(1, "starts");
    const std::vector<int64_t> ends = old_starts
                                          ? ints_attribute("ends").value_or(std::vector<int64_t>{})
                                          : ints_input(2, "ends");
    std::vector<int64_t> axes = old_starts ? ints_attribute("axes").value_or(std::vector<int64_t>{})
                                           : ints_input(3, "axes");
    std::vector<int64_t> steps = old_starts ? std::vector<int64_t>{} : ints_input(4, "steps");
    if (ends.size() != starts.size()) bad("'starts' and 'ends' differ in length");
    if (axes.empty())
      for (size_t a = 0; a < starts.size(); ++a) axes.push_back(static_cast<int64_t>(a));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size())
      bad("'axes' or 'steps' differ in length from 'starts'");
    std::vector<int64_t> out_shape = data.shape, out_strides = strides;
    int64_t offset = 0;
    for (size_t k = 0; k < starts.size(); ++k) {
      const size_t axis = static_cast<size_t>(normalise_axis(axes[k], rank));
      const int64_t extent = data.shape[axis], step = steps[k];
      if (step == 0) bad("a step of 0");
      int64_t start = starts[k], end = ends[k];
      if (start < 0) start = start < -extent ? 0 : start + extent;
      if (end < 0) end = end < -extent ? -1 : end + extent;
      int64_t count = 0;
      if (step > 0) {
        start = std::min(start, extent);
        end = std::clamp<int64_t>(end, 0, extent);
        if (end > start) count = (end - start + step - 1) / step;
      } else {
        start = std::min(start, extent - 1);
        end = std::min(end, extent - 1);
        if (start > end) count = (start - end + (-step) - 1) / (-step);
      }
      out_shape[axis] = count;
      if (count > 0) offset += start * strides[axis];
      out_strides[axis] = strides[axis] * step;
    }
    return view(data, out_shape, out_strides, offset);
  }
  // Concat
  const auto* axis_attribute = find_attribute(node, "axis");
  if (!axis_attribute) bad("no attribute 'axis'");
  const int64_t axis = normalise_axis(axis_attribute->i(), rank);
  ConstTensor out;
  out.integer = data.integer;
  out.shape = data.shape;
  out.shape[static_cast<size_t>(axis)] = 0;
  int64_t total = 0;
  for (const ConstTensor* part : inputs) {
    if (!part) bad("an empty input name");
    if (part->integer != data.integer || part->shape.size() != data.shape.size())
      bad("inputs differ in type or rank");
    for (int64_t a = 0; a < rank; ++a)
      if (a != axis && part->shape[static_cast<size_t>(a)] != data.shape[static_cast<size_t>(a)])
        bad("inputs differ in a dimension other than the axis");
    out.shape[static_cast<size_t>(axis)] += part->shape[static_cast<size_t>(axis)];
    total += part->numel();
    if (total > max_folded_elements) bad("result is too large");
  }
  int64_t outer = 1;
  for (int64_t a = 0; a < axis; ++a) outer *= data.shape[static_cast<size_t>(a)];
  for (int64_t o = 0; o < outer; ++o)
    for (const ConstTensor* part : inputs) {
      const int64_t chunk = outer > 0 ? part->numel() / outer : 0;
      if (data.integer)
        out.ints.insert(out.ints.end(), part->ints.begin() + o * chunk,
                        part->ints.begin() + (o + 1) * chunk);
      else
        out.floats.insert(out.floats.end(), part->floats.begin() + o * chunk,
                          part->floats.begin() + (o + 1) * chunk);
    }
  return out;
}

}  // namespace lstm::onnx_detail
