// Nelder-Mead simplex minimisation with the standard coefficients (reflection 1, expansion 2,
// contraction 1/2, shrink 1/2) and restarts from the best point.
#include "apps/nelder_mead.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "lstm/error.hpp"

namespace lstm::apps {
namespace {

double safe(double value) {
  return std::isnan(value) ? std::numeric_limits<double>::infinity() : value;
}

// One run from a simplex around `start`; returns the best vertex.
Minimum run_simplex(const std::function<double(std::span<const double>)>& f,
                    const std::vector<double>& start, std::span<const double> step,
                    const NelderMeadOptions& options, int& evaluations) {
  const size_t p = start.size();
  std::vector<std::vector<double>> vertex(p + 1, start);  // [P+1][P]
  std::vector<double> value(p + 1);
  auto evaluate = [&](const std::vector<double>& x) {
    ++evaluations;
    return safe(f(x));
  };
  value[0] = evaluate(vertex[0]);
  for (size_t k = 0; k < p; ++k) {
    vertex[k + 1][k] += step[k];
    value[k + 1] = evaluate(vertex[k + 1]);
    if (!std::isfinite(value[k + 1])) {  // step outside the domain: try the other way
      vertex[k + 1][k] = start[k] - step[k];
      value[k + 1] = evaluate(vertex[k + 1]);
    }
  }
  std::vector<size_t> order(p + 1);
  std::vector<double> centroid(p), trial(p), trial2(p);
  while (evaluations < options.max_evaluations) {
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return value[a] < value[b]; });
    const size_t best = order.front(), worst = order.back(), second = order[p - 1];
    const double spread = std::fabs(value[worst] - value[best]);
    if (std::isfinite(value[worst]) &&
        spread <= options.tolerance * (std::fabs(value[best]) + options.tolerance))
      break;
    std::fill(centroid.begin(), centroid.end(), 0.0);
    for (size_t v : order)
      if (v != worst)
        for (size_t k = 0; k < p; ++k) centroid[k] += vertex[v][k] / static_cast<double>(p);
    auto along = [&](double coefficient, std::vector<double>& out) {
      for (size_t k = 0; k < p; ++k)
        out[k] = centroid[k] + coefficient * (vertex[worst][k] - centroid[k]);
      return evaluate(out);
    };
    const double reflected = along(-1.0, trial);
    if (reflected < value[best]) {
      const double expanded = along(-2.0, trial2);
      if (expanded < reflected) {
        vertex[worst] = trial2;
        value[worst] = expanded;
      } else {
        vertex[worst] = trial;
        value[worst] = reflected;
      }
    } else if (reflected < value[second]) {
      vertex[worst] = trial;
      value[worst] = reflected;
    } else {
      const bool outside = reflected < value[worst];
      const double contracted = along(outside ? -0.5 : 0.5, trial2);
      if (contracted < (outside ? reflected : value[worst])) {
        vertex[worst] = trial2;
        value[worst] = contracted;
      } else {  // shrink towards the best vertex
        for (size_t v = 0; v <= p; ++v) {
          if (v == best) continue;
          for (size_t k = 0; k < p; ++k)
            vertex[v][k] = vertex[best][k] + 0.5 * (vertex[v][k] - vertex[best][k]);
          value[v] = evaluate(vertex[v]);
        }
      }
    }
  }
  const size_t best =
      static_cast<size_t>(std::min_element(value.begin(), value.end()) - value.begin());
  return {vertex[best], value[best], evaluations};
}

}  // namespace

Minimum nelder_mead(const std::function<double(std::span<const double>)>& f,
                    std::vector<double> start, std::span<const double> step,
                    const NelderMeadOptions& options) {
  if (start.empty() || step.size() != start.size())
    throw Error("nelder_mead: " + std::to_string(start.size()) + " parameters and " +
                std::to_string(step.size()) + " steps");
  int evaluations = 0;
  Minimum best = run_simplex(f, start, step, options, evaluations);
  if (!std::isfinite(best.value))
    throw Error("nelder_mead: the starting point is outside the function's domain");
  std::vector<double> smaller(step.begin(), step.end());
  for (int restart = 0; restart < options.restarts && evaluations < options.max_evaluations;
       ++restart) {
    for (double& s : smaller) s *= 0.5;
    Minimum next = run_simplex(f, best.point, smaller, options, evaluations);
    const bool improved = next.value < best.value;
    if (improved) best = next;
    if (!improved) break;
  }
  best.evaluations = evaluations;
  return best;
}

}  // namespace lstm::apps
