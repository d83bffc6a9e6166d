// A small derivative-free minimiser (Nelder-Mead simplex) for fitting a handful of smoothing
// parameters and initial states by in-sample one-step squared error.
#pragma once

#include <functional>
#include <span>
#include <vector>

namespace lstm::apps {

struct NelderMeadOptions {
  int max_evaluations = 2000;
  double tolerance = 1e-10;  // stop when the simplex's values differ by less (relative)
  int restarts = 2;          // fresh simplexes around the best point after convergence
};

struct Minimum {
  std::vector<double> point;  // [P]
  double value = 0.0;
  int evaluations = 0;
};

// Minimises f from `start` [P], with first steps `step` [P] along each coordinate. f may return
// +inf (or NaN, treated as +inf) for points outside its domain; `start` must be inside.
Minimum nelder_mead(const std::function<double(std::span<const double>)>& f,
                    std::vector<double> start, std::span<const double> step,
                    const NelderMeadOptions& options = {});

}  // namespace lstm::apps
