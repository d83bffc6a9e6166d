// `lstm train --task forecast`: trains an LSTM forecaster on a CSV series and reports its
// validation errors next to the naive and seasonal-naive baselines.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "apps/forecast.hpp"
#include "apps/trainer.hpp"
#include "commands.hpp"

namespace lstm_cli {
namespace {

struct TrainOptions {
  std::string task = "forecast";
  std::string data, target, out, checkpoint, cell = "lstm", optimizer = "adam";
  std::vector<std::string> features;
  int64_t window = 0, season = -1, hidden = 64, layers = 1;
  int differencing = -1;
  double validation = 0.2;
  lstm::apps::TrainerOptions trainer;
  bool resume = false, quiet = false, progress = false;
};

std::string fixed(double value, int digits) {
  if (!std::isfinite(value)) return "nan";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string duration(double seconds) {
  const int64_t total = static_cast<int64_t>(std::llround(seconds));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%lld:%02lld", static_cast<long long>(total / 60),
                static_cast<long long>(total % 60));
  return buffer;
}

void print_metrics(const char* label, const lstm::ForecastMetrics& metrics) {
  std::cout << "  " << label << "RMSE " << fixed(metrics.rmse, 4) << "  MAE "
            << fixed(metrics.mae, 4) << "  MASE " << fixed(metrics.mase, 3) << '\n';
}

void run_train(const TrainOptions& options, const GlobalOptions& global) {
  if (options.task != "forecast")
    throw lstm::Error("--task " + options.task + ": only 'forecast' is supported");
  check_output_path(options.out);
  const std::string checkpoint =
      options.checkpoint.empty() ? options.out + ".ckpt" : options.checkpoint;
  check_output_path(checkpoint);
  const int threads = apply_threads(global);

  lstm::apps::ForecastSetup setup;
  setup.target = options.target;
  setup.features = options.features;
  setup.window = options.window;
  setup.season = options.season;
  setup.differencing = options.differencing;
  setup.validation_fraction = options.validation;
  setup.cell = lstm::parse_cell(options.cell);
  setup.hidden_size = options.hidden;
  setup.num_layers = options.layers;
  setup.seed = options.trainer.seed;
  lstm::apps::ForecastData data = lstm::apps::prepare_forecast_data(options.data, setup);
  const lstm::Series& series = data.series;
  std::ostream& log = std::cout;
  if (!options.quiet) {
    log << options.data << ": " << series.rows << " rows, target '" << series.columns[0] << "'";
    if (series.features() > 1) log << " + " << series.features() - 1 << " feature column(s)";
    log << '\n';
    for (int64_t f = 0; f < series.features(); ++f)
      if (series.missing[f] > 0)
        log << "  " << series.missing[f] << " missing value(s) in '" << series.columns[f]
            << "' filled by linear interpolation\n";
    log << "  train rows 0.." << data.split - 1 << ", validation rows " << data.split << ".."
        << series.rows - 1 << "; season "
        << (data.season > 0 ? std::to_string(data.season) : std::string("none"))
        << (options.season >= 0 ? " (given)" : " (detected)") << "; window " << data.window
        << (data.difference_scale.empty() ? "" : "; differenced (trend)") << "; "
        << data.train.count << " training and " << data.validation.count << " validation windows; "
        << threads << " thread(s)\n";
  }

  lstm::SequenceModel model = lstm::apps::make_forecast_model(data, setup);
  lstm::apps::TrainerOptions trainer = options.trainer;
  trainer.optimizer.kind = lstm::parse_optimizer(options.optimizer);
  trainer.checkpoint_path = checkpoint;
  trainer.resume = options.resume;
  if (options.resume && !std::filesystem::exists(checkpoint))
    throw lstm::Error(checkpoint + ": no checkpoint to resume from");
  // The validation loss is the MSE of the model's outputs; for one column, its root in original
  // units (the outputs are step changes / difference_scale with differencing).
  const double target_scale =
      series.features() == 1 ? data.normalization.stddev[0] *
                                   (data.difference_scale.empty() ? 1.0 : data.difference_scale[0])
                             : 0.0;
  // A line per epoch when not a terminal (or with --progress); on a terminal, one line rewritten.
  const bool per_epoch = !options.quiet && (options.progress || !isatty(STDOUT_FILENO));
  const bool live = !options.quiet && !per_epoch;
  bool live_shown = false;
  auto progress = [&](const lstm::apps::EpochReport& report) {
    if (!per_epoch && !live) return;
    if (live) {
      log << "\r\033[K";
      live_shown = true;
    }
    std::string rmse;
    if (target_scale > 0) {
      rmse = "  val_rmse ";
      rmse += fixed(std::sqrt(report.validation_loss) * target_scale, 4);
    }
    log << "epoch " << report.epoch << "/" << report.max_epochs << "  loss "
        << fixed(report.train_loss, 5) << "  val_loss " << fixed(report.validation_loss, 5) << rmse
        << (report.improved ? " *" : "  ") << "  " << fixed(report.samples_per_second, 0)
        << " samples/s  lr " << report.lr << "  eta " << duration(report.eta_seconds)
        << (live ? "" : "\n") << std::flush;
  };
  const lstm::apps::TrainResult result =
      lstm::apps::train_model(model, data.train, data.validation, trainer, progress);
  if (live_shown) log << '\n';
  lstm::save_sequence_model(options.out, model);
  const bool keep_checkpoint =
      result.stop == lstm::apps::StopReason::time_limit || !options.checkpoint.empty();
  if (!keep_checkpoint) std::filesystem::remove(checkpoint);
  if (options.quiet) return;

  log << "stopped after " << result.epochs << " epoch(s) ("
      << lstm::apps::stop_reason_name(result.stop) << "); best epoch " << result.best_epoch
      << "; model written to " << options.out << '\n';
  if (keep_checkpoint && result.stop == lstm::apps::StopReason::time_limit)
    log << "checkpoint kept in " << checkpoint << " (continue with --resume)\n";
  const lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, options.out);
  const lstm::apps::ForecastReport report =
      lstm::apps::evaluate_forecast(model, info, series, data.split, data.split);
  log << "validation (" << report.model.count << " one-step forecasts, original units):\n";
  // Labels padded to one width so that the columns line up.
  auto label = [](std::string text) {
    text.resize(std::max<size_t>(text.size() + 1, 20), ' ');
    return text;
  };
  print_metrics(label("model").c_str(), report.model);
  print_metrics(label("naive").c_str(), report.naive);
  if (report.seasonal_naive) {
    std::string name = "seasonal-naive ";
    name += std::to_string(report.season);
    print_metrics(label(name).c_str(), *report.seasonal_naive);
  }
}

}  // namespace

void add_train_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* command = app.add_subcommand(
      "train",
      "Train a model. --task forecast: an LSTM forecaster of the next row of a CSV series "
      "(target and --features columns), normalised on the training part, validated on the "
      "last --validation fraction; prints validation RMSE, MAE and MASE next to the naive and "
      "seasonal-naive baselines.");
  command->add_option("--task", options->task, "What to train")->check(CLI::IsMember({"forecast"}));
  command->add_option("--data", options->data, "CSV file, one row per time step")->required();
  command->add_option("--target", options->target, "Column to forecast")->required();
  command->add_option("--features", options->features, "Other columns used as inputs")
      ->delimiter(',');
  command->add_option("--out", options->out, "Model file to write (safetensors)")->required();
  command
      ->add_option("--time-limit", options->trainer.time_limit_seconds,
                   "Stop cleanly after this many seconds, keeping the best model (0: none)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--epochs", options->trainer.max_epochs, "Maximum epochs")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  command
      ->add_option("--patience", options->trainer.patience,
                   "Early stopping: epochs without a better validation loss")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  command->add_option("--batch", options->trainer.batch_size, "Windows per batch")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  command
      ->add_option("--lr", options->trainer.lr,
                   "Peak learning rate (linear warm-up over 5% of steps, then cosine decay)")
      ->check(CLI::PositiveNumber);
  command->add_option("--clip", options->trainer.clip_norm, "Gradient norm clipping (0: off)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--optimizer", options->optimizer, "sgd, adam or adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  command
      ->add_option("--window", options->window,
                   "Input rows per forecast (0: 2 x season capped at 104, else 52; at most "
                   "half the training rows)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  command
      ->add_option("--season", options->season,
                   "Season length for the seasonal-naive baseline (-1: detect, 0: none)")
      ->check(CLI::Range(int64_t{-1}, int64_t{100000}));
  command
      ->add_option("--differencing", options->differencing,
                   "Model the change to the next row, inputs relative to the last row (-1: "
                   "when the training target trends, 0: off, 1: on)")
      ->check(CLI::Range(-1, 1));
  command
      ->add_option("--validation", options->validation,
                   "Fraction held out for validation (the last part of the series)")
      ->check(CLI::Range(0.01, 0.9));
  command->add_option("--cell", options->cell, "lstm, gru, rnn_tanh or rnn_relu")
      ->check(CLI::IsMember({"lstm", "gru", "rnn_tanh", "rnn_relu"}));
  command->add_option("--hidden", options->hidden, "Hidden size")
      ->check(CLI::Range(int64_t{1}, int64_t{16384}));
  command->add_option("--layers", options->layers, "Stacked layers")
      ->check(CLI::Range(int64_t{1}, int64_t{64}));
  command->add_option("--seed", options->trainer.seed, "Seed of the weights and data order");
  command->add_option("--checkpoint", options->checkpoint,
                      "Checkpoint written atomically every epoch (default: OUT.ckpt, removed "
                      "after a run that finishes, kept after --time-limit)");
  command->add_flag("--resume", options->resume, "Continue exactly from the checkpoint");
  command->add_flag("--quiet", options->quiet, "Print nothing but errors");
  command->add_flag("--progress", options->progress,
                    "A line per epoch even on a terminal (always when not a terminal)");
  add_threads_option(*command, global);
  command->callback([options, &global] { run_train(*options, global); });
}

}  // namespace lstm_cli
