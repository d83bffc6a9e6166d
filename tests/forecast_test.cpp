// The forecasting library: a noisy two-tone series is learnt well below the seasonal-naive error,
// training is deterministic for a seed, and resuming from a checkpoint gives identical weights.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <string>

#include "apps/forecast.hpp"
#include "apps/trainer.hpp"
#include "core/random.hpp"
#include "test_util.hpp"

namespace {

using lstm::apps::ForecastData;
using lstm::apps::ForecastSetup;
using lstm::apps::TrainerOptions;

// y = sin(2πt/20) + 0.5·sin(2πt/7.3) + noise (std ≈ 0.05): a season of 20 that the
// seasonal-naive forecast only half captures, and a structure an LSTM can learn.
std::string write_series(const test_util::TempDir& dir, int64_t rows) {
  const std::string path = dir.file("series.csv");
  std::ofstream out(path);
  out << "t,y\n";
  const double two_pi = 2.0 * std::numbers::pi;
  for (int64_t t = 0; t < rows; ++t) {
    const double noise =
        0.05 * std::sqrt(12.0) * (lstm::uniform01(7, static_cast<uint64_t>(t)) - 0.5);
    out << t << ',' << std::sin(two_pi * t / 20.0) + 0.5 * std::sin(two_pi * t / 7.3) + noise
        << '\n';
  }
  return path;
}

ForecastSetup small_setup() {
  ForecastSetup setup;
  setup.target = "y";
  setup.season = 20;
  setup.window = 24;
  setup.hidden_size = 24;
  setup.seed = 3;
  return setup;
}

TrainerOptions quick_options(int64_t epochs) {
  TrainerOptions options;
  options.max_epochs = epochs;
  options.patience = epochs;
  options.batch_size = 32;
  options.lr = 1e-2;
  options.seed = 11;
  return options;
}

std::vector<std::pair<std::string, lstm::HostTensor>> train_once(const ForecastData& data,
                                                                 const ForecastSetup& setup,
                                                                 const TrainerOptions& options) {
  lstm::SequenceModel model = lstm::apps::make_forecast_model(data, setup);
  lstm::apps::train_model(model, data.train, data.validation, options);
  return model.tensors();
}

void expect_identical(const std::vector<std::pair<std::string, lstm::HostTensor>>& a,
                      const std::vector<std::pair<std::string, lstm::HostTensor>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].first, b[k].first);
    EXPECT_EQ(a[k].second.shape, b[k].second.shape);
    EXPECT_TRUE(a[k].second.data == b[k].second.data) << a[k].first << " differs";
  }
}

TEST(Forecast, LearnsNoisyTonesWellBelowSeasonalNaive) {
  test_util::TempDir dir;
  const ForecastSetup setup = small_setup();
  const ForecastData data = lstm::apps::prepare_forecast_data(write_series(dir, 400), setup);
  EXPECT_EQ(data.split, 320);
  EXPECT_EQ(data.train.count, 320 - 24);
  EXPECT_EQ(data.validation.count, 80);
  lstm::SequenceModel model = lstm::apps::make_forecast_model(data, setup);
  TrainerOptions options = quick_options(40);
  int reports = 0;
  const lstm::apps::TrainResult result = lstm::apps::train_model(
      model, data.train, data.validation, options, [&](const lstm::apps::EpochReport& report) {
        ++reports;
        EXPECT_TRUE(std::isfinite(report.train_loss));
      });
  EXPECT_EQ(reports, result.epochs);
  EXPECT_GE(result.best_epoch, 1);

  // Round trip through the file format, then score like the CLI does.
  test_util::TempDir out;
  lstm::save_sequence_model(out.file("m.safetensors"), model);
  lstm::SequenceModel loaded = lstm::load_sequence_model(out.file("m.safetensors"));
  const lstm::apps::ForecastInfo info = lstm::apps::forecast_info(loaded, "m");
  EXPECT_EQ(info.window, 24);
  EXPECT_EQ(info.season, 20);
  const lstm::apps::ForecastReport report =
      lstm::apps::evaluate_forecast(loaded, info, data.series, data.split, data.split);
  ASSERT_TRUE(report.seasonal_naive.has_value());
  EXPECT_EQ(report.model.count, 80);
  EXPECT_LT(report.model.rmse, 0.5 * report.seasonal_naive->rmse)
      << "model " << report.model.rmse << " vs seasonal-naive " << report.seasonal_naive->rmse;
  EXPECT_LT(report.model.mase, 1.0);

  // Recursive forecasts stay in the series' range.
  const std::vector<double> future = lstm::apps::forecast_recursive(loaded, info, data.series, 30);
  ASSERT_EQ(future.size(), 30u);
  for (double value : future) EXPECT_LT(std::abs(value), 2.5);
}

TEST(Forecast, SameSeedGivesIdenticalWeights) {
  test_util::TempDir dir;
  const ForecastSetup setup = small_setup();
  const ForecastData data = lstm::apps::prepare_forecast_data(write_series(dir, 200), setup);
  const TrainerOptions options = quick_options(3);
  expect_identical(train_once(data, setup, options), train_once(data, setup, options));
}

TEST(Forecast, ResumeFromCheckpointIsExact) {
  test_util::TempDir dir;
  const ForecastSetup setup = small_setup();
  const ForecastData data = lstm::apps::prepare_forecast_data(write_series(dir, 200), setup);
  TrainerOptions options = quick_options(6);
  options.checkpoint_path = dir.file("uninterrupted.ckpt");
  const auto uninterrupted = train_once(data, setup, options);

  options.checkpoint_path = dir.file("staged.ckpt");
  options.epochs_this_run = 2;
  lstm::SequenceModel first = lstm::apps::make_forecast_model(data, setup);
  const auto stopped = lstm::apps::train_model(first, data.train, data.validation, options);
  EXPECT_EQ(stopped.stop, lstm::apps::StopReason::epochs_this_run);
  EXPECT_EQ(stopped.epochs, 2);

  // A model initialised differently: resuming must overwrite everything.
  ForecastSetup other = setup;
  other.seed = 99;
  lstm::SequenceModel second = lstm::apps::make_forecast_model(data, other);
  options.epochs_this_run = 0;
  options.resume = true;
  const auto resumed = lstm::apps::train_model(second, data.train, data.validation, options);
  EXPECT_TRUE(resumed.resumed);
  EXPECT_EQ(resumed.epochs, 6);
  expect_identical(uninterrupted, second.tensors());
}

TEST(Forecast, SeriesShorterThanWindowIsAnError) {
  test_util::TempDir dir;
  ForecastSetup setup = small_setup();
  setup.window = 50;
  const std::string path = write_series(dir, 40);
  try {
    lstm::apps::prepare_forecast_data(path, setup);
    FAIL() << "no error";
  } catch (const lstm::Error& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("window"), std::string::npos) << error.what();
  }
}

}  // namespace
