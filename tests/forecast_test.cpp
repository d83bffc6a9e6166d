// The forecasting library: a noisy two-tone series is learnt well below the seasonal-naive error
// by a one-step and by a direct multi-horizon model, the layout of direct targets (checked by
// hand), training is deterministic for a seed, and resuming from a checkpoint gives identical
// weights.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <string>

#include "apps/forecast.hpp"
#include "apps/trainer.hpp"
#include "core/random.hpp"
#include "data/json_text.hpp"
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

// y = t, x = 5 - t for t = 0..9, a window of 2 and a horizon of 3, validation 0.3: split 7, and
// the training rows 0..6 have mean 3 (y) and 2 (x), population std 2, so y' = (t - 3) / 2 and
// x' = (3 - t) / 2. Direct targets are y' at rows t..t+2 for origins t = 2..4 (training: the
// targets stay below row 7) and t = 7 (validation).
ForecastSetup tiny_direct_setup(int differencing) {
  ForecastSetup setup;
  setup.target = "y";
  setup.features = {"x"};
  setup.window = 2;
  setup.horizon = 3;
  setup.season = 0;
  setup.differencing = differencing;
  setup.validation_fraction = 0.3;
  setup.hidden_size = 4;
  return setup;
}

std::string write_linear(const test_util::TempDir& dir) {
  const std::string path = dir.file("linear.csv");
  std::ofstream out(path);
  out << "t,y,x\n";
  for (int t = 0; t < 10; ++t) out << t << ',' << t << ',' << 5 - t << '\n';
  return path;
}

TEST(ForecastDirect, TargetsAreTheNextHValuesOfTheTarget) {
  test_util::TempDir dir;
  const ForecastData data =
      lstm::apps::prepare_forecast_data(write_linear(dir), tiny_direct_setup(0));
  EXPECT_EQ(data.split, 7);
  EXPECT_EQ(data.horizon, 3);
  EXPECT_EQ(data.train.count, 3);
  EXPECT_EQ(data.train.outputs, 3);  // the target only, not the feature
  EXPECT_EQ(data.train.targets,
            (std::vector<float>{-0.5f, 0.0f, 0.5f, 0.0f, 0.5f, 1.0f, 0.5f, 1.0f, 1.5f}));
  // Inputs of origin 2: rows 0 and 1, both columns.
  EXPECT_EQ(std::vector<float>(data.train.inputs.begin(), data.train.inputs.begin() + 4),
            (std::vector<float>{-1.5f, 1.5f, -1.0f, 1.0f}));
  EXPECT_EQ(data.validation.count, 1);
  EXPECT_EQ(data.validation.targets, (std::vector<float>{2.0f, 2.5f, 3.0f}));
}

TEST(ForecastDirect, DifferencedTargetsAreRelativeToTheWindowsLastRow) {
  // Every one-step change of y' and x' is ±0.5, with no spread: the change scale stays 1.
  test_util::TempDir dir;
  const ForecastData data =
      lstm::apps::prepare_forecast_data(write_linear(dir), tiny_direct_setup(1));
  ASSERT_EQ(data.difference_scale, (std::vector<double>{1.0, 1.0}));
  // Origin 2: y' of rows 2..4 minus y' of row 1 (-1); inputs rows 0..1 minus row 1.
  EXPECT_EQ(std::vector<float>(data.train.targets.begin(), data.train.targets.begin() + 3),
            (std::vector<float>{0.5f, 1.0f, 1.5f}));
  EXPECT_EQ(std::vector<float>(data.train.inputs.begin(), data.train.inputs.begin() + 4),
            (std::vector<float>{-0.5f, 0.5f, 0.0f, 0.0f}));
  // Origin 7: y' of rows 7..9 minus y' of row 6 (1.5).
  EXPECT_EQ(data.validation.targets, (std::vector<float>{0.5f, 1.0f, 1.5f}));
}

TEST(ForecastDirect, MetadataRoundTripAndForecastLength) {
  test_util::TempDir dir;
  const ForecastSetup setup = tiny_direct_setup(-1);
  const ForecastData data = lstm::apps::prepare_forecast_data(write_linear(dir), setup);
  lstm::save_sequence_model(dir.file("m.safetensors"),
                            lstm::apps::make_forecast_model(data, setup));
  lstm::SequenceModel model = lstm::load_sequence_model(dir.file("m.safetensors"));
  EXPECT_EQ(model.config().output_size, 3);
  const lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, "m");
  EXPECT_EQ(info.horizon, 3);
  EXPECT_EQ(info.window, 2);
  EXPECT_EQ(info.columns, (std::vector<std::string>{"y", "x"}));
  EXPECT_EQ(lstm::apps::forecast_future(model, info, data.series, 2).size(), 2u);
  EXPECT_EQ(lstm::apps::forecast_future(model, info, data.series, 3).size(), 3u);
  EXPECT_THROW(lstm::apps::forecast_future(model, info, data.series, 4), lstm::Error);
  EXPECT_THROW(lstm::apps::forecast_recursive(model, info, data.series, 1), lstm::Error);
  // Origins 2..7 with 3 horizons each.
  EXPECT_EQ(lstm::apps::target_predictions(model, info, data.series, 0).size(), 6u * 3u);

  // A model written before horizons existed has none in its metadata: a one-step model.
  ForecastSetup one_step = setup;
  one_step.horizon = 1;
  lstm::SequenceModel old = lstm::apps::make_forecast_model(
      lstm::apps::prepare_forecast_data(write_linear(dir), one_step), one_step);
  nlohmann::json forecast = lstm::json_text::parse(old.metadata().at("forecast"));
  ASSERT_EQ(forecast.erase("horizon"), 1u);
  old.metadata()["forecast"] = lstm::json_text::dump(forecast);
  EXPECT_EQ(lstm::apps::forecast_info(old, "old").horizon, 1);
  // A direct model's metadata on a one-step model does not match it.
  forecast["horizon"] = 3;
  old.metadata()["forecast"] = lstm::json_text::dump(forecast);
  EXPECT_THROW(lstm::apps::forecast_info(old, "old"), lstm::Error);
}

TEST(ForecastDirect, AHorizonLongerThanTheValidationPartIsAnError) {
  test_util::TempDir dir;
  ForecastSetup setup = tiny_direct_setup(0);
  setup.horizon = 4;  // the validation part has rows 7..9
  const std::string path = write_linear(dir);
  try {
    lstm::apps::prepare_forecast_data(path, setup);
    FAIL() << "no error";
  } catch (const lstm::Error& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("horizon of 4"), std::string::npos) << error.what();
  }
}

TEST(ForecastDirect, LearnsNoisyTonesBelowSeasonalNaiveOverItsHorizon) {
  test_util::TempDir dir;
  ForecastSetup setup = small_setup();
  setup.horizon = 10;
  const ForecastData data = lstm::apps::prepare_forecast_data(write_series(dir, 400), setup);
  EXPECT_EQ(data.train.count, 320 - 24 - 10 + 1);
  EXPECT_EQ(data.validation.count, 400 - 10 + 1 - 320);
  lstm::SequenceModel model = lstm::apps::make_forecast_model(data, setup);
  lstm::apps::train_model(model, data.train, data.validation, quick_options(40));
  const lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, "m");
  const lstm::apps::ForecastReport report =
      lstm::apps::evaluate_forecast(model, info, data.series, data.split, data.split);
  EXPECT_EQ(report.horizon, 10);
  EXPECT_EQ(report.model.count, 71 * 10);

  // The baselines over the same origins and horizons, computed here loop by loop: from origin
  // t, naive forecasts y[t - 1]; seasonal-naive y[t + h - 20] (known, as h < 20).
  const std::vector<double> y = data.series.column(0);
  double naive_squares = 0, seasonal_squares = 0;
  for (int64_t t = 320; t + 10 <= 400; ++t)
    for (int64_t h = 0; h < 10; ++h) {
      const double naive_error = y[t + h] - y[t - 1], seasonal_error = y[t + h] - y[t + h - 20];
      naive_squares += naive_error * naive_error;
      seasonal_squares += seasonal_error * seasonal_error;
    }
  EXPECT_NEAR(report.naive.rmse, std::sqrt(naive_squares / 710), 1e-12);
  ASSERT_TRUE(report.seasonal_naive.has_value());
  EXPECT_NEAR(report.seasonal_naive->rmse, std::sqrt(seasonal_squares / 710), 1e-12);
  EXPECT_EQ(report.seasonal_naive->count, 710);

  EXPECT_LT(report.model.rmse, 0.5 * report.seasonal_naive->rmse)
      << "model " << report.model.rmse << " vs seasonal-naive " << report.seasonal_naive->rmse;
  EXPECT_LT(report.model.mase, 1.0);
}

}  // namespace
