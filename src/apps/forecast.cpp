// Forecasting: data preparation (split, season, window, horizon, normalisation, samples), the
// model and its metadata, recursive or direct multi-step forecasts and metrics next to the
// baselines.
#include "apps/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <cstdio>

#include "data/json_text.hpp"
#include "data/safe_scale.hpp"

namespace lstm::apps {
namespace {

using json = nlohmann::json;
constexpr const char* kForecastKey = "forecast";
constexpr const char* kNormalizationKey = "normalization";

std::string count_text(int64_t value) {
  return std::to_string(value);
}

// The model's input x [steps, F] for forecasting row n of normalised rows [n, F]: rows
// n-steps..n-1, relative to row n-1 with differencing.
void window_input(const std::vector<double>& rows, int64_t features, int64_t n, int64_t steps,
                  bool relative, float* x) {
  const double* last = rows.data() + (n - 1) * features;
  for (int64_t j = 0; j < steps * features; ++j)
    x[j] = static_cast<float>(rows[(n - steps) * features + j] -
                              (relative ? last[j % features] : 0.0));
}

// Model outputs per sample: every column of the next row (H = 1), or the target's next H rows.
int64_t output_count(int64_t features, int64_t horizon) {
  return horizon == 1 ? features : horizon;
}

// Samples for origins t in [lo, hi - H] of normalised rows [N, F]: inputs rows t-W..t-1 (see
// window_input); targets row t's F columns (H = 1), or the target column's rows t..t+H-1 (a
// direct model, H > 1). With differencing (scale [F] not empty) a target is (value - the same
// column in row t-1) / scale of that column.
SampleSet make_samples(const std::vector<double>& rows, int64_t features, int64_t window,
                       int64_t horizon, int64_t lo, int64_t hi, const std::vector<double>& scale) {
  SampleSet set;
  set.count = std::max<int64_t>(0, hi - horizon + 1 - lo);
  set.steps = window;
  set.features = features;
  set.outputs = output_count(features, horizon);
  set.inputs.resize(static_cast<size_t>(set.count * window * features));  // [count, W, F]
  set.targets.resize(static_cast<size_t>(set.count * set.outputs));       // [count, O]
  for (int64_t k = 0; k < set.count; ++k) {
    const int64_t t = lo + k;
    const double* last = rows.data() + (t - 1) * features;
    window_input(rows, features, t, window, !scale.empty(),
                 set.inputs.data() + k * window * features);
    for (int64_t o = 0; o < set.outputs; ++o) {
      const int64_t row = horizon == 1 ? t : t + o, f = horizon == 1 ? o : 0;
      const double value = rows[row * features + f];
      set.targets[k * set.outputs + o] =
          static_cast<float>(scale.empty() ? value : (value - last[f]) / scale[f]);
    }
  }
  return set;
}

// A model output for column f back to normalised units, given column f of the window's last row.
double decode(const std::vector<double>& scale, double output, double previous, int64_t f) {
  return scale.empty() ? output : previous + output * scale[f];
}

// Refuses a value so far from the training part's mean (in its standard deviations) that the
// model's float inputs could not hold it: a wild outlier or a unit error, named by column and row.
void require_normalisable(const std::string& path, const Series& series,
                          const std::vector<double>& normalized) {
  constexpr double kLimit = 1e12;
  const int64_t features = series.features();
  for (size_t k = 0; k < normalized.size(); ++k)
    if (!(std::fabs(normalized[k]) <= kLimit)) {
      const auto row = static_cast<int64_t>(k) / features, column = static_cast<int64_t>(k) % features;
      char value[40];
      std::snprintf(value, sizeof value, "%.17g", series.values[k]);
      throw Error(path + ": column '" + series.columns[column] + "', data row " +
                  std::to_string(row + 1) + ": value " + value +
                  " is more than 1e12 standard deviations from the training part's mean; it "
                  "cannot be normalised (an outlier or a unit error?)");
    }
}

// Whether the training target trends: a least-squares line moves by more than the spread of
// the values around it over the training part.
bool trends(std::span<const double> y) {
  const double n = static_cast<double>(y.size());
  const double s = detail::overflow_safe_scale(y);  // scale-free test; 1 unless |y| > 2^480
  double mean_t = (n - 1) / 2, mean_y = 0, stt = 0, sty = 0;
  for (double v : y) mean_y += v * s / n;
  for (size_t k = 0; k < y.size(); ++k) {
    stt += (k - mean_t) * (k - mean_t);
    sty += (k - mean_t) * (y[k] * s - mean_y);
  }
  const double slope = stt > 0 ? sty / stt : 0.0;
  double residual = 0;
  for (size_t k = 0; k < y.size(); ++k) {
    const double r = y[k] * s - mean_y - slope * (k - mean_t);
    residual += r * r / n;
  }
  return std::abs(slope) * n > 2.0 * std::sqrt(residual);
}

// Column 0 (the target) of rows [N, F] through the transform, in place.
void transform_target_column(const TargetTransform& transform, std::vector<double>& rows,
                             int64_t features, const std::string& path) {
  if (!transform.active()) return;
  const auto n = static_cast<int64_t>(rows.size()) / features;
  for (int64_t t = 0; t < n; ++t)
    rows[t * features] = transform_target(transform, rows[t * features], t,
                                          path + ": data row " + std::to_string(t + 1));
}

std::vector<double> column_of(const std::vector<double>& rows, int64_t features, int64_t f) {
  std::vector<double> column;
  for (size_t k = static_cast<size_t>(f); k < rows.size(); k += static_cast<size_t>(features))
    column.push_back(rows[k]);
  return column;
}

// The target at row `row` in original units from its normalised value.
double target_value(const ForecastInfo& info, double normalized, int64_t row) {
  return invert_target(info.target_transform, info.normalization.invert(normalized, 0), row);
}

// Horizon 0: a direct model at the series' M4 horizon when its windows fit both parts (H ≤ the
// validation rows, W + H ≤ the training rows), else a one-step model (forecast recursively).
int64_t automatic_horizon(const Series& series, const ForecastData& data) {
  const int64_t horizon = default_horizon(series, data.season);
  const bool fits = horizon > 1 && data.split >= data.window + horizon &&
                    series.rows - data.split >= horizon;
  return fits ? horizon : 1;
}

}  // namespace

ForecastData prepare_forecast_data(const std::string& path, const ForecastSetup& setup) {
  return prepare_forecast_data(load_series(path, setup.target, setup.features), setup);
}

ForecastData prepare_forecast_data(Series loaded, const ForecastSetup& setup) {
  if (!(setup.validation_fraction > 0.0 && setup.validation_fraction < 1.0))
    throw Error("forecast: the validation fraction must be in (0, 1)");
  if (setup.horizon < 0) throw Error("forecast: the horizon must be at least 1 (0: automatic)");
  ForecastData data;
  data.horizon = std::max<int64_t>(setup.horizon, 1);
  data.series = std::move(loaded);
  const Series& series = data.series;
  const std::string& path = series.path;
  const int64_t n = series.rows, features = series.features();
  if (n < 4)
    throw Error(path + ": the series has " + count_text(n) +
                " rows; at least 4 are needed to train and validate");
  data.split = split_point(n, setup.validation_fraction);
  const std::vector<double> target = series.column(0);
  data.season = setup.season >= 0
                    ? setup.season
                    : detect_season(std::span<const double>(target.data(), data.split));
  if (setup.window > 0) {
    data.window = setup.window;
  } else {
    data.window = data.season > 1 ? std::min<int64_t>(2 * data.season, 104) : 52;
    data.window = std::max<int64_t>(2, std::min(data.window, data.split / 2));
  }
  if (setup.horizon == 0) data.horizon = automatic_horizon(series, data);
  if (data.split < data.window + data.horizon) {
    std::string message = path + ": the series has ";
    message += count_text(n) + " rows (" + count_text(data.split);
    message += " for training), too short for a window of " + count_text(data.window) + " rows";
    if (data.horizon > 1) message += " and a horizon of " + count_text(data.horizon);
    message +=
        data.horizon > 1 ? "; use a smaller --window or --horizon" : "; use a smaller --window";
    message += " or a longer series";
    throw Error(message);
  }
  if (n - data.split < data.horizon) {
    std::string message = path + ": the validation part has ";
    message += count_text(n - data.split) + " rows, fewer than the horizon of ";
    message += count_text(data.horizon) + "; use a smaller --horizon or a larger --validation";
    throw Error(message);
  }
  data.target_transform = fit_target_transform(
      std::span<const double>(target.data(), static_cast<size_t>(data.split)), data.season,
      setup.log_target, setup.deseasonalize, calendar_period(series.index));
  data.normalized = series.values;
  transform_target_column(data.target_transform, data.normalized, features, path);
  const std::vector<double> transformed = column_of(data.normalized, features, 0);
  data.normalization = Normalization::fit(
      std::span<const double>(data.normalized.data(), static_cast<size_t>(data.split * features)),
      features);
  data.normalization.apply(data.normalized);
  require_normalisable(path, series, data.normalized);
  const bool differencing = setup.differencing >= 0
                                ? setup.differencing > 0
                                : trends(std::span<const double>(transformed.data(), data.split));
  if (differencing) {
    // Population std of the normalised step changes on the training part, per column.
    data.difference_scale.assign(static_cast<size_t>(features), 1.0);
    for (int64_t f = 0; f < features; ++f) {
      double sum = 0, square = 0;
      for (int64_t t = 1; t < data.split; ++t) {
        const double d =
            data.normalized[t * features + f] - data.normalized[(t - 1) * features + f];
        sum += d;
        square += d * d;
      }
      const double count = static_cast<double>(data.split - 1);
      const double variance = square / count - (sum / count) * (sum / count);
      if (variance > 1e-12) data.difference_scale[f] = std::sqrt(variance);
    }
  }
  // Training targets stay in rows [0, split): no validation value is learnt from.
  data.train = make_samples(data.normalized, features, data.window, data.horizon, data.window,
                            data.split, data.difference_scale);
  data.validation = make_samples(data.normalized, features, data.window, data.horizon, data.split,
                                 n, data.difference_scale);
  return data;
}

SequenceModel make_forecast_model(const ForecastData& data, const ForecastSetup& setup) {
  SequenceModelConfig config;
  config.rnn.cell = setup.cell;
  config.rnn.peephole = setup.peephole;
  config.rnn.coupled_gates = setup.coupled_gates;
  config.rnn.reset_before = setup.reset_before;
  config.rnn.layer_norm = setup.layer_norm;
  config.rnn.zoneout = setup.zoneout;
  config.rnn.residual = setup.residual;
  config.rnn.highway = setup.highway;
  config.rnn.input_size = data.series.features();
  config.rnn.hidden_size = setup.hidden_size;
  config.rnn.num_layers = setup.num_layers;
  config.output_size = output_count(data.series.features(), data.horizon);
  config.head_mode = HeadMode::last_step;
  config.validate();
  SequenceModel model(config);
  model.init(setup.seed);
  if (setup.forget_bias && std::isnan(*setup.forget_bias))
    model.set_chrono_forget_bias(data.window, setup.seed);
  else if (setup.forget_bias)
    model.set_forget_bias(static_cast<float>(*setup.forget_bias));
  json info{{"task", "forecast"},
            {"target", data.series.columns.at(0)},
            {"columns", data.series.columns},
            {"window", data.window},
            {"horizon", data.horizon},
            {"season", data.season},
            {"index", data.series.index.name},
            {"difference_scale", data.difference_scale},
            {"validation_fraction", setup.validation_fraction}};
  if (data.target_transform.active())
    info["target_transform"] = json_text::parse(target_transform_json(data.target_transform));
  model.metadata()[kForecastKey] = json_text::dump(info);
  model.metadata()[kNormalizationKey] = data.normalization.to_json();
  return model;
}

ForecastInfo forecast_info(const SequenceModel& model, const std::string& path) {
  const auto& metadata = model.metadata();
  const auto entry = metadata.find(kForecastKey);
  if (entry == metadata.end())
    throw Error(path +
                ": not a forecast model (no metadata 'forecast'); train one with "
                "'lstm train --task forecast'");
  ForecastInfo info;
  try {
    const json value = json_text::parse(entry->second);
    info.target = value.at("target").get<std::string>();
    info.columns = value.at("columns").get<std::vector<std::string>>();
    // Numbers that are not integers (9.2e20) must not be converted: undefined behaviour.
    auto integer = [&](const char* key) {
      if (!value.at(key).is_number_integer())
        throw Error(path + ": metadata 'forecast': '" + key + "' is not an integer");
      return value.at(key).get<int64_t>();
    };
    info.window = integer("window");
    info.season = integer("season");
    if (value.contains("horizon")) info.horizon = integer("horizon");
    if (value.contains("difference_scale"))
      info.difference_scale = value.at("difference_scale").get<std::vector<double>>();
    if (value.contains("validation_fraction"))
      info.validation_fraction = value.at("validation_fraction").get<double>();
    if (value.contains("target_transform"))
      info.target_transform =
          target_transform_from_json(path, json_text::dump(value.at("target_transform")));
  } catch (const json::exception& error) {
    throw Error(path + ": metadata 'forecast' is invalid: " + std::string(error.what()));
  }
  const int64_t features = static_cast<int64_t>(info.columns.size());
  if (info.columns.empty() || info.columns[0] != info.target || info.window < 1 ||
      info.season < 0 || info.horizon < 1 ||
      (!info.target_transform.seasonal.empty() &&
       static_cast<int64_t>(info.target_transform.seasonal.size()) != info.season) ||
      !(info.validation_fraction > 0.0 && info.validation_fraction < 1.0))
    throw Error(path + ": metadata 'forecast' is inconsistent");
  const auto norm = metadata.find(kNormalizationKey);
  if (norm == metadata.end()) throw Error(path + ": no metadata 'normalization'");
  info.normalization = Normalization::from_json(path, norm->second);
  if (static_cast<int64_t>(info.normalization.mean.size()) != features ||
      (!info.difference_scale.empty() &&
       static_cast<int64_t>(info.difference_scale.size()) != features) ||
      model.config().rnn.input_size != features ||
      model.config().output_size != output_count(features, info.horizon) ||
      model.config().head_mode != HeadMode::last_step)
    throw Error(path + ": the model does not match its metadata 'forecast'");
  return info;
}

namespace {

std::vector<double> normalized_rows(const ForecastInfo& info, const Series& series) {
  if (series.columns != info.columns)
    throw Error(series.path + ": the columns do not match the model's");
  if (series.rows < info.window) {
    std::string message = series.path + ": the series has ";
    message += count_text(series.rows) + " rows, fewer than the model's window of ";
    message += count_text(info.window);
    throw Error(message);
  }
  std::vector<double> rows = series.values;
  transform_target_column(info.target_transform, rows, series.features(), series.path);
  info.normalization.apply(rows);
  return rows;
}

}  // namespace

std::vector<float> forecast_input(const ForecastInfo& info, const Series& series, int64_t steps) {
  const std::vector<double> rows = normalized_rows(info, series);
  if (steps < 1 || steps > series.rows) {
    std::string message = series.path + ": cannot take the last ";
    message += count_text(steps) + " rows of a series of " + count_text(series.rows);
    throw Error(message);
  }
  std::vector<float> x(static_cast<size_t>(steps * series.features()));  // [steps, F]
  window_input(rows, series.features(), series.rows, steps, !info.difference_scale.empty(),
               x.data());
  return x;
}

std::vector<double> forecast_recursive(SequenceModel& model, const ForecastInfo& info,
                                       const Series& series, int64_t steps) {
  if (steps < 1) throw Error("--steps must be at least 1");
  if (info.horizon != 1)
    throw Error("a direct model (horizon " + count_text(info.horizon) +
                ") is not run recursively; see forecast_future");
  std::vector<double> rows = normalized_rows(info, series);
  const int64_t features = series.features(), window = info.window;
  std::vector<float> x(static_cast<size_t>(window * features)), out(static_cast<size_t>(features));
  std::vector<double> result;
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t n = static_cast<int64_t>(rows.size()) / features;
    const std::vector<double> last(rows.end() - features, rows.end());
    window_input(rows, features, n, window, !info.difference_scale.empty(), x.data());  // [W, 1, F]
    model.forward(Mode::inference, {.seq_len = window, .batch = 1, .input = x.data(), .output = out.data()});
    for (int64_t f = 0; f < features; ++f)
      rows.push_back(decode(info.difference_scale, out[f], last[f], f));
    result.push_back(target_value(info, rows[rows.size() - features], n));
  }
  return result;
}

std::vector<double> forecast_future(SequenceModel& model, const ForecastInfo& info,
                                    const Series& series, int64_t steps) {
  const int64_t horizon = info.horizon;
  if (horizon == 1) return forecast_recursive(model, info, series, steps);
  if (steps < 1 || steps > horizon) {
    std::string message = "--steps " + count_text(steps);
    message += ": the model forecasts its " + count_text(horizon);
    message += " steps at once (trained with --horizon " + count_text(horizon);
    message += "); ask for 1.." + count_text(horizon) + " steps or train a longer horizon";
    throw Error(message);
  }
  const std::vector<double> rows = normalized_rows(info, series);
  const int64_t features = series.features(), window = info.window;
  std::vector<float> x(static_cast<size_t>(window * features));  // [W, 1, F]
  std::vector<float> out(static_cast<size_t>(horizon));          // [1, H]
  window_input(rows, features, series.rows, window, !info.difference_scale.empty(), x.data());
  model.forward(Mode::inference, {.seq_len = window, .batch = 1, .input = x.data(), .output = out.data()});
  const double last = rows[(series.rows - 1) * features];  // the target in the last row
  std::vector<double> result;
  for (int64_t h = 0; h < steps; ++h)
    result.push_back(
        target_value(info, decode(info.difference_scale, out[h], last, 0), series.rows + h));
  return result;
}

std::vector<double> target_predictions(SequenceModel& model, const ForecastInfo& info,
                                       const Series& series, int64_t first) {
  const std::vector<double> rows = normalized_rows(info, series);
  const int64_t features = series.features(), horizon = info.horizon;
  first = std::max(first, info.window);
  const SampleSet samples =
      make_samples(rows, features, info.window, horizon, first, series.rows, info.difference_scale);
  if (samples.count < 1) {
    std::string message = series.path + ": no row to forecast after a window of ";
    message += count_text(info.window) + " rows";
    if (horizon > 1) message += " with a horizon of " + count_text(horizon);
    throw Error(message);
  }
  const std::vector<float> out = predict(model, samples);  // [count, O]
  // The target at horizon h is output h both of a one-step model (h = 0) and of a direct one.
  std::vector<double> result(static_cast<size_t>(samples.count * horizon));  // [count, H]
  for (int64_t k = 0; k < samples.count; ++k) {
    const double last = rows[(first + k - 1) * features];
    for (int64_t h = 0; h < horizon; ++h)
      result[k * horizon + h] = target_value(
          info, decode(info.difference_scale, out[k * samples.outputs + h], last, 0), first + k + h);
  }
  return result;
}

Candidate network_candidate(SequenceModel& model, const ForecastInfo& info, const Series& series) {
  return {"lstm", [&model, &info, &series](int64_t origin, int64_t steps) {
            Series history;
            history.path = series.path;
            history.columns = series.columns;
            history.rows = origin;
            history.values.assign(series.values.begin(),
                                  series.values.begin() + origin * series.features());
            return forecast_future(model, info, history, steps);
          }};
}

ClassicalPool classical_pool(const ForecastInfo& info, const Series& series) {
  const std::vector<double> y = series.column(0);
  const auto split = static_cast<size_t>(split_point(series.rows, info.validation_fraction));
  return classical_pool(std::span<const double>(y).first(std::min(split, y.size())), info.season,
                        calendar_period(series.index));
}

std::vector<Candidate> forecast_candidates(SequenceModel& model, const ForecastInfo& info,
                                           const Series& series, std::span<const double> y) {
  std::vector<Candidate> candidates{network_candidate(model, info, series)};
  for (auto& candidate : classical_candidates(y, classical_pool(info, series)))
    candidates.push_back(std::move(candidate));
  return candidates;
}

RollingSetup validation_setup(const ForecastInfo& info, const Series& series, int64_t steps) {
  RollingSetup setup;
  setup.horizon = 0;  // until an origin fits
  const int64_t n = series.rows;
  const int64_t earliest = std::max<int64_t>({info.window, 2 * info.season, 2});
  const int64_t split = split_point(n, info.validation_fraction);
  int64_t first = std::max(split, earliest);
  // Fewer than 3 origins after the network's training part: earlier ones too (at least 5 where
  // the series allows), where only the classical methods are validated honestly.
  if (n - first - steps + 1 < 3) first = std::max(std::min(split, n - steps - 4), earliest);
  if (n - first < steps || (info.horizon > 1 && steps > info.horizon)) return setup;
  setup.first = first;
  setup.trained_until = split;
  setup.horizon = steps;
  setup.season = info.season;
  setup.scale_end = first;
  return setup;
}

ForecastReport evaluate_forecast(SequenceModel& model, const ForecastInfo& info,
                                 const Series& series, int64_t first, int64_t scale_end) {
  first = std::max(first, info.window);
  const int64_t horizon = info.horizon;
  const std::vector<double> predicted = target_predictions(model, info, series, first);
  const std::vector<double> y = series.column(0);
  std::vector<double> actual;  // [origins, H] y[t + h]
  for (int64_t t = first; t + horizon <= series.rows; ++t)
    actual.insert(actual.end(), y.begin() + t, y.begin() + t + horizon);
  ForecastReport report;
  report.season = info.season;
  report.horizon = horizon;
  const int64_t m = info.season;
  double scale = std::numeric_limits<double>::quiet_NaN();
  const std::span<const double> history(y.data(), static_cast<size_t>(scale_end));
  if (m > 1 && scale_end > m)
    scale = mase_scale(history, m);
  else if (scale_end > 1)
    scale = mase_scale(history, 1);
  report.model = forecast_metrics(actual, predicted, scale);
  // The baselines from the same origins and horizons; MASE on the model's scale.
  const Baselines baselines = evaluate_baselines(y, first, m > 1 && first > m ? m : 0, horizon);
  auto rescaled = [scale](ForecastMetrics metrics) {
    metrics.mase = scale > 0 ? metrics.mae / scale : std::numeric_limits<double>::quiet_NaN();
    return metrics;
  };
  report.naive = rescaled(baselines.naive);
  if (baselines.seasonal_naive) report.seasonal_naive = rescaled(*baselines.seasonal_naive);
  return report;
}

}  // namespace lstm::apps
