// Forecasting: data preparation (split, season, window, normalisation, samples), the model and
// its metadata, recursive multi-step forecasts and metrics next to the baselines.
#include "apps/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace lstm::apps {
namespace {

using json = nlohmann::json;
constexpr const char* kForecastKey = "forecast";
constexpr const char* kNormalizationKey = "normalization";

std::string count_text(int64_t value) {
  return std::to_string(value);
}

// Samples for origins [lo, hi) of normalised rows [N, F]: inputs rows t-W..t-1, target row t.
// With differencing (scale [F] not empty) the inputs are relative to row t-1 and the target is
// (row t - row t-1) / scale.
SampleSet make_samples(const std::vector<double>& rows, int64_t features, int64_t window,
                       int64_t lo, int64_t hi, const std::vector<double>& scale) {
  SampleSet set;
  set.count = std::max<int64_t>(0, hi - lo);
  set.steps = window;
  set.features = features;
  set.outputs = features;
  set.inputs.resize(static_cast<size_t>(set.count * window * features));
  set.targets.resize(static_cast<size_t>(set.count * features));
  for (int64_t k = 0; k < set.count; ++k) {
    const int64_t t = lo + k;
    const double* last = rows.data() + (t - 1) * features;
    for (int64_t j = 0; j < window * features; ++j)
      set.inputs[k * window * features + j] = static_cast<float>(
          rows[(t - window) * features + j] - (scale.empty() ? 0.0 : last[j % features]));
    for (int64_t f = 0; f < features; ++f)
      set.targets[k * features + f] = static_cast<float>(
          scale.empty() ? rows[t * features + f] : (rows[t * features + f] - last[f]) / scale[f]);
  }
  return set;
}

// A model output (row t) back to normalised units, given row t-1.
double decode(const std::vector<double>& scale, double output, double previous, int64_t f) {
  return scale.empty() ? output : previous + output * scale[f];
}

// Whether the training target trends: a least-squares line moves by more than the spread of
// the values around it over the training part.
bool trends(std::span<const double> y) {
  const double n = static_cast<double>(y.size());
  double mean_t = (n - 1) / 2, mean_y = 0, stt = 0, sty = 0;
  for (double v : y) mean_y += v / n;
  for (size_t k = 0; k < y.size(); ++k) {
    stt += (k - mean_t) * (k - mean_t);
    sty += (k - mean_t) * (y[k] - mean_y);
  }
  const double slope = stt > 0 ? sty / stt : 0.0;
  double residual = 0;
  for (size_t k = 0; k < y.size(); ++k) {
    const double r = y[k] - mean_y - slope * (k - mean_t);
    residual += r * r / n;
  }
  return std::abs(slope) * n > 2.0 * std::sqrt(residual);
}

}  // namespace

ForecastData prepare_forecast_data(const std::string& path, const ForecastSetup& setup) {
  if (!(setup.validation_fraction > 0.0 && setup.validation_fraction < 1.0))
    throw Error("forecast: the validation fraction must be in (0, 1)");
  ForecastData data;
  data.series = load_series(path, setup.target, setup.features);
  const Series& series = data.series;
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
  if (data.split <= data.window) {
    std::string message = path + ": the series has ";
    message += count_text(n) + " rows (" + count_text(data.split);
    message += " for training), too short for a window of " + count_text(data.window);
    message += " rows; use a smaller --window or a longer series";
    throw Error(message);
  }
  data.normalization = Normalization::fit(
      std::span<const double>(series.values.data(), static_cast<size_t>(data.split * features)),
      features);
  data.normalized = series.values;
  data.normalization.apply(data.normalized);
  const bool differencing = setup.differencing >= 0
                                ? setup.differencing > 0
                                : trends(std::span<const double>(target.data(), data.split));
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
  data.train = make_samples(data.normalized, features, data.window, data.window, data.split,
                            data.difference_scale);
  data.validation =
      make_samples(data.normalized, features, data.window, data.split, n, data.difference_scale);
  return data;
}

SequenceModel make_forecast_model(const ForecastData& data, const ForecastSetup& setup) {
  SequenceModelConfig config;
  config.rnn.cell = setup.cell;
  config.rnn.input_size = data.series.features();
  config.rnn.hidden_size = setup.hidden_size;
  config.rnn.num_layers = setup.num_layers;
  config.output_size = data.series.features();
  config.head_mode = HeadMode::last_step;
  config.validate();
  SequenceModel model(config);
  model.init(setup.seed);
  json info{{"task", "forecast"},
            {"target", data.series.columns.at(0)},
            {"columns", data.series.columns},
            {"window", data.window},
            {"season", data.season},
            {"index", data.series.index.name},
            {"difference_scale", data.difference_scale}};
  model.metadata()[kForecastKey] = info.dump();
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
    const json value = json::parse(entry->second);
    info.target = value.at("target").get<std::string>();
    info.columns = value.at("columns").get<std::vector<std::string>>();
    info.window = value.at("window").get<int64_t>();
    info.season = value.at("season").get<int64_t>();
    if (value.contains("difference_scale"))
      info.difference_scale = value.at("difference_scale").get<std::vector<double>>();
  } catch (const json::exception& error) {
    throw Error(path + ": metadata 'forecast' is invalid: " + std::string(error.what()));
  }
  const int64_t features = static_cast<int64_t>(info.columns.size());
  if (info.columns.empty() || info.columns[0] != info.target || info.window < 1 || info.season < 0)
    throw Error(path + ": metadata 'forecast' is inconsistent");
  const auto norm = metadata.find(kNormalizationKey);
  if (norm == metadata.end()) throw Error(path + ": no metadata 'normalization'");
  info.normalization = Normalization::from_json(path, norm->second);
  if (static_cast<int64_t>(info.normalization.mean.size()) != features ||
      (!info.difference_scale.empty() &&
       static_cast<int64_t>(info.difference_scale.size()) != features) ||
      model.config().rnn.input_size != features || model.config().output_size != features ||
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
  info.normalization.apply(rows);
  return rows;
}

}  // namespace

std::vector<double> forecast_recursive(SequenceModel& model, const ForecastInfo& info,
                                       const Series& series, int64_t steps) {
  if (steps < 1) throw Error("--steps must be at least 1");
  std::vector<double> rows = normalized_rows(info, series);
  const int64_t features = series.features(), window = info.window;
  std::vector<float> x(static_cast<size_t>(window * features)), out(static_cast<size_t>(features));
  std::vector<double> result;
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t n = static_cast<int64_t>(rows.size()) / features;
    const std::vector<double> last(rows.end() - features, rows.end());
    const bool relative = !info.difference_scale.empty();
    for (int64_t j = 0; j < window * features; ++j)  // [W, 1, F]
      x[j] = static_cast<float>(rows[(n - window) * features + j] -
                                (relative ? last[j % features] : 0.0));
    ModelForwardArgs args;
    args.seq_len = window;
    args.batch = 1;
    args.input = x.data();
    args.output = out.data();
    model.forward(Mode::inference, args);
    for (int64_t f = 0; f < features; ++f)
      rows.push_back(decode(info.difference_scale, out[f], last[f], f));
    result.push_back(info.normalization.invert(rows[rows.size() - features], 0));
  }
  return result;
}

std::vector<double> one_step_predictions(SequenceModel& model, const ForecastInfo& info,
                                         const Series& series, int64_t first) {
  const std::vector<double> rows = normalized_rows(info, series);
  const int64_t features = series.features();
  first = std::max(first, info.window);
  const SampleSet samples =
      make_samples(rows, features, info.window, first, series.rows, info.difference_scale);
  if (samples.count < 1) {
    std::string message = series.path + ": no row to forecast after a window of ";
    message += count_text(info.window) + " rows";
    throw Error(message);
  }
  const std::vector<float> out = predict(model, samples);
  std::vector<double> result(static_cast<size_t>(samples.count));
  for (int64_t k = 0; k < samples.count; ++k)
    result[k] = info.normalization.invert(
        decode(info.difference_scale, out[k * features], rows[(first + k - 1) * features], 0), 0);
  return result;
}

ForecastReport evaluate_forecast(SequenceModel& model, const ForecastInfo& info,
                                 const Series& series, int64_t first, int64_t scale_end) {
  first = std::max(first, info.window);
  const std::vector<double> predicted = one_step_predictions(model, info, series, first);
  const std::vector<double> y = series.column(0);
  const std::span<const double> actual(y.data() + first, y.size() - static_cast<size_t>(first));
  ForecastReport report;
  report.season = info.season;
  const int64_t m = info.season;
  double scale = std::numeric_limits<double>::quiet_NaN();
  const std::span<const double> history(y.data(), static_cast<size_t>(scale_end));
  if (m > 1 && scale_end > m)
    scale = mase_scale(history, m);
  else if (scale_end > 1)
    scale = mase_scale(history, 1);
  report.model = forecast_metrics(actual, predicted, scale);
  std::vector<double> baseline(actual.size());
  for (size_t k = 0; k < actual.size(); ++k) baseline[k] = y[first + k - 1];
  report.naive = forecast_metrics(actual, baseline, scale);
  if (m > 1 && first >= m) {
    for (size_t k = 0; k < actual.size(); ++k) baseline[k] = y[first + k - m];
    report.seasonal_naive = forecast_metrics(actual, baseline, scale);
  }
  return report;
}

}  // namespace lstm::apps
