// Rolling-origin evaluation: every forecaster (the network and the classical methods) forecasts
// the next H values from several origins of the validation part, knowing only the values before
// each origin, and is scored identically with the M4 competition's measures (MASE, sMAPE) and
// RMSE, overall and per horizon step.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "apps/classical.hpp"
#include "lstm/data.hpp"

namespace lstm::apps {

// A forecaster: the next `steps` values after the first `origin` values of the series.
struct Candidate {
  std::string name;
  std::function<std::vector<double>(int64_t origin, int64_t steps)> forecast;
  // forecast() may run on several threads at once (as many as set_num_threads), once its
  // first call of an evaluation has returned: the classical methods. The network's forecasts
  // use the threads themselves and run one at a time.
  bool concurrent = false;
};

// A forecast asked of a candidate, and what came of it: the values, or the exception it threw.
struct Attempt {
  size_t candidate = 0;  // index into the candidates
  int64_t origin = 0;
  std::vector<double> values;
  std::exception_ptr failure;
};
// Runs the attempts: the concurrent candidates' spread over num_threads() threads (each one's
// first attempt before its others), the others in turn on this thread. After a candidate's
// attempt fails, its later ones may not run.
void run_attempts(const std::vector<Candidate>& candidates, std::vector<Attempt>& attempts,
                  int64_t steps);

// Which classical methods a series gets: the season their seasonal methods use, and whether ARIMA
// is also fitted on the logarithm ("arima-log").
struct ClassicalPool {
  int64_t season = 0;      // 0 or 1: none
  bool log_arima = false;  // only for positive series
};
// The pool for a series, from its training part: the season is the dates' calendar period
// (calendar > 1: monthly 12, quarterly 4, ...) when the training part's seasonal strength at that
// period exceeds 0.64 (seasonal_differences, the test auto.arima uses for a seasonal difference),
// as R's methods take the series' frequency; otherwise `model_season` (the network's, detected by
// autocorrelation). arima-log is added when the season is a calendar one and the training part is
// positive (a multiplicative season, as the network's log target).
ClassicalPool classical_pool(std::span<const double> training, int64_t model_season,
                             int64_t calendar);

// Candidates for the classical methods applicable with this season (classical_methods), and
// arima-log if the pool says so.
std::vector<Candidate> classical_candidates(std::span<const double> y, const ClassicalPool& pool);
std::vector<Candidate> classical_candidates(std::span<const double> y, int64_t season);

struct Scores {
  double mase = 0.0;   // MAE / the in-sample (seasonal-)naive MAE of the training part
  double smape = 0.0;  // mean 200 |y − f| / (|y| + |f|), percent (0 when both are 0)
  double rmse = 0.0;
  double mae = 0.0;
  int64_t count = 0;
};
Scores score_forecasts(std::span<const double> actual, std::span<const double> forecast,
                       double mase_scale);

struct CandidateResult {
  std::string name;
  std::vector<double> forecasts;    // [origins, H]
  Scores scores;                    // over every origin and step
  std::vector<double> mae_by_step;  // [H]
};

struct RollingSetup {
  int64_t first = 0;         // the earliest origin (e.g. the validation split)
  int64_t horizon = 1;       // H
  int64_t season = 0;        // for MASE's scale and the seasonal methods; 0: none
  int64_t scale_end = 0;     // MASE's scale from y[0, scale_end) (usually the split)
  int64_t max_origins = 40;  // evenly spaced over [first, N − H], the last one included
  // The network learnt from the rows before this one: from an earlier origin its forecasts are
  // not honest, and model choice leaves it out (0: no such limit).
  int64_t trained_until = 0;
};

struct RollingEvaluation {
  RollingSetup setup;
  std::vector<int64_t> origins;  // [origins]
  std::vector<double> actual;    // [origins, H]
  double mase_scale = 0.0;
  std::vector<CandidateResult> results;  // in the candidates' order, those that ran everywhere
  std::vector<std::string> skipped;      // "name: why" for candidates that failed at an origin
};

// The origins: every t in [first, N − H], thinned evenly to at most max_origins (the last kept).
std::vector<int64_t> rolling_origins(int64_t first, int64_t length, int64_t horizon,
                                     int64_t max_origins);
// Throws lstm::Error if no origin fits (N − first < H) or MASE's scale cannot be computed.
RollingEvaluation evaluate_rolling(std::span<const double> y, const RollingSetup& setup,
                                   const std::vector<Candidate>& candidates);

// The table as text: one line per candidate, "  name  MASE m  sMAPE s%  RMSE r", then the
// skipped ones.
std::string scores_table(const RollingEvaluation& evaluation);

// The M4 horizon for a series: by its dates' step (monthly 18, quarterly 8, yearly 6, weekly 13,
// daily 14, hourly 48), else by its season (12: 18, 4: 8, 52: 13, 7: 14, 24: 48, other m > 1: m),
// else 6.
int64_t default_horizon(const Series& series, int64_t season);

}  // namespace lstm::apps
