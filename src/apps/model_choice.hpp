// Which model's forecast to trust: the network, the candidate that scored best on the
// rolling-origin validation, or the mean of the best three; and prediction intervals calibrated
// on the validation errors of the chosen forecast, per horizon step.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "apps/rolling_origin.hpp"

namespace lstm::apps {

enum class ModelChoice { network, best, combine };
// "lstm" (the network as trained), "best", "combine"; throws for anything else.
ModelChoice parse_model_choice(const std::string& text);

struct Selection {
  std::string name;                          // "lstm", "theta", "combine(lstm, theta, comb)"
  std::vector<std::string> members;          // the candidates averaged (one for a single model)
  std::vector<double> validation_forecasts;  // [origins, H]
  Scores scores;                             // on validation
  // The best classical candidate (not the network) and whether it beat the network's MASE.
  std::string best_classical;
  Scores best_classical_scores;
  bool network_beaten = false;
  // The network was scored from origins after its training part (setup.trained_until); if not,
  // best and combine leave it out.
  bool network_validated = false;
};
// `network` names the network's candidate ("" or absent from the results: classical only).
// best: the lowest validation MASE; combine: the mean of the three lowest, a candidate whose
// validation forecasts equal a better one's (within 1% of MASE's scale everywhere, e.g. SES with
// α at its bound and naive) counted once. Throws if no candidate was scored.
Selection select_model(const RollingEvaluation& evaluation, ModelChoice choice,
                       const std::string& network);

// Offsets added to a forecast for a central `level` interval at each step h, from the k
// validation errors actual − forecast at step h as split-conformal prediction takes them: the
// ⌊(k+1)(1−level)/2⌋-th and ⌈(k+1)(1+level)/2⌉-th smallest; when k is too small for those ranks
// (k < 9 at 80%), a normal prediction interval from the k errors, mean ± z s √(1 + 1/k); then
// widened where narrower to a Student-t interval from the errors' root mean square r,
// ±t(k−1) r √(1 + 1/k) (a small-sample correction: the origins' errors overlap in time).
// Coverage: the fraction of validation values inside intervals
// calibrated on the other origins (leave one origin out), an honest estimate.
struct IntervalCalibration {
  double level = 0.8;
  std::vector<double> lower, upper;  // [H]
  double coverage = 0.0;
};
IntervalCalibration calibrate_interval(std::span<const double> actual,
                                       std::span<const double> forecasts, int64_t horizon,
                                       double level);

// The chosen model's forecast from the end of the series, with its interval.
struct ChosenForecast {
  RollingEvaluation evaluation;
  Selection selection;
  IntervalCalibration interval;
  std::vector<double> mean, lower, upper;  // [H]
  // Every evaluated candidate's own forecast after y [H], in evaluation.results' order.
  std::vector<std::vector<double>> future;
};
// Evaluates every candidate at setup.horizon, selects, and forecasts the H values after y.
ChosenForecast forecast_with_choice(std::span<const double> y,
                                    const std::vector<Candidate>& candidates,
                                    const RollingSetup& setup, ModelChoice choice,
                                    const std::string& network, double level);

}  // namespace lstm::apps
