// A global model's forecasts and evaluation, series by series, with the single-series
// machinery: rolling-origin validation next to the classical methods, model choice and
// intervals per series; the long-format CSV; eval's per-series and aggregate JSON.
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

#include "apps/multi_series.hpp"
#include "data/json_text.hpp"

namespace lstm::apps {
namespace {

using ordered_json = nlohmann::ordered_json;

ordered_json number_json(double value) {
  return std::isfinite(value) ? ordered_json(value) : ordered_json(nullptr);
}

ordered_json metrics_json(const ForecastMetrics& metrics) {
  return {{"rmse", number_json(metrics.rmse)},
          {"mae", number_json(metrics.mae)},
          {"mase", number_json(metrics.mase)},
          {"count", metrics.count}};
}


// Mean of the finite values added per key, and how many.
struct MeanByName {
  std::map<std::string, std::pair<double, int64_t>> sums;
  std::vector<std::string> order;
  void add(const std::string& name, double value) {
    if (!std::isfinite(value)) return;
    auto [entry, fresh] = sums.try_emplace(name, 0.0, 0);
    if (fresh) order.push_back(name);
    entry->second.first += value;
    entry->second.second += 1;
  }
  double mean(const std::string& name) const {
    const auto found = sums.find(name);
    return found == sums.end() || found->second.second == 0
               ? std::numeric_limits<double>::quiet_NaN()
               : found->second.first / static_cast<double>(found->second.second);
  }
  int64_t count(const std::string& name) const {
    const auto found = sums.find(name);
    return found == sums.end() ? 0 : found->second.second;
  }
};

}  // namespace

std::string multi_series_validation_text(SequenceModel& model, const MultiSeriesInfo& info,
                                         const MultiSeriesData& data) {
  constexpr size_t kListed = 20;  // the rest only in the means (and in 'lstm eval')
  auto mase = [](double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", value);
    return std::string(text);
  };
  std::string text = "validation per series (";
  text += data.horizon == 1 ? "one-step" : "horizons 1.." + std::to_string(data.horizon);
  text += " forecasts, MASE; 'lstm eval' compares the classical methods too):\n";
  double sum_model = 0, sum_naive = 0;
  for (size_t s = 0; s < data.series.size(); ++s) {
    const ForecastData& one = data.series[s];
    const ForecastReport report =
        evaluate_forecast(model, info.series[s], one.series, one.split, one.split);
    sum_model += report.model.mase;
    sum_naive += report.naive.mase;
    if (s == kListed)
      text += "  ... (" + std::to_string(data.series.size() - kListed) +
              " more series; 'lstm eval' lists every one)\n";
    if (s >= kListed) continue;
    text += "  " + one.series.columns[0] + "  model " + mase(report.model.mase) + "  naive " +
            mase(report.naive.mase);
    if (report.seasonal_naive) text += "  seasonal-naive " + mase(report.seasonal_naive->mase);
    text += '\n';
  }
  const double count = static_cast<double>(data.series.size());
  return text + "  mean  model " + mase(sum_model / count) + "  naive " + mase(sum_naive / count) +
         '\n';
}

std::vector<std::optional<ChosenForecast>> choose_many(SequenceModel& model,
                                                       const MultiSeriesInfo& info,
                                                       const std::vector<Series>& series,
                                                       int64_t horizon, ModelChoice choice,
                                                       double level) {
  std::vector<std::optional<ChosenForecast>> result;
  for (size_t s = 0; s < series.size(); ++s) {
    const RollingSetup setup = validation_setup(info.series[s], series[s], horizon);
    if (setup.horizon == 0) {
      result.emplace_back();
      continue;
    }
    const std::vector<double> y = series[s].column(0);
    result.push_back(forecast_with_choice(
        y, forecast_candidates(model, info.series[s], series[s], y), setup, choice, "lstm", level));
  }
  return result;
}

int64_t evaluation_horizon(const MultiSeriesInfo& info, const std::vector<Series>& series,
                           int64_t requested) {
  const ForecastInfo& first = info.series.front();
  if (requested > 0) return requested;
  return first.horizon > 1 ? first.horizon : default_horizon(series.front(), first.season);
}

std::vector<MeanScores> mean_rolling_scores(
    const std::vector<const RollingEvaluation*>& evaluations) {
  MeanByName mase, smape;
  for (const RollingEvaluation* evaluation : evaluations)
    for (const CandidateResult& result : evaluation->results) {
      mase.add(result.name, result.scores.mase);
      smape.add(result.name, result.scores.smape);
    }
  std::vector<MeanScores> means;
  for (const std::string& name : mase.order)
    means.push_back({name, mase.mean(name), smape.mean(name), mase.count(name)});
  return means;
}

std::vector<SeriesForecast> forecast_many(SequenceModel& model, const MultiSeriesInfo& info,
                                          const std::vector<Series>& series, int64_t steps,
                                          ModelChoice choice, double level) {
  return forecast_many(model, info, series, steps,
                       choose_many(model, info, series, steps, choice, level));
}

std::vector<SeriesForecast> forecast_many(
    SequenceModel& model, const MultiSeriesInfo& info, const std::vector<Series>& series,
    int64_t steps, const std::vector<std::optional<ChosenForecast>>& chosen) {
  std::vector<SeriesForecast> result;
  for (size_t s = 0; s < series.size(); ++s) {
    SeriesForecast forecast;
    forecast.name = info.names[s];
    forecast.index = series[s].future_index(steps);
    if (!chosen[s]) {
      forecast.mean = forecast_future(model, info.series[s], series[s], steps);
      forecast.lower.assign(forecast.mean.size(), std::numeric_limits<double>::quiet_NaN());
      forecast.upper = forecast.lower;
      forecast.model = "lstm";
    } else {
      forecast.mean = chosen[s]->mean;
      forecast.lower = chosen[s]->lower;
      forecast.upper = chosen[s]->upper;
      forecast.model = chosen[s]->selection.name;
      forecast.validated = chosen[s]->selection.network_validated;
      forecast.network_beaten = chosen[s]->selection.network_beaten;
      forecast.best_classical = chosen[s]->selection.best_classical;
      forecast.coverage = chosen[s]->interval.coverage;
    }
    for (int64_t k = 0; k < steps; ++k)
      if (!std::isfinite(forecast.mean[k]))
        throw Error(series[s].path + ": the forecast of step " + std::to_string(k + 1) +
                    " is not a finite number in original units");
    result.push_back(std::move(forecast));
  }
  return result;
}

std::string many_forecasts_csv(const MultiSeriesInfo& info, const std::vector<Series>& series,
                               const std::vector<SeriesForecast>& forecasts) {
  const SeriesIndex& index = series.front().index;
  const std::string date_name =
      index.kind == IndexKind::none || index.name.empty() ? "step" : index.name;
  const bool is_long = info.layout.is_long();
  std::string text =
      lstm::csv_field(is_long ? info.layout.series_column : "series") + ',' + lstm::csv_field(date_name) + ',' +
      lstm::csv_field(is_long ? info.layout.value_column : "value") + ",lower,upper,model\n";
  for (const SeriesForecast& forecast : forecasts)
    for (size_t k = 0; k < forecast.mean.size(); ++k)
      text += lstm::csv_field(forecast.name) + ',' + lstm::csv_field(forecast.index[k]) + ',' +
              lstm::csv_number(forecast.mean[k]) + ',' + lstm::csv_number(forecast.lower[k]) + ',' +
              lstm::csv_number(forecast.upper[k]) + ',' + lstm::csv_field(forecast.model) + '\n';
  return text;
}

std::string evaluate_many_json(SequenceModel& model, const MultiSeriesInfo& info,
                               const std::vector<Series>& series, const std::string& path,
                               int64_t horizon, std::string& table,
                               const std::vector<std::optional<ChosenForecast>>* chosen) {
  const ForecastInfo& first = info.series.front();
  horizon = evaluation_horizon(info, series, horizon);
  std::ostringstream lines;
  ordered_json per_series = ordered_json::array();
  MeanByName one_step;
  std::vector<RollingEvaluation> evaluations;
  for (size_t s = 0; s < series.size(); ++s) {
    const ForecastInfo& one = info.series[s];
    const ForecastReport report =
        evaluate_forecast(model, one, series[s], one.window, series[s].rows);
    one_step.add("lstm", report.model.mase);
    one_step.add("naive", report.naive.mase);
    if (report.seasonal_naive) one_step.add("seasonal_naive", report.seasonal_naive->mase);
    ordered_json entry = {{"series", info.names[s]}, {"rows", series[s].rows}};
    const ordered_json model_metrics = metrics_json(report.model);
    for (const auto& [key, value] : model_metrics.items()) entry[key] = value;
    entry["naive"] = metrics_json(report.naive);
    entry["seasonal_naive"] =
        report.seasonal_naive ? metrics_json(*report.seasonal_naive) : ordered_json(nullptr);
    const RollingSetup setup = validation_setup(one, series[s], horizon);
    if (setup.horizon == 0)
      throw Error(series[s].path + ": too short to evaluate " + std::to_string(horizon) +
                  "-step forecasts after the model's window; give a smaller --horizon");
    const std::vector<double> y = series[s].column(0);
    const RollingEvaluation& evaluation = evaluations.emplace_back(
        chosen && chosen->at(s)
            ? chosen->at(s)->evaluation
            : evaluate_rolling(y, setup, forecast_candidates(model, one, series[s], y)));
    const Selection best = select_model(evaluation, ModelChoice::best, "lstm");
    ordered_json models = ordered_json::object();
    double lstm_mase = std::numeric_limits<double>::quiet_NaN();
    for (const auto& result : evaluation.results) {
      models[result.name] = {{"mase", number_json(result.scores.mase)},
                             {"smape", number_json(result.scores.smape)},
                             {"rmse", number_json(result.scores.rmse)}};
      if (result.name == "lstm") lstm_mase = result.scores.mase;
    }
    entry["rolling"] = {{"origins", evaluation.origins.size()},
                        {"first_origin", evaluation.origins.front()},
                        {"models", models},
                        {"best", best.name},
                        {"lstm_beaten", best.network_beaten},
                        {"lstm_validated", best.network_validated}};
    char line[256];
    std::snprintf(line, sizeof line,
                  "  %-20s one-step MASE %.3f (naive %.3f)  %lld-step MASE lstm %.3f, best %s\n",
                  info.names[s].c_str(), report.model.mase, report.naive.mase,
                  static_cast<long long>(horizon), lstm_mase, best.name.c_str());
    lines << line;
    per_series.push_back(std::move(entry));
  }
  // Aggregate: MASE and sMAPE are scale-free, so their means over the series compare models.
  ordered_json aggregate_models = ordered_json::object();
  std::vector<const RollingEvaluation*> scored;
  for (const RollingEvaluation& evaluation : evaluations) scored.push_back(&evaluation);
  std::string best_name;
  double best_mase = std::numeric_limits<double>::infinity();
  double lstm_mase_mean = std::numeric_limits<double>::quiet_NaN();
  for (const MeanScores& mean : mean_rolling_scores(scored)) {
    aggregate_models[mean.name] = {{"mase", number_json(mean.mase)},
                                   {"smape", number_json(mean.smape)},
                                   {"series", mean.series}};
    if (mean.name == "lstm") lstm_mase_mean = mean.mase;
    if (mean.series == static_cast<int64_t>(series.size()) && mean.mase < best_mase)
      best_mase = mean.mase, best_name = mean.name;
  }
  ordered_json out = {{"file", path},
                      {"series_count", series.size()},
                      {"window", first.window},
                      {"horizon", first.horizon},
                      {"season", first.season}};
  out["aggregate"] = {
      {"mase", number_json(one_step.mean("lstm"))},
      {"naive_mase", number_json(one_step.mean("naive"))},
      {"seasonal_naive_mase", number_json(one_step.mean("seasonal_naive"))},
      {"rolling",
       {{"horizon", horizon},
        {"models", aggregate_models},
        {"best", best_name.empty() ? ordered_json(nullptr) : ordered_json(best_name)}}}};
  out["series"] = std::move(per_series);
  lines << "mean over " << series.size() << " series: one-step MASE " << one_step.mean("lstm")
        << " (naive " << one_step.mean("naive") << "); " << horizon << "-step MASE lstm "
        << lstm_mase_mean << ", best on average " << (best_name.empty() ? "n/a" : best_name) << ' '
        << best_mase << '\n';
  table = lines.str();
  return json_text::dump(out);
}

}  // namespace lstm::apps
