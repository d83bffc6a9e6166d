// Rolling-origin evaluation of forecasters at a horizon, with MASE, sMAPE and RMSE.
#include "apps/rolling_origin.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>

#include "apps/arima.hpp"
#include "lstm/error.hpp"
#include "lstm/threads.hpp"

namespace lstm::apps {

namespace {

// Seasons over this (weekly data's 52) make each seasonal ARIMA order search take seconds (lstm
// forecast on the weekly data/co2.csv: 15 s of CPU with one search, 37 s with arima-log and the
// search repeated at the series' end): the pool keeps one search there.
constexpr int64_t kLongSeason = 24;

}  // namespace

ClassicalPool classical_pool(std::span<const double> training, int64_t model_season,
                             int64_t calendar) {
  ClassicalPool pool;
  pool.season = calendar > 1 && seasonal_differences(training, calendar) > 0 ? calendar
                                                                              : model_season;
  pool.log_arima = calendar > 1 && calendar <= kLongSeason && pool.season == calendar && !training.empty() &&
                   std::all_of(training.begin(), training.end(), [](double v) { return v > 0.0; });
  return pool;
}

std::vector<Candidate> classical_candidates(std::span<const double> y, int64_t season) {
  return classical_candidates(y, ClassicalPool{season, false});
}

std::vector<Candidate> classical_candidates(std::span<const double> y, const ClassicalPool& pool) {
  const int64_t season = pool.season;
  std::vector<ClassicalMethod> methods = classical_methods(season);
  if (pool.log_arima) methods.push_back(ClassicalMethod::arima_log);
  std::vector<Candidate> candidates;
  for (ClassicalMethod method : methods) {
    if (method == ClassicalMethod::arima || method == ClassicalMethod::arima_log) {
      // The order is selected once for validation, at the first (earliest) origin asked, and its
      // coefficients refitted at every origin (a stepwise search at each of 40 origins took
      // minutes on co2's 450 values); from the series' end it is selected again on all values,
      // as R's auto.arima would (on the R benchmark: 0.853 -> 0.836 × ets's RMSE), except with a
      // season over kLongSeason, where one search costs seconds and validation's order is kept.
      const bool log = method == ClassicalMethod::arima_log;
      const bool search_again = season <= kLongSeason;
      struct Orders {
        std::optional<ArimaOrder> validation, final;
      };
      auto orders = std::make_shared<Orders>();
      candidates.push_back(
          {method_name(method), [y, season, orders, log, search_again](int64_t origin, int64_t steps) {
             const auto part = y.first(static_cast<size_t>(origin));
             const std::vector<double> x =
                 log ? log_series(part) : std::vector<double>(part.begin(), part.end());
             const bool final = origin == static_cast<int64_t>(y.size());
             std::optional<ArimaOrder>& order =
                 final && search_again ? orders->final : orders->validation;
             if (!order.has_value()) order = auto_arima(x, season).order;
             const ArimaMethod fit_by = arima_method(static_cast<int64_t>(x.size()), season);
             std::vector<double> f = arima_forecast(fit_arima(x, *order, fit_by), steps);
             return log ? exp_forecast(std::move(f)) : f;
           },
           true});
      continue;
    }
    candidates.push_back({method_name(method),
                          [y, season, method](int64_t origin, int64_t steps) {
                            return classical_forecast(method, y.first(static_cast<size_t>(origin)),
                                                      season, steps);
                          },
                          true});
  }
  return candidates;
}

Scores score_forecasts(std::span<const double> actual, std::span<const double> forecast,
                       double mase_scale) {
  if (actual.size() != forecast.size() || actual.empty())
    throw Error("scores: " + std::to_string(actual.size()) + " actual and " +
                std::to_string(forecast.size()) + " forecast values");
  Scores scores;
  scores.count = static_cast<int64_t>(actual.size());
  const double n = static_cast<double>(actual.size());
  double squares = 0.0;
  for (size_t k = 0; k < actual.size(); ++k) {
    const double error = std::fabs(actual[k] - forecast[k]);
    const double denominator = std::fabs(actual[k]) + std::fabs(forecast[k]);
    scores.mae += error / n;
    squares += error * error / n;
    scores.smape += denominator > 0.0 ? 200.0 * error / denominator / n : 0.0;
  }
  scores.rmse = std::sqrt(squares);
  scores.mase =
      mase_scale > 0.0 ? scores.mae / mase_scale : std::numeric_limits<double>::quiet_NaN();
  return scores;
}

std::vector<int64_t> rolling_origins(int64_t first, int64_t length, int64_t horizon,
                                     int64_t max_origins) {
  const int64_t last = length - horizon;
  std::vector<int64_t> origins;
  if (first < 1 || last < first || max_origins < 1) return origins;
  const int64_t count = std::min(last - first + 1, max_origins);
  for (int64_t k = 0; k < count; ++k)
    origins.push_back(count == 1 ? last : last - (last - first) * (count - 1 - k) / (count - 1));
  return origins;
}

void run_attempts(const std::vector<Candidate>& candidates, std::vector<Attempt>& attempts,
                  int64_t steps) {
  auto run = [&](Attempt& attempt) {
    try {
      attempt.values = candidates[attempt.candidate].forecast(attempt.origin, steps);
    } catch (...) {
      attempt.failure = std::current_exception();
    }
  };
  std::vector<bool> failed(candidates.size(), false), started(candidates.size(), false);
  std::vector<Attempt*> first, rest;  // of the concurrent candidates
  for (Attempt& attempt : attempts) {
    const size_t c = attempt.candidate;
    if (!candidates[c].concurrent) {
      if (!failed[c]) run(attempt), failed[c] = attempt.failure != nullptr;
    } else {
      (started[c] ? rest : first).push_back(&attempt);
      started[c] = true;
    }
  }
  // A forecast takes milliseconds to seconds: plain threads, joined (blocking), rather than the
  // time loop's team, whose caller spins until the last one is done.
  auto spread = [&](const std::vector<Attempt*>& list) {
    const size_t threads = std::min(static_cast<size_t>(std::max(num_threads(), 1)), list.size());
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t k = next++; k < list.size(); k = next++) run(*list[k]);
    };
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < threads; ++t) {
      try {
        helpers.emplace_back(work);
      } catch (const std::system_error&) {
        break;  // no more threads to be had: the ones there are do the rest
      }
    }
    work();
    for (std::thread& helper : helpers) helper.join();
  };
  spread(first);
  for (const Attempt* attempt : first) failed[attempt->candidate] = attempt->failure != nullptr;
  std::erase_if(rest, [&](const Attempt* attempt) { return failed[attempt->candidate]; });
  spread(rest);
}

RollingEvaluation evaluate_rolling(std::span<const double> y, const RollingSetup& setup,
                                   const std::vector<Candidate>& candidates) {
  const auto n = static_cast<int64_t>(y.size());
  RollingEvaluation evaluation;
  evaluation.setup = setup;
  evaluation.origins = rolling_origins(setup.first, n, setup.horizon, setup.max_origins);
  if (evaluation.origins.empty())
    throw Error("rolling-origin evaluation: " + std::to_string(n - setup.first) +
                " values after row " + std::to_string(setup.first) +
                ", fewer than the horizon of " + std::to_string(setup.horizon));
  const int64_t horizon = setup.horizon;
  for (int64_t origin : evaluation.origins)
    evaluation.actual.insert(evaluation.actual.end(), y.begin() + origin,
                             y.begin() + origin + horizon);
  const int64_t lag = setup.season > 1 && setup.scale_end > setup.season ? setup.season : 1;
  evaluation.mase_scale = mase_scale(y.first(static_cast<size_t>(setup.scale_end)), lag);
  const size_t origins = evaluation.origins.size();
  std::vector<Attempt> attempts;  // [candidates, origins]
  for (size_t c = 0; c < candidates.size(); ++c)
    for (int64_t origin : evaluation.origins) attempts.push_back({c, origin, {}, nullptr});
  run_attempts(candidates, attempts, horizon);
  for (size_t c = 0; c < candidates.size(); ++c) {
    CandidateResult result;
    result.name = candidates[c].name;
    try {
      for (size_t o = 0; o < origins; ++o) {
        const Attempt& attempt = attempts[c * origins + o];
        if (attempt.failure) std::rethrow_exception(attempt.failure);
        const std::vector<double>& f = attempt.values;
        if (static_cast<int64_t>(f.size()) != horizon)
          throw Error(std::to_string(f.size()) + " values for a horizon of " +
                      std::to_string(horizon));
        for (double v : f)
          if (!std::isfinite(v)) throw Error("a forecast that is not a finite number");
        result.forecasts.insert(result.forecasts.end(), f.begin(), f.end());
      }
    } catch (const Error& error) {
      evaluation.skipped.push_back(candidates[c].name + ": " + error.what());
      continue;
    }
    result.scores = score_forecasts(evaluation.actual, result.forecasts, evaluation.mase_scale);
    result.mae_by_step.assign(static_cast<size_t>(horizon), 0.0);
    for (size_t k = 0; k < result.forecasts.size(); ++k)
      result.mae_by_step[k % static_cast<size_t>(horizon)] +=
          std::fabs(result.forecasts[k] - evaluation.actual[k]) / static_cast<double>(origins);
    evaluation.results.push_back(std::move(result));
  }
  return evaluation;
}

std::string scores_table(const RollingEvaluation& evaluation) {
  std::string text;
  for (const CandidateResult& result : evaluation.results) {
    char line[200];
    std::snprintf(line, sizeof line, "  %-30s MASE %7.3f  sMAPE %7.2f%%  RMSE %.4g\n",
                  result.name.c_str(), result.scores.mase, result.scores.smape, result.scores.rmse);
    text += line;
  }
  for (const std::string& skipped : evaluation.skipped) text += "  skipped " + skipped + "\n";
  return text;
}

int64_t default_horizon(const Series& series, int64_t season) {
  const SeriesIndex& index = series.index;
  if (index.kind == IndexKind::date) {
    if (index.step_months == 1) return 18;
    if (index.step_months == 3) return 8;
    if (index.step_months == 12) return 6;
    constexpr int64_t hour = 3600, day = 24 * hour;
    if (index.step_seconds == 7 * day) return 13;
    if (index.step_seconds == day) return 14;
    if (index.step_seconds == hour) return 48;
  }
  switch (season) {
    case 12:
      return 18;
    case 4:
      return 8;
    case 52:
      return 13;
    case 7:
      return 14;
    case 24:
      return 48;
    default:
      return season > 1 ? season : 6;
  }
}

}  // namespace lstm::apps
