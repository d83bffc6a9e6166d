// `lstm train`: --task forecast trains a forecaster on a CSV series and reports its validation
// errors next to the naive and seasonal-naive baselines; --task charlm trains a character-level
// language model on a text and reports validation bits per character.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "apps/cell_variant.hpp"
#include "apps/charlm.hpp"
#include "apps/forecast.hpp"
#include "apps/forecast_options.hpp"
#include "apps/forecast_report.hpp"
#include "apps/model_choice.hpp"
#include "apps/multi_series.hpp"
#include "apps/trainer.hpp"
#include "apps/training_report.hpp"
#include "commands.hpp"
#include "file_checksum.hpp"
#include "output_lock.hpp"
#include "progress.hpp"
#include "train_parallel.hpp"

namespace lstm_cli {
namespace {

// Options whose default depends on the task are 0 until resolved (see task_defaults).
struct TrainOptions {
  std::string task = "forecast";
  std::string data, target, out, checkpoint, report, cell = "lstm", optimizer = "adam";
  std::string schedule;  // empty: the task's default
  std::string forget_bias;  // empty: PyTorch's initialisation; "chrono" or a number
  std::string on_nan = "stop";
  double cooldown = -1;  // negative: the task's default
  double weight_decay = -1;  // negative: the optimizer's default (PyTorch's: adamw 0.01, else 0)
  std::vector<std::string> features;
  int64_t window = 0, season = -1, hidden = 0, layers = 1;
  int64_t horizon = 0;  // forecast; 0: the M4 horizon if it fits (ForecastSetup::horizon)
  // forecast, several series (one global model): --target a,b,c, --all-columns, --series-column
  bool all_columns = false;
  std::string series_column, date_column;
  int64_t report_series = 20;  // --report: the series drawn (all are in its overview table)
  int differencing = -1;
  int log_target = -1, deseasonalize = -1;  // forecast: per-series normalisation
  double validation = 0.0;
  // charlm
  std::string vocabulary = "chars";
  int64_t embedding = 64;
  bool carry_state = false;
  double dropout = 0.0;
  bool layer_norm = false;
  double zoneout = 0.0;
  bool residual = false;
  bool highway = false;
  lstm::apps::TrainerOptions trainer = unset_task_defaults();
  bool resume = false, quiet = false, progress = false;
  // Data parallel (under mpiexec)
  int64_t shards = 0;  // 0: 1 for one process, else the largest divisor of --batch up to 16
  bool allreduce = false;
  double mpi_timeout = 300.0;

  static lstm::apps::TrainerOptions unset_task_defaults() {
    lstm::apps::TrainerOptions options;
    options.max_epochs = 0;
    options.lr = 0.0;
    return options;
  }
};

// Both: batch 32 (--batch's own default).
// forecast: hidden 64, lr 3e-3, 200 epochs, validation 0.2, cosine schedule.
// charlm: hidden 512, lr 2e-3, 50 epochs, validation 0.05, window 100, constant lr, and with a
// time limit a cool-down over its last 20% (on the King James text in ten minutes: batch 32
// scored 1.85 bits/char, 16 gave 1.87, 64 1.88; the cool-down took batch 32 to 1.82).
void task_defaults(TrainOptions& options, bool charlm) {
  auto set = [](auto& value, auto fallback) {
    if (value == 0) value = fallback;
  };
  set(options.hidden, int64_t{charlm ? 512 : 64});
  set(options.trainer.lr, charlm ? 2e-3 : 3e-3);
  set(options.trainer.max_epochs, int64_t{charlm ? 50 : 200});
  set(options.validation, charlm ? 0.05 : 0.2);
  if (charlm) {
    set(options.window, int64_t{100});
    options.trainer.warmup_fraction = 0.002;
  }
  options.trainer.schedule = !options.schedule.empty() ? lstm::parse_schedule(options.schedule)
                             : charlm                  ? lstm::ScheduleKind::constant
                                                       : lstm::ScheduleKind::cosine;
  options.trainer.cooldown_fraction = options.cooldown >= 0 ? options.cooldown : charlm ? 0.2 : 0.0;
}

void print_metrics(const char* label, const lstm::ForecastMetrics& metrics) {
  std::cout << "  " << label << "RMSE " << fixed(metrics.rmse, 4) << "  MAE "
            << fixed(metrics.mae, 4) << "  MASE " << fixed(metrics.mase, 3) << '\n';
}

// What --resume must find unchanged in the checkpoint: every option that changes the model, the
// data or the order of batches (the rate, epochs, limits, threads and report may change).
std::map<std::string, std::string> resume_invariants(const TrainOptions& o) {
  auto number = [](double value) {
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", value);
    return std::string(text);
  };
  std::string features;
  for (const std::string& feature : o.features) features += (features.empty() ? "" : ",") + feature;
  std::map<std::string, std::string> settings{
      {"--task", o.task},
      {"--data", file_fingerprint(o.data)},
      {"--hidden", std::to_string(o.hidden)},
      {"--layers", std::to_string(o.layers)},
      {"--cell", o.cell},
      {"--window", std::to_string(o.window)},
      {"--batch", std::to_string(o.trainer.batch_size)},
      {"--seed", std::to_string(o.trainer.seed)},
      {"--validation", number(o.validation)},
      {"--dropout", number(o.dropout)},
      {"--optimizer", o.optimizer}};
  if (o.layer_norm) settings["--layer-norm"] = "on";  // absent when off: older checkpoints resume
  if (o.zoneout > 0) settings["--zoneout"] = number(o.zoneout);
  if (o.residual) settings["--residual"] = "on";
  if (o.highway) settings["--highway"] = "on";
  if (o.task == "charlm") {
    settings["--vocabulary"] = o.vocabulary;
    settings["--embedding"] = std::to_string(o.embedding);
    settings["--carry-state"] = o.carry_state ? "on" : "off";
  } else {
    settings["--target"] = o.target;
    settings["--features"] = features.empty() ? "(none)" : features;
    settings["--horizon"] = std::to_string(o.horizon);
    settings["--season"] = std::to_string(o.season);
    settings["--differencing"] = std::to_string(o.differencing);
    settings["--log-target"] = std::to_string(o.log_target);
    settings["--deseasonalize"] = std::to_string(o.deseasonalize);
  }
  return settings;
}

// --residual, checked against --layers.
bool residual_option(const TrainOptions& options) {
  check_stack_options(options.layers, options.residual, false);
  return options.residual;
}

// --highway, checked against --layers and --residual.
bool highway_option(const TrainOptions& options) {
  check_stack_options(options.layers, options.residual, options.highway);
  return options.highway;
}

// --zoneout, --residual, --highway and --forget-bias into a task's setup, whose cell is set.
template <typename Setup>
void set_stack_options(Setup& setup, const TrainOptions& options) {
  setup.zoneout = options.zoneout;
  setup.residual = residual_option(options);
  setup.highway = highway_option(options);
  if (options.forget_bias.empty()) return;
  if (setup.cell != lstm::CellType::lstm)
    throw lstm::Error("--forget-bias applies to the LSTM cells (lstm, peephole, cifg, layer_norm), not " +
                      options.cell);
  setup.forget_bias = parse_forget_bias(options.forget_bias);
}

// --cell (with its variants) and --layer-norm, then the options above, into a language model's
// setup (a forecaster's cell comes from lstm::apps::forecast_setup).
void set_cell_options(lstm::apps::CharLmSetup& setup, const TrainOptions& options) {
  lstm::apps::set_cell_variant(setup, options.cell, options.layer_norm);  // cifg --layer-norm: both
  set_stack_options(setup, options);
}

// A forecaster's epoch line: losses (and, with target_scale > 0, the validation RMSE in the
// target's units), speed, learning rate and time left; a status line on a terminal.
void show_forecast_epoch(ProgressLine& progress, const lstm::apps::EpochReport& report,
                         double target_scale) {
  std::ostringstream line;
  line << "epoch " << report.epoch << "/" << report.max_epochs << "  loss "
       << fixed(report.train_loss, 5) << "  val_loss " << fixed(report.validation_loss, 5);
  if (target_scale > 0)
    line << "  val_rmse " << fixed(std::sqrt(report.validation_loss) * target_scale, 4);
  line << (report.improved ? " *" : "  ") << "  " << fixed(report.samples_per_second, 0)
       << " samples/s  lr " << report.lr << "  eta " << duration(report.eta_seconds);
  if (progress.live())
    progress.status(line.str());
  else
    progress.print(line.str());
}

// The forecasting options of `train` (one series or several).
lstm::apps::ForecastSetup forecast_setup(const TrainOptions& options) {
  lstm::apps::ForecastOptions forecast;
  forecast.target = options.target;
  forecast.features = options.features;
  forecast.window = options.window;
  forecast.horizon = options.horizon;
  forecast.season = options.season;
  forecast.differencing = options.differencing;
  forecast.log_target = options.log_target;
  forecast.deseasonalize = options.deseasonalize;
  forecast.validation = options.validation;
  forecast.cell = options.cell;
  forecast.layer_norm = options.layer_norm;
  forecast.hidden = options.hidden;
  forecast.layers = options.layers;
  forecast.seed = options.trainer.seed;
  lstm::apps::ForecastSetup setup = lstm::apps::forecast_setup(forecast);
  set_stack_options(setup, options);
  return setup;
}

// The checkpoint path (checked writable) and the trainer options shared by every task.
// Under mpiexec only rank 0 (`root`) writes, so only it checks the output paths.
std::string prepare_trainer(TrainOptions& options, bool root) {
  const std::string checkpoint =
      options.checkpoint.empty() ? options.out + ".ckpt" : options.checkpoint;
  if (root) {
    check_output_files(
        {{"--out", options.out}, {"--checkpoint", checkpoint}, {"--report", options.report}});
    if (options.resume && !std::filesystem::exists(checkpoint))
      throw lstm::Error(checkpoint + ": no checkpoint to resume from");
  }
  lstm::apps::TrainerOptions& trainer = options.trainer;
  if (options.cooldown > 0 && trainer.time_limit_seconds == 0)
    throw lstm::Error("--cooldown is a fraction of --time-limit; give a --time-limit too");
  trainer.optimizer.kind = lstm::parse_optimizer(options.optimizer);
  trainer.optimizer.weight_decay = options.weight_decay >= 0 ? options.weight_decay
                                   : trainer.optimizer.kind == lstm::OptimizerKind::adamw ? 0.01
                                                                                           : 0.0;
  trainer.checkpoint_path = checkpoint;
  trainer.resume = options.resume;
  trainer.on_nan = lstm::apps::parse_nan_policy(options.on_nan);
  trainer.stop_requested = &interrupt_flag();
  return checkpoint;
}

// Writes the model; keeps the checkpoint when the run can be continued, and says so.
void finish_training(const TrainOptions& options, const std::string& checkpoint,
                     const lstm::SequenceModel& model, const lstm::apps::TrainResult& result,
                     ProgressLine& progress) {
  if (result.stop == lstm::apps::StopReason::diverged) {
    // One line (the CLI's error): where, what was kept, exit 1.
    std::string line = "training diverged: " + result.divergence + "; ";
    if (result.best_epoch > 0) {
      lstm::save_sequence_model(options.out, model);
      line += "the best model (epoch " + std::to_string(result.best_epoch) + ") written to " +
              options.out;
    } else {
      line += "no model written (no finite validation loss before it)";
    }
    if (std::filesystem::exists(checkpoint)) line += "; last good checkpoint kept in " + checkpoint;
    line += " (lower --lr, or --on-nan skip)";
    throw lstm::Error(line);
  }
  lstm::save_sequence_model(options.out, model);
  const bool unfinished = result.stop == lstm::apps::StopReason::time_limit ||
                          result.stop == lstm::apps::StopReason::interrupted;
  if (!unfinished && options.checkpoint.empty()) std::filesystem::remove(checkpoint);
  std::ostringstream line;
  line << "stopped after " << result.epochs << " epoch(s) ("
       << lstm::apps::stop_reason_name(result.stop) << "); best weights: ";
  if (result.best_epoch > result.epochs)  // validated where the run stopped, within an epoch
    line << "where it stopped, within epoch " << result.best_epoch;
  else
    line << "epoch " << result.best_epoch;
  line << "; model written to " << options.out;
  if (result.skipped_batches > 0)
    line << "; " << result.skipped_batches
         << " batch(es) skipped for a non-finite loss or gradient (--on-nan skip)";
  progress.print(line.str());
  if (unfinished) progress.print("checkpoint kept in " + checkpoint + " (continue with --resume)");
}

// The layout of several series, when the options ask for a global model (none: one series).
std::optional<lstm::apps::SeriesLayout> series_layout(const TrainOptions& options) {
  lstm::apps::SeriesLayout layout;
  if (!options.series_column.empty()) {
    if (options.target.empty() || options.target.find(',') != std::string::npos)
      throw lstm::Error("--series-column needs --target VALUE_COLUMN (one column)");
    if (options.all_columns) throw lstm::Error("--all-columns and --series-column exclude each other");
    layout.series_column = options.series_column;
    layout.value_column = options.target;
    layout.date_column = options.date_column;
    return layout;
  }
  if (!options.date_column.empty()) throw lstm::Error("--date-column is for --series-column");
  if (options.all_columns) {
    if (!options.target.empty()) throw lstm::Error("--all-columns and --target exclude each other");
    layout.all_columns = true;
    return layout;
  }
  if (options.target.find(',') == std::string::npos) return std::nullopt;
  std::stringstream names(options.target);
  for (std::string name; std::getline(names, name, ',');) layout.columns.push_back(name);
  if (options.target.back() == ',') layout.columns.push_back("");
  return layout;
}

// Several series, one model: their windows pooled; then each series' validation next to the
// naive and seasonal-naive baselines (`lstm eval` adds the rolling-origin comparison).
void run_multi_series_training(TrainOptions& options, const GlobalOptions& global, Parallel& parallel,
                               const lstm::apps::SeriesLayout& layout) {
  const bool root = parallel.root();
  std::string checkpoint;
  std::optional<OutputLock> out_lock, checkpoint_lock;
  int threads = 0;
  lstm::apps::ForecastSetup setup;
  std::optional<lstm::apps::MultiSeriesData> prepared;
  parallel.together([&] {
    checkpoint = prepare_trainer(options, root);
    if (root) {
      out_lock.emplace(options.out, "--out");
      checkpoint_lock.emplace(checkpoint, "--checkpoint");
    }
    threads = apply_compute_options(global, "lstm train");
    setup = forecast_setup(options);
    prepared.emplace(lstm::apps::prepare_multi_series(options.data, layout, setup));
    options.trainer.resume_invariants = resume_invariants(options);
    options.trainer.resume_invariants["--window"] = std::to_string(prepared->window);
    options.trainer.resume_invariants["--season"] = std::to_string(prepared->season);
    options.trainer.resume_invariants["--horizon"] = std::to_string(prepared->horizon);
    options.trainer.resume_invariants["--differencing"] = prepared->differencing ? "1" : "0";
    options.trainer.resume_invariants["--series-column"] = options.series_column;
    options.trainer.resume_invariants["--all-columns"] = options.all_columns ? "on" : "off";
  });
  parallel.check_same(options.data, options.trainer.resume_invariants["--data"]);
  const lstm::apps::MultiSeriesData& data = *prepared;
  ProgressLine progress(options.quiet || !root, options.progress, 0.0);
  {
    std::ostringstream log;
    log << options.data << ": " << data.series.size() << " series for one model ("
        << (layout.is_long() ? "long format, ids in '" + layout.series_column + "'" : std::string("one per column"))
        << "), each normalised on its own training part";
    for (const auto& one : data.series)
      if (one.series.missing[0] > 0)
        log << "\n  " << one.series.missing[0] << " missing value(s) in series '"
            << one.series.columns[0] << "' filled by linear interpolation";
    log << "\n  season " << (data.season > 0 ? std::to_string(data.season) : std::string("none"))
        << (options.season >= 0 ? " (given)" : " (most series)") << "; window " << data.window
        << (data.differencing ? "; differenced (trend)" : "") << "; " << data.train.count
        << " training and " << data.validation.count << " validation windows; "
        << compute_summary(threads) << parallel.summary(options.trainer.shards, options.allreduce);
    progress.print(log.str());
  }
  lstm::SequenceModel model = lstm::apps::make_multi_series_model(data, setup, layout);
  std::vector<lstm::apps::EpochReport> epochs;
  auto on_epoch = [&](const lstm::apps::EpochReport& report) {
    epochs.push_back(report);
    show_forecast_epoch(progress, report, 0.0);
  };
  const lstm::apps::TrainResult result = lstm::apps::train_model(
      model, data.train, data.validation, options.trainer, on_epoch);
  parallel.together([&] {
    if (root) finish_training(options, checkpoint, model, result, progress);
  });
  if (!root) return;
  const lstm::apps::MultiSeriesInfo info = lstm::apps::multi_series_info(model, options.out);
  if (!options.report.empty()) {
    // Every series as 'lstm eval' scores it (its horizon, the file read the same way), with the
    // choice and interval 'lstm forecast' makes.
    const std::vector<lstm::Series> series = lstm::apps::load_model_series(info, options.data);
    const int64_t horizon = lstm::apps::evaluation_horizon(info, series, 0);
    progress.print("report: validating " + std::to_string(series.size()) + " series at " +
                   std::to_string(horizon) + " steps from rolling origins");
    const auto chosen = lstm::apps::choose_many(model, info, series, horizon,
                                                lstm::apps::ModelChoice::combine, 0.8);
    lstm::report::Document document("Forecaster of " + std::to_string(series.size()) +
                                    " series trained on " + options.data);
    document.paragraph(model.config().rnn.describe() + "; window " + std::to_string(data.window) +
                       "; " + std::to_string(result.epochs) + " epoch(s), stopped by " +
                       lstm::apps::stop_reason_name(result.stop) + "; best epoch " +
                       std::to_string(result.best_epoch) + ".");
    lstm::apps::add_many_series_overview(document, info, series, chosen, horizon);
    lstm::apps::add_loss_curves(document, epochs, "MSE of the normalised outputs, all series");
    lstm::apps::add_many_series_charts(document, info, series, chosen, horizon,
                                       options.report_series);
    lstm::report::save(document, options.report);
    progress.print("report written to " + options.report);
  }
  if (!options.quiet) std::cout << lstm::apps::multi_series_validation_text(model, info, data);
}

void run_forecast_training(TrainOptions& options, const GlobalOptions& global, Parallel& parallel) {
  if (const auto layout = series_layout(options))
    return run_multi_series_training(options, global, parallel, *layout);
  const bool root = parallel.root();
  std::string checkpoint;
  std::optional<OutputLock> out_lock, checkpoint_lock;
  int threads = 0;
  lstm::apps::ForecastSetup setup;
  std::optional<lstm::apps::ForecastData> prepared;
  parallel.together([&] {
    if (options.target.empty()) throw lstm::Error("--task forecast needs --target COLUMN");
    checkpoint = prepare_trainer(options, root);
    if (root) {
      out_lock.emplace(options.out, "--out");
      checkpoint_lock.emplace(checkpoint, "--checkpoint");
    }
    threads = apply_compute_options(global, "lstm train");

    setup = forecast_setup(options);
    prepared.emplace(lstm::apps::prepare_forecast_data(options.data, setup));
    options.trainer.resume_invariants = resume_invariants(options);  // after the data fitted
    // As resolved from the data (0 or -1 on the command line: detected).
    options.trainer.resume_invariants["--window"] = std::to_string(prepared->window);
    options.trainer.resume_invariants["--season"] = std::to_string(prepared->season);
    options.trainer.resume_invariants["--horizon"] = std::to_string(prepared->horizon);
    options.trainer.resume_invariants["--differencing"] =
        prepared->difference_scale.empty() ? "0" : "1";
  });
  parallel.check_same(options.data, options.trainer.resume_invariants["--data"]);
  lstm::apps::ForecastData& data = *prepared;
  const lstm::Series& series = data.series;
  ProgressLine progress(options.quiet || !root, options.progress, 0.0);
  {
    std::ostringstream log;
    log << options.data << ": " << series.rows << " rows, target '" << series.columns[0] << "'";
    if (series.features() > 1) log << " + " << series.features() - 1 << " feature column(s)";
    for (int64_t f = 0; f < series.features(); ++f)
      if (series.missing[f] > 0)
        log << "\n  " << series.missing[f] << " missing value(s) in '" << series.columns[f]
            << "' filled by linear interpolation";
    log << "\n  train rows 0.." << data.split - 1 << ", validation rows " << data.split << ".."
        << series.rows - 1 << "; season "
        << (data.season > 0 ? std::to_string(data.season) : std::string("none"))
        << (options.season >= 0 ? " (given)" : " (detected)") << "; window " << data.window
        << (data.horizon > 1 ? "; direct model of the next " + std::to_string(data.horizon) +
                                   " values"
                             : std::string("; one-step model"))
        << (data.target_transform.log ? "; log target" : "")
        << (data.target_transform.seasonal.empty() ? "" : "; deseasonalised")
        << (data.difference_scale.empty() ? "" : "; differenced (trend)") << "; "
        << data.train.count << " training and " << data.validation.count << " validation windows; "
        << compute_summary(threads) << parallel.summary(options.trainer.shards, options.allreduce);
    progress.print(log.str());
  }

  lstm::SequenceModel model = lstm::apps::make_forecast_model(data, setup);
  // The validation loss is the MSE of the model's outputs; when they are all the target (one
  // column, or a direct model), its root in original units (the outputs are changes /
  // difference_scale with differencing).
  const double target_scale =
      series.features() == 1 || data.horizon > 1
          ? data.normalization.stddev[0] *
                (data.difference_scale.empty() ? 1.0 : data.difference_scale[0])
          : 0.0;
  std::vector<lstm::apps::EpochReport> epochs;
  auto on_epoch = [&](const lstm::apps::EpochReport& report) {
    epochs.push_back(report);
    show_forecast_epoch(progress, report, target_scale);
  };
  const lstm::apps::TrainResult result = lstm::apps::train_model(
      model, data.train, data.validation, options.trainer, on_epoch);
  parallel.together([&] {
    if (root) finish_training(options, checkpoint, model, result, progress);
  });
  if (!root) return;
  const lstm::apps::ForecastInfo info = lstm::apps::forecast_info(model, options.out);
  const lstm::apps::ForecastReport report =
      lstm::apps::evaluate_forecast(model, info, series, data.split, data.split);
  // What the user will get: multi-step forecasts from rolling origins of the validation part,
  // next to the classical methods (none when the validation part is too short).
  const int64_t rolling_horizon =
      data.horizon > 1 ? data.horizon : lstm::apps::default_horizon(series, data.season);
  const lstm::apps::RollingSetup rolling_setup =
      lstm::apps::validation_setup(info, series, rolling_horizon);
  std::optional<lstm::apps::ChosenForecast> rolling;
  if (rolling_setup.horizon > 0) {
    const std::vector<double> y = series.column(0);
    rolling = lstm::apps::forecast_with_choice(
        y, lstm::apps::forecast_candidates(model, info, series, y), rolling_setup,
        lstm::apps::ModelChoice::combine, "lstm", 0.8);
  }
  if (!options.report.empty()) {
    lstm::report::Document document("Forecaster of '" + info.target + "' trained on " +
                                    options.data);
    document.paragraph(model.config().rnn.describe() + "; window " + std::to_string(info.window) +
                       "; " + std::to_string(result.epochs) + " epoch(s), stopped by " +
                       lstm::apps::stop_reason_name(result.stop) + "; best epoch " +
                       std::to_string(result.best_epoch) + ".");
    lstm::apps::add_loss_curves(document, epochs, "MSE of the normalised outputs");
    lstm::apps::add_forecast_section(document, model, info, series, data.split, report,
                                     std::max<int64_t>(info.season, 12));
    if (rolling) lstm::apps::add_rolling_section(document, series, *rolling);
    lstm::report::save(document, options.report);
    progress.print("report written to " + options.report);
  }
  if (options.quiet) return;

  if (data.horizon == 1)
    std::cout << "validation (" << report.model.count << " one-step forecasts, original units):\n";
  else
    std::cout << "validation (" << report.model.count / data.horizon << " origins x horizons 1.."
              << data.horizon << ", original units; baselines scored the same way):\n";
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
  if (!rolling) {
    std::cout << "the validation part is too short for " << rolling_horizon
              << "-step forecasts from rolling origins; no comparison with the classical methods\n";
    return;
  }
  const auto& evaluation = rolling->evaluation;
  std::cout << "validation of " << rolling_horizon << "-step forecasts (what 'lstm forecast --steps "
            << rolling_horizon << "' writes) from " << evaluation.origins.size()
            << " rolling origins, rows " << evaluation.origins.front() << ".."
            << evaluation.origins.back() << ":\n"
            << lstm::apps::scores_table(evaluation);
  if (!rolling->selection.network_validated)
    std::cerr << "WARNING: the validation part is too short for " << rolling_horizon
              << "-step forecasts from at least 3 origins, so the LSTM was scored from origins "
                 "it was trained on; 'lstm forecast' will use the classical methods unless given "
                 "--model-choice lstm\n";
  if (rolling->selection.network_beaten)
    std::cerr << "WARNING: on validation at " << rolling_horizon << " steps, "
              << rolling->selection.best_classical << " beats the LSTM; 'lstm forecast --steps "
              << rolling_horizon << "' will use " << rolling->selection.name
              << " unless given --model-choice lstm\n";
}

void run_charlm_training(TrainOptions& options, const GlobalOptions& global, Parallel& parallel) {
  const bool root = parallel.root();
  std::string checkpoint;
  std::optional<OutputLock> out_lock, checkpoint_lock;
  int threads = 0;
  lstm::apps::CharLmSetup setup;
  std::optional<lstm::apps::CharLmData> prepared;
  parallel.together([&] {
    if (!options.target.empty() || !options.features.empty())
      throw lstm::Error("--target and --features are for --task forecast");
    checkpoint = prepare_trainer(options, root);
    if (root) {
      out_lock.emplace(options.out, "--out");
      checkpoint_lock.emplace(checkpoint, "--checkpoint");
    }
    threads = apply_compute_options(global, "lstm train");

    setup.kind =
        options.vocabulary == "bytes" ? lstm::VocabularyKind::bytes : lstm::VocabularyKind::chars;
    setup.window = options.window;
    setup.validation_fraction = options.validation;
    setup.carry_state = options.carry_state;
    setup.batch = options.trainer.batch_size;
    set_cell_options(setup, options);
    setup.embedding = options.embedding;
    setup.hidden_size = options.hidden;
    setup.num_layers = options.layers;
    setup.dropout = options.dropout;
    setup.seed = options.trainer.seed;
    prepared.emplace(lstm::apps::prepare_charlm_data(options.data, setup));
    options.trainer.resume_invariants = resume_invariants(options);  // after the data fitted
  });
  parallel.check_same(options.data, options.trainer.resume_invariants["--data"]);
  const lstm::apps::CharLmData& data = *prepared;
  lstm::SequenceModel model = lstm::apps::make_charlm_model(data, setup);
  const std::unique_ptr<lstm::apps::TrainingTask> task =
      lstm::apps::make_charlm_task(data, setup);
  ProgressLine progress(options.quiet || !root, options.progress);
  {
    std::ostringstream log;
    log << options.data << ": " << data.ids.size() << " " << options.vocabulary << ", "
        << data.vocabulary.size() << " distinct; training on the first " << data.split
        << ", validating on the last " << data.ids.size() - static_cast<size_t>(data.split)
        << "\n  " << model.config().rnn.describe() << ", embedding " << setup.embedding << ", "
        << model.num_parameters() << " parameters; " << task->count() << " windows of "
        << setup.window << (setup.carry_state ? " (state carried)" : " (shuffled)")
        << " per epoch; " << compute_summary(threads)
        << parallel.summary(options.trainer.shards, options.allreduce);
    progress.print(log.str());
  }
  const double bits = 1.0 / std::log(2.0);
  const int64_t chars_per_window = setup.window;
  const double time_limit = options.trainer.time_limit_seconds;
  lstm::apps::TrainProgress callbacks;
  int64_t batches_run = 0;                 // in this run (not before a resume)
  double last_validation = std::nan("");   // bits per character, after the last epoch
  callbacks.batch = [&](const lstm::apps::BatchReport& report) {
    ++batches_run;
    const double chars = report.samples_per_second * static_cast<double>(chars_per_window);
    const int64_t left = (options.trainer.max_epochs - report.epoch - 1) * report.batches +
                         report.batches - report.batch;
    double eta = report.elapsed_seconds / static_cast<double>(batches_run) *
                 static_cast<double>(left);
    if (time_limit > 0) eta = std::min(eta, std::max(0.0, time_limit - report.elapsed_seconds));
    std::ostringstream line;
    line << "epoch " << report.epoch + 1 << "/" << options.trainer.max_epochs << "  batch "
         << report.batch << "/" << report.batches << "  loss " << fixed(report.loss * bits, 3)
         << " bits/char";
    if (std::isfinite(last_validation)) line << "  validation " << fixed(last_validation, 3);
    line << "  " << fixed(chars / 1000.0, 1) << "k chars/s  elapsed "
         << duration(report.elapsed_seconds) << "  eta " << duration(eta);
    progress.status(line.str());
  };
  std::vector<lstm::apps::EpochReport> epochs;
  callbacks.epoch = [&](const lstm::apps::EpochReport& report) {
    epochs.push_back(report);
    last_validation = report.validation_loss * bits;
    std::ostringstream line;
    line << "epoch " << report.epoch << "/" << report.max_epochs << "  loss "
         << fixed(report.train_loss * bits, 3) << " bits/char  validation "
         << fixed(report.validation_loss * bits, 3) << " bits/char" << (report.improved ? " *" : "")
         << "  lr " << report.lr << "  " << duration(report.epoch_seconds) << "  eta "
         << duration(report.eta_seconds);
    progress.print(line.str());
  };
  const lstm::apps::TrainResult result =
      lstm::apps::train(model, *task, options.trainer, callbacks);
  parallel.together([&] {
    if (root) finish_training(options, checkpoint, model, result, progress);
  });
  if (!root) return;
  std::ostringstream line;
  line << "validation: " << fixed(result.best_validation_loss * bits, 4)
       << " bits per character (windows of " << setup.window << ", each from a fresh state)";
  progress.print(line.str());
  if (!options.report.empty()) {
    lstm::report::Document document("Language model trained on " + options.data);
    document.paragraph(line.str() + ". " + model.config().rnn.describe() + ", embedding " +
                       std::to_string(setup.embedding) + "; " + std::to_string(result.epochs) +
                       " epoch(s), stopped by " + lstm::apps::stop_reason_name(result.stop) + ".");
    lstm::apps::add_loss_curves(document, epochs, "bits per character", bits);
    lstm::apps::add_text_sections(document, model, data, setup.window);
    lstm::report::save(document, options.report);
    progress.print("report written to " + options.report);
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
      "seasonal-naive baselines. --task charlm: a character-level language model of a text, "
      "validated in bits per character on its end. Ctrl-C stops cleanly: the checkpoint and "
      "the best model so far are written. Options marked 'forecast | charlm' have a default "
      "per task.");
  command->add_option("--task", options->task, "What to train")
      ->check(CLI::IsMember({"forecast", "charlm"}));
  command->add_option("--data", options->data, "forecast: CSV file, one row per time step; "
                                               "charlm: a text file")
      ->required();
  command->add_option("--target", options->target,
                      "forecast: the column to forecast (a,b,c: one model of several series; "
                      "with --series-column: the value column)");
  command->add_option("--features", options->features, "forecast: other columns used as inputs")
      ->delimiter(',');
  command->add_flag("--all-columns", options->all_columns,
                    "forecast: one model of several series, every column after the first (the "
                    "date/index column); or give them as --target a,b,c");
  command->add_option("--series-column", options->series_column,
                      "forecast: one model of several series in long format: the column of "
                      "series ids (one row per series and date; --target names the value column)");
  command->add_option("--date-column", options->date_column,
                      "forecast, long format: the date column (default: the first column that is "
                      "neither the ids nor the values)");
  command->add_option("--out", options->out, "Model file to write (safetensors)")->required();
  command
      ->add_option("--time-limit", options->trainer.time_limit_seconds,
                   "Stop cleanly after this many seconds, keeping the best model (0: none)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--epochs", options->trainer.max_epochs, "Maximum epochs (0: the task's default, forecast 200 | charlm 50)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000}));
  command
      ->add_option("--patience", options->trainer.patience,
                   "Early stopping: epochs without a better validation loss")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  command->add_option("--batch", options->trainer.batch_size, "Windows per batch")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  command
      ->add_option("--lr", options->trainer.lr,
                   "Peak learning rate (0: the task's default, forecast 3e-3 | charlm 2e-3); linear warm-up "
                   "(forecast 5% of the steps, charlm 0.2%), then as --schedule says")
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--schedule", options->schedule,
                   "Learning rate after the warm-up: cosine (decay over --epochs to 5% of --lr) or "
                   "constant (default: forecast cosine, charlm constant)")
      ->check(CLI::IsMember({"cosine", "constant"}));
  command
      ->add_option("--cooldown", options->cooldown,
                   "With --time-limit: the learning rate falls linearly to 0 over this last "
                   "fraction of the time (default: forecast 0 | charlm 0.2)")
      ->default_str("")  // the task decides; "-1" would only confuse
      ->check(CLI::Range(0.0, 1.0));
  command->add_option("--clip", options->trainer.clip_norm, "Gradient norm clipping (0: off)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--optimizer", options->optimizer, "sgd, adam or adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  command
      ->add_option("--weight-decay", options->weight_decay,
                   "Weight decay: L2 added to the gradient (sgd, adam) or decoupled (adamw) "
                   "(default: adamw 0.01 | sgd, adam 0)")
      ->default_str("")
      ->check(CLI::NonNegativeNumber);
  command
      ->add_option("--window", options->window,
                   "forecast: input rows per forecast (0: 2 x season capped at 104, else 52; at "
                   "most half the training rows) | charlm: characters per training window (100)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  command
      ->add_option("--horizon", options->horizon,
                   "forecast: 1 = a one-step model of every column, forecast recursively; H > 1 "
                   "= a direct model of the target's next H values at once; 0 (default) = a "
                   "direct model at the series' M4 horizon (monthly 18, quarterly 8, yearly 6, "
                   "...) when its windows fit the training and validation parts, else 1")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  command
      ->add_option("--season", options->season,
                   "forecast: season length for the seasonal-naive baseline (-1: detect, 0: none)")
      ->check(CLI::Range(int64_t{-1}, int64_t{100000}));
  command
      ->add_option("--differencing", options->differencing,
                   "forecast: model the change to the next row, inputs relative to the last row "
                   "(-1: when the training target trends, 0: off, 1: on)")
      ->check(CLI::Range(-1, 1));
  command
      ->add_option("--log-target", options->log_target,
                   "forecast: model the logarithm of the target (-1: when the training part is "
                   "positive and the series has a calendar season (monthly, quarterly, weekly, "
                   "daily, hourly dates, or a detected season without dates), 0: off, 1: on)")
      ->check(CLI::Range(-1, 1));
  command
      ->add_option("--deseasonalize", options->deseasonalize,
                   "forecast: remove the seasonal indices of a classical decomposition of the "
                   "training part (multiplicative with the log, else additive) before the network "
                   "(-1: when the season is the dates' calendar period and passes the 90% "
                   "autocorrelation test, 0: off, 1: on)")
      ->check(CLI::Range(-1, 1));
  command
      ->add_option("--validation", options->validation,
                   "Fraction held out for validation, the end of the data (forecast 0.2 | charlm "
                   "0.05)")
      ->check(CLI::Range(0.0, 0.9));
  command->add_option("--vocabulary", options->vocabulary,
                      "charlm: 'chars' (UTF-8 characters) or 'bytes' (any file)")
      ->check(CLI::IsMember({"chars", "bytes"}));
  command->add_option("--embedding", options->embedding, "charlm: embedding width")
      ->check(CLI::Range(int64_t{1}, int64_t{16384}));
  command->add_flag("--carry-state", options->carry_state,
                    "charlm: truncated BPTT: read the text as --batch streams in order, carrying "
                    "the state from window to window (default: shuffled windows from zero state)");
  command->add_option("--dropout", options->dropout, "Dropout between stacked layers")
      ->check(CLI::Range(0.0, 0.99));
  command
      ->add_option("--cell", options->cell,
                   "lstm, peephole, cifg (coupled input and forget gates), layer_norm (layer-normalised "
                   "LSTM), gru, gru_reset_before (reset gate before the product), rnn_tanh or rnn_relu")
      ->check(CLI::IsMember(
          {"lstm", "peephole", "cifg", "layer_norm", "gru", "gru_reset_before", "rnn_tanh", "rnn_relu"}));
  command->add_option("--forget-bias", options->forget_bias,
                      "LSTM cells: the forget gate's initial bias (default: PyTorch's "
                      "initialisation). chrono: log(U(1, W-1)) per unit over the window W and the "
                      "input gate's its negative (Tallec & Ollivier 2018); a number: that bias "
                      "for every unit");
  command->add_flag("--residual", options->residual,
                    "Residual connections: each layer after the first adds its input to its output "
                    "(needs --layers 2 or more)");
  command->add_flag("--highway", options->highway,
                    "Highway gates: each layer after the first outputs t*h + (1-t)*x, t = sigmoid(W_t x + b_t) "
                    "learnt per unit from its input x (needs --layers 2 or more; not with --residual)");
  command->add_option("--zoneout", options->zoneout,
                      "Zoneout: each unit of h (and c) keeps its previous value with this probability "
                      "at each training step (identity at inference)")
      ->check(CLI::Range(0.0, 0.99));
  command->add_flag("--layer-norm", options->layer_norm,
                    "LSTM: layer normalisation of the input and recurrent parts and of the cell state "
                    "(the layer-normalised LSTM, as --cell layer_norm; with --cell cifg, with coupled "
                    "gates; see the README)");
  command->add_option("--hidden", options->hidden, "Hidden size (0: the task's default, forecast 64 | charlm 512)")
      ->check(CLI::Range(int64_t{0}, int64_t{16384}));
  command->add_option("--layers", options->layers, "Stacked layers")
      ->check(CLI::Range(int64_t{1}, int64_t{64}));
  command->add_option("--seed", options->trainer.seed, "Seed of the weights and data order");
  command->add_option("--checkpoint", options->checkpoint,
                      "Checkpoint written atomically every epoch and every 5 minutes (default: "
                      "OUT.ckpt, removed after a run that finishes, kept after --time-limit or "
                      "Ctrl-C)");
  command->add_flag("--resume", options->resume, "Continue exactly from the checkpoint");
  command
      ->add_option("--on-nan", options->on_nan,
                   "A non-finite training loss or gradient norm: 'stop' the run (exit 1, keeping "
                   "the best model so far) or 'skip' the batch and count it")
      ->check(CLI::IsMember({"stop", "skip"}));
  command->add_option("--report", options->report,
                      "Also write a self-contained HTML report: loss curves, and forecasts "
                      "against actual values (forecast) or a sample and the gates over a piece "
                      "of the validation text (charlm). Several series: a table of every series' "
                      "validation next to the baselines, and the charts of the first "
                      "--report-series");
  add_report_series_option(*command, options->report_series);
  command->add_flag("--quiet", options->quiet, "Print nothing but errors");
  command->add_flag("--progress", options->progress,
                    "Plain progress lines even on a terminal (always when not a terminal)");
  command
      ->add_option("--shards", options->shards,
                   "Under mpiexec: cut every batch into this many shards, whose gradients are "
                   "summed in a fixed order, so that the weights do not depend on the number of "
                   "ranks (at least the ranks, at most --batch; default: 1 for one process, "
                   "else the largest divisor of --batch up to 16)")
      ->check(CLI::Range(int64_t{0}, int64_t{65536}));
  command->add_flag("--allreduce", options->allreduce,
                    "Under mpiexec: sum the gradients with MPI_Allreduce (faster, but the weights "
                    "then depend on the number of ranks: not reproducible)");
  command
      ->add_option("--mpi-timeout", options->mpi_timeout,
                   "Under mpiexec: give up (exit 1) when the other ranks do not answer within "
                   "this many seconds (0: wait forever)")
      ->check(CLI::NonNegativeNumber);
  add_compute_options(*command, global);
  command->callback([options, &global] {
    const bool charlm = options->task == "charlm";
    task_defaults(*options, charlm);
    Parallel parallel = start_parallel(options->mpi_timeout);
    default_threads_per_rank(parallel, global);
    options->trainer.shards =
        resolve_shards(parallel, options->shards, options->trainer.batch_size);
    options->trainer.plain_allreduce = options->allreduce;
    options->trainer.communicator = parallel.communicator();
    if (charlm)
      run_charlm_training(*options, global, parallel);
    else
      run_forecast_training(*options, global, parallel);
  });
}

}  // namespace lstm_cli
