// `lstm experiment adding|temporal_order`: trains a cell (or, with --compare, every cell on the
// same data and seeds) on a long-lag task from the LSTM literature until solved or out of time;
// the last line printed is a JSON object with the test score.
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

#include "apps/experiment.hpp"
#include "commands.hpp"
#include "data/json_text.hpp"

namespace lstm_cli {
namespace {

using lstm::apps::ExperimentResult;
using lstm::apps::ExperimentTask;
using Json = nlohmann::ordered_json;

struct ExperimentCliOptions {
  std::string task, cell = "lstm", report, save, forget_bias = "chrono";
  bool compare = false, quiet = false;
  lstm::apps::ExperimentOptions run;
};

std::string fixed(double value, int digits) {
  if (!std::isfinite(value)) return "nan";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

Json number(double value) {
  return std::isfinite(value) ? Json(value) : Json(nullptr);
}

// The evaluation score as shown in progress lines and the table.
std::string score_text(ExperimentTask task, const lstm::apps::TaskScore& score) {
  if (task == ExperimentTask::adding) return "mse " + fixed(score.loss, 5);
  std::string text = "cross-entropy " + fixed(score.loss, 4);
  text += "  accuracy ";
  text += fixed(score.accuracy, 4);
  return text;
}

Json result_json(const ExperimentCliOptions& options, const ExperimentResult& result, int threads) {
  const lstm::apps::ExperimentOptions& run = options.run;
  Json out = {{"task", std::string(lstm::apps::task_name(run.task))},
              {"cell", result.cell}};
  if (run.layer_norm) out["layer_norm"] = true;
  out["seq_len"] = run.seq_len;
  if (run.task == ExperimentTask::adding) {
    out["test_mse"] = number(result.test.loss);
    out["baseline_mse"] = lstm::apps::baseline_loss(run.task);
  } else {
    out["test_accuracy"] = number(result.test.accuracy);
    out["test_cross_entropy"] = number(result.test.loss);
    out["baseline_cross_entropy"] = lstm::apps::baseline_loss(run.task);
  }
  out["solved"] = result.solved;
  out["stop"] = std::string(lstm::apps::stop_name(result.stop));
  out["sequences_seen"] = result.sequences_seen;
  out["steps"] = result.steps;
  out["seconds"] = std::round(result.seconds * 100) / 100;
  out["cpu_seconds"] = std::round(result.cpu_seconds * 100) / 100;
  out["hidden"] = run.hidden;
  if (run.layers > 1) out["layers"] = run.layers;
  if (run.residual) out["residual"] = true;
  if (run.highway) out["highway"] = true;
  out["batch"] = run.batch;
  out["lr"] = run.lr;
  out["seed"] = run.seed;
  out["threads"] = threads;
  return out;
}

// One row per cell, columns padded to line up.
void print_table(ExperimentTask task, const std::vector<ExperimentResult>& results) {
  const bool adding = task == ExperimentTask::adding;
  std::printf("%-16s %-7s %-14s %14s %8s %9s  %s\n", "cell", "solved",
              adding ? "test_mse" : "test_accuracy", "sequences_seen", "steps", "seconds", "stop");
  for (const ExperimentResult& result : results)
    std::printf("%-16s %-7s %-14s %14lld %8lld %9.1f  %s\n", result.cell.c_str(),
                result.solved ? "yes" : "no",
                fixed(adding ? result.test.loss : result.test.accuracy, adding ? 5 : 4).c_str(),
                static_cast<long long>(result.sequences_seen), static_cast<long long>(result.steps),
                result.seconds, std::string(lstm::apps::stop_name(result.stop)).c_str());
  std::fflush(stdout);
}

ExperimentResult run_one(const ExperimentCliOptions& options, const std::string& cell) {
  lstm::apps::ExperimentOptions run = options.run;
  run.cell = cell;
  lstm::SequenceModel model = lstm::apps::make_experiment_model(run);
  // On a terminal one line rewritten at every evaluation; otherwise a line each.
  const bool live = !options.quiet && isatty(STDOUT_FILENO);
  auto progress = [&](const lstm::apps::HistoryPoint& point) {
    if (options.quiet) return;
    std::cout << (live ? "\r\033[K" : "") << cell << "  sequences " << point.sequences_seen << "  "
              << fixed(point.seconds, 1) << " s  train_loss " << fixed(point.train_loss, 5)
              << "  eval " << score_text(run.task, point.eval) << (live ? "" : "\n") << std::flush;
  };
  const ExperimentResult result = lstm::apps::run_experiment(model, run, progress);
  if (!options.quiet) {
    std::cout << (live ? "\r\033[K" : "") << cell << ": "
              << (result.solved ? "solved" : "not solved")
              << " (stopped: " << lstm::apps::stop_name(result.stop) << ") after "
              << result.sequences_seen << " sequences, " << fixed(result.seconds, 1) << " s; test "
              << score_text(run.task, result.test) << '\n';
  }
  if (!options.save.empty()) {
    lstm::apps::record_result(model, run, result);
    lstm::save_sequence_model(options.save, model);
  }
  return result;
}

void run_experiment_command(ExperimentCliOptions& options, const GlobalOptions& global) {
  options.run.task = lstm::apps::parse_task(options.task);
  options.run.cell = options.cell;
  options.run.forget_bias = parse_forget_bias(options.forget_bias);
  options.run.validate();
  if (options.compare && !options.save.empty())
    throw lstm::Error("--save keeps one model: use it with --cell, not --compare");
  check_output_files({{"--report", options.report}, {"--save", options.save}});
  const int threads = apply_compute_options(global, "lstm experiment");

  const std::vector<std::string> cells =
      options.compare ? lstm::apps::experiment_cells() : std::vector<std::string>{options.cell};
  std::vector<ExperimentResult> results;
  for (const std::string& cell : cells) results.push_back(run_one(options, cell));
  if (!options.report.empty())
    lstm::report::save(lstm::apps::experiment_report(options.run, results), options.report);

  if (!options.compare) {
    std::cout << lstm::json_text::dump(result_json(options, results[0], threads)) << '\n';
    return;
  }
  if (!options.quiet) print_table(options.run.task, results);
  Json out = {{"task", options.task}, {"seq_len", options.run.seq_len}};
  Json rows = Json::array();
  for (const ExperimentResult& result : results)
    rows.push_back(result_json(options, result, threads));
  out["cells"] = rows;
  std::cout << lstm::json_text::dump(out) << '\n';
}

}  // namespace

void add_experiment_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<ExperimentCliOptions>();
  lstm::apps::ExperimentOptions& run = options->run;
  CLI::App* command = app.add_subcommand(
      "experiment",
      "Long-lag experiments (Hochreiter & Schmidhuber 1997): 'adding' (sum of the two marked "
      "values; solved: test MSE < 0.01, answering 1 gives 0.167) or 'temporal_order' (order "
      "of X/Y at two random positions among distractors, 4 classes; solved: test accuracy >= "
      "0.99). Trains on fresh random sequences, evaluates every --eval-every steps on a "
      "held-out set, stops once solved or at --time-limit, then tests on fresh sequences; the "
      "last line printed is a JSON object.");
  command->add_option("task", options->task, "adding or temporal_order")
      ->required()
      ->check(CLI::IsMember({"adding", "temporal_order"}));
  auto* cell = command
                   ->add_option("--cell", options->cell,
                                "lstm, peephole, cifg (coupled input and forget gates), layer_norm "
                                "(layer-normalised LSTM), gru, gru_reset_before (reset gate before the "
                                "product) or rnn_tanh")
                   ->check(CLI::IsMember(lstm::apps::experiment_cells()));
  command
      ->add_flag("--compare", options->compare,
                 "Run every cell (lstm, peephole, cifg, layer_norm, gru, gru_reset_before, rnn_tanh) on "
                 "the same data and seed, one after the other, each with the full --time-limit, and "
                 "print a table")
      ->excludes(cell);
  command
      ->add_flag("--layer-norm", run.layer_norm,
                 "Layer-normalise the cell: with --cell lstm (as --cell layer_norm) or cifg (layer "
                 "norm with coupled gates)")
      ->excludes("--compare");
  command
      ->add_option("--seq-len", run.seq_len, "Sequence length T (adding >= 2, temporal_order >= 4)")
      ->check(CLI::Range(int64_t{2}, int64_t{1000000}));
  command
      ->add_option("--time-limit", run.time_limit_seconds,
                   "Seconds of training per cell before giving up (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--seed", run.seed, "Seed of the weights and of every data stream");
  command->add_option("--hidden", run.hidden, "Hidden units")
      ->check(CLI::Range(int64_t{1}, int64_t{16384}));
  command->add_option("--batch", run.batch, "Sequences per training step")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}));
  command->add_option("--lr", run.lr, "Adam's learning rate (constant)")
      ->check(CLI::PositiveNumber);
  command->add_option("--clip", run.clip_norm, "Gradient norm clipping before each step (0: off)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--layers", run.layers, "Stacked layers of the cell")
      ->check(CLI::Range(int64_t{1}, int64_t{16}));
  command->add_flag("--residual", run.residual,
                    "Residual connections between the layers (needs --layers 2 or more)");
  command->add_flag("--highway", run.highway,
                    "Highway gates between the layers (needs --layers 2 or more; not with --residual)");
  command->add_option("--zoneout", run.zoneout,
                      "Zoneout probability for every cell's h (and c): training only")
      ->check(CLI::Range(0.0, 0.99));
  command->add_option("--forget-bias", options->forget_bias,
                      "LSTM, peephole and cifg: the forget gate's initial bias. chrono: log(U(1, T-1)) "
                      "per unit and the input gate's its negative (Tallec & Ollivier 2018); a "
                      "number: that bias for every unit");
  command->add_option("--eval-every", run.eval_every, "Training steps between evaluations")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000000}));
  command->add_option("--eval-size", run.eval_size, "Held-out sequences per evaluation")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  command->add_option("--test-size", run.test_size, "Fresh sequences for the final test")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  command
      ->add_option("--max-sequences", run.max_sequences,
                   "Stop training after this many sequences (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--report", options->report,
                      "Write a self-contained HTML report (learning curves, results table)");
  command->add_option("--save", options->save,
                      "Write the trained model (safetensors; metadata 'experiment' says which)");
  command->add_flag("--quiet", options->quiet, "Print only the final JSON line");
  add_compute_options(*command, global);
  command->callback([options, &global] { run_experiment_command(*options, global); });
}

}  // namespace lstm_cli
