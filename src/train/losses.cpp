// Losses: MSE, MAE, Huber and softmax cross-entropy, each a (weighted) mean with its gradient.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "lstm/error.hpp"
#include "lstm/train.hpp"
#include "train/names.hpp"

namespace lstm {
namespace {

[[noreturn]] void loss_error(const std::string& loss, const std::string& what) {
  throw Error(loss + " loss: " + what);
}

std::string count(size_t value) {
  return std::to_string(value);
}

// Σ w over the rows, checking that every weight is finite and non-negative.
template <typename T>
double weight_total(std::span<const T> row_weight, const std::string& loss) {
  double total = 0.0;
  for (size_t r = 0; r < row_weight.size(); ++r) {
    if (!(row_weight[r] >= T(0)) || !std::isfinite(static_cast<double>(row_weight[r])))
      loss_error(loss, "row weight " + count(r) + " is negative or not finite");
    total += static_cast<double>(row_weight[r]);
  }
  return total;
}

// ℓ(d) and dℓ/dd for d = prediction − target.
struct Pointwise {
  double value;
  double slope;
};

Pointwise regression_pointwise(const LossConfig& loss, double d) {
  switch (loss.kind) {
    case LossKind::mse:
      return {d * d, 2.0 * d};
    case LossKind::mae:
      return {std::abs(d), d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0};
    case LossKind::huber: {
      const double delta = loss.huber_delta;
      if (std::abs(d) < delta) return {0.5 * d * d, d};
      return {delta * (std::abs(d) - 0.5 * delta), d > 0 ? delta : -delta};
    }
    case LossKind::cross_entropy:
      break;
  }
  loss_error("regression", "cross_entropy is not a regression loss");
}

template <typename T>
T regression_loss_impl(const LossConfig& loss, std::span<const T> prediction,
                       std::span<const T> target, std::span<T> grad,
                       std::span<const T> row_weight) {
  const std::string name(loss_name(loss.kind));
  if (loss.kind == LossKind::cross_entropy)
    loss_error(name, "not a regression loss (use cross_entropy_loss)");
  if (loss.kind == LossKind::huber && !(loss.huber_delta > 0))
    loss_error(name, "delta must be positive, got " + std::to_string(loss.huber_delta));
  const size_t n = prediction.size();
  if (target.size() != n)
    loss_error(name,
               "prediction has " + count(n) + " values but target has " + count(target.size()));
  if (!grad.empty() && grad.size() != n)
    loss_error(name, "prediction has " + count(n) + " values but grad has " + count(grad.size()));
  // Rows [N, C]: without weights, one column per row and every weight 1.
  const size_t rows = row_weight.empty() ? n : row_weight.size();
  if (rows == 0 || n % rows != 0)
    loss_error(name, count(n) + " values do not split into " + count(rows) + " weighted rows");
  const size_t cols = n / rows;
  const double total =
      row_weight.empty() ? static_cast<double>(rows) : weight_total(row_weight, name);
  const double scale = total > 0 ? 1.0 / (static_cast<double>(cols) * total) : 0.0;

  double sum = 0.0;
  for (size_t r = 0; r < rows; ++r) {
    const double w = row_weight.empty() ? 1.0 : static_cast<double>(row_weight[r]);
    for (size_t k = r * cols; k < (r + 1) * cols; ++k) {
      const Pointwise p = regression_pointwise(
          loss, static_cast<double>(prediction[k]) - static_cast<double>(target[k]));
      sum += w * p.value;
      if (!grad.empty()) grad[k] = static_cast<T>(w * scale * p.slope);
    }
  }
  return static_cast<T>(sum * scale);
}

template <typename T>
T cross_entropy_impl(std::span<const T> logits, int64_t vocab, std::span<const int64_t> classes,
                     std::span<T> grad, std::span<const T> row_weight, int64_t ignore_index) {
  const std::string name = "cross_entropy";
  if (vocab < 1)
    loss_error(name, "vocabulary size must be at least 1, got " + std::to_string(vocab));
  const size_t rows = classes.size(), width = static_cast<size_t>(vocab);
  if (logits.size() != rows * width)
    loss_error(name, "logits have " + count(logits.size()) + " values, expected " + count(rows) +
                         " rows of " + count(width));
  if (!grad.empty() && grad.size() != logits.size())
    loss_error(name,
               "grad has " + count(grad.size()) + " values, expected " + count(logits.size()));
  if (!row_weight.empty() && row_weight.size() != rows)
    loss_error(name, count(rows) + " rows but " + count(row_weight.size()) + " row weights");
  weight_total(row_weight, name);

  // First pass: the classes' range and the total weight of the rows that count.
  double total = 0.0;
  for (size_t r = 0; r < rows; ++r) {
    if (classes[r] == ignore_index) continue;
    if (classes[r] < 0 || classes[r] >= vocab)
      loss_error(name, "class " + std::to_string(classes[r]) + " of row " + count(r) +
                           " is outside [0, " + std::to_string(vocab) + ")");
    total += row_weight.empty() ? 1.0 : static_cast<double>(row_weight[r]);
  }
  if (!grad.empty()) std::fill(grad.begin(), grad.end(), T(0));
  if (total <= 0) return T(0);

  // Second pass: ℓ_r = logsumexp(z_r) − z_r[c], dℓ/dz_r = softmax(z_r) − onehot(c).
  double sum = 0.0;
  for (size_t r = 0; r < rows; ++r) {
    if (classes[r] == ignore_index) continue;
    const double w = row_weight.empty() ? 1.0 : static_cast<double>(row_weight[r]);
    const T* z = logits.data() + r * width;  // [V]
    const double shift = static_cast<double>(*std::max_element(z, z + width));
    double exp_sum = 0.0;
    for (size_t j = 0; j < width; ++j) exp_sum += std::exp(static_cast<double>(z[j]) - shift);
    const double log_sum = std::log(exp_sum);
    const size_t c = static_cast<size_t>(classes[r]);
    sum += w * (log_sum - (static_cast<double>(z[c]) - shift));
    if (grad.empty() || w == 0) continue;
    T* g = grad.data() + r * width;  // [V]
    for (size_t j = 0; j < width; ++j) {
      const double softmax = std::exp(static_cast<double>(z[j]) - shift - log_sum);
      g[j] = static_cast<T>(w / total * (softmax - (j == c ? 1.0 : 0.0)));
    }
  }
  return static_cast<T>(sum / total);
}

}  // namespace

constexpr detail::NameTable<LossKind, 4> kLossNames = {{LossKind::mse, "mse"},
                                                       {LossKind::mae, "mae"},
                                                       {LossKind::huber, "huber"},
                                                       {LossKind::cross_entropy, "cross_entropy"}};

std::string_view loss_name(LossKind kind) {
  return detail::name_of(kLossNames, kind);
}
LossKind parse_loss(std::string_view name) {
  return detail::parse_name(kLossNames, name, "loss");
}

float regression_loss(const LossConfig& loss, std::span<const float> prediction,
                      std::span<const float> target, std::span<float> grad,
                      std::span<const float> row_weight) {
  return regression_loss_impl(loss, prediction, target, grad, row_weight);
}

double regression_loss(const LossConfig& loss, std::span<const double> prediction,
                       std::span<const double> target, std::span<double> grad,
                       std::span<const double> row_weight) {
  return regression_loss_impl(loss, prediction, target, grad, row_weight);
}

float cross_entropy_loss(std::span<const float> logits, int64_t vocab,
                         std::span<const int64_t> classes, std::span<float> grad,
                         std::span<const float> row_weight, int64_t ignore_index) {
  return cross_entropy_impl(logits, vocab, classes, grad, row_weight, ignore_index);
}

double cross_entropy_loss(std::span<const double> logits, int64_t vocab,
                          std::span<const int64_t> classes, std::span<double> grad,
                          std::span<const double> row_weight, int64_t ignore_index) {
  return cross_entropy_impl(logits, vocab, classes, grad, row_weight, ignore_index);
}

}  // namespace lstm
