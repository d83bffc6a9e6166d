// The long-lag experiments' HTML report: learning curves of every cell with the baseline and the
// solved threshold, and the results table.
#include <algorithm>
#include <cmath>
#include <string>

#include "apps/experiment.hpp"

namespace lstm::apps {
namespace {

// A horizontal dashed line at `y` across [0, x_end].
report::Line level(const std::string& name, double y, double x_end) {
  return report::Line{.name = name, .x = {0.0, x_end}, .y = {y, y}, .dashed = true};
}

// The x axes of the curves: sequences seen, or seconds of training.
enum class Axis { sequences, seconds };

double x_of(const HistoryPoint& point, Axis axis) {
  return axis == Axis::sequences ? static_cast<double>(point.sequences_seen) : point.seconds;
}

// One line per result of `value(point)` against the axis.
template <typename Value>
std::vector<report::Line> curves(const std::vector<ExperimentResult>& results, Axis axis,
                                 Value value) {
  std::vector<report::Line> lines;
  for (const ExperimentResult& result : results) {
    report::Line line;
    line.name = result.cell;
    for (const HistoryPoint& point : result.history) {
      line.x.push_back(x_of(point, axis));
      line.y.push_back(value(point));
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

// The held-out loss of every cell against the axis, with the constant answer and (adding) the
// solved threshold dashed.
report::LineChart held_out_chart(ExperimentTask task, const std::vector<ExperimentResult>& results,
                                 Axis axis) {
  const bool adding = task == ExperimentTask::adding;
  report::LineChart chart{
      .title = adding ? "Held-out MSE" : "Held-out cross-entropy",
      .x_label = axis == Axis::sequences ? "sequences seen" : "seconds of training",
      .y_label = adding ? "MSE" : "cross-entropy",
      .lines = curves(results, axis, [](const HistoryPoint& p) { return p.eval.loss; }),
      .log_y = true};
  double x_end = 1.0;
  for (const ExperimentResult& result : results)
    for (const HistoryPoint& point : result.history) x_end = std::max(x_end, x_of(point, axis));
  chart.lines.push_back(
      level(adding ? "always 1 (0.167)" : "guessing (ln 4)", baseline_loss(task), x_end));
  if (adding) chart.lines.push_back(level("solved (0.01)", 0.01, x_end));
  if (axis == Axis::seconds) chart.title += " against time";
  return chart;
}

std::string describe(const ExperimentOptions& options) {
  std::string text = "Each cell: ";
  text += std::to_string(options.hidden);
  text += " hidden units, a linear head on the last step, Adam (learning rate ";
  text += report::significant(options.lr);
  text += ") on batches of ";
  text += std::to_string(options.batch);
  text += " fresh random sequences, gradient norm clipped at ";
  text += report::significant(options.clip_norm);
  if (std::isnan(options.forget_bias)) {
    text += ", LSTM forget-gate biases by chrono initialisation";
  } else {
    text += ", LSTM forget-gate bias ";
    text += report::significant(options.forget_bias);
  }
  text += ", seed ";
  text += std::to_string(options.seed);
  text += " (the same data for every cell). Evaluated every ";
  text += std::to_string(options.eval_every);
  text += " steps on ";
  text += std::to_string(options.eval_size);
  text += " held-out sequences; training stops once solved there or after ";
  text += report::significant(options.time_limit_seconds);
  text += " s, then the model is tested on ";
  text += std::to_string(options.test_size);
  text += " other fresh sequences.";
  return text;
}

}  // namespace

report::Document experiment_report(const ExperimentOptions& options,
                                   const std::vector<ExperimentResult>& results) {
  const bool adding = options.task == ExperimentTask::adding;
  std::string title = adding ? "Adding problem" : "Temporal order";
  title += ", T = ";
  title += std::to_string(options.seq_len);
  report::Document document(title);
  document.paragraph(
      adding ? "Hochreiter & Schmidhuber (1997), experiment 4 (modern form): every step holds a "
               "value in [0, 1] and a marker; one step in each half is marked; the target is the "
               "sum of the two marked values. Answering 1 always gives MSE 1/6 = 0.167; solved "
               "means test MSE < 0.01."
             : "Hochreiter & Schmidhuber (1997), experiment 6a: the order of two symbols X/Y at "
               "random positions (T/10..T/5 and T/2..6T/10) among distractors a-d, between a "
               "start symbol E and an end symbol B; 4 classes. Guessing gives accuracy 0.25 and "
               "cross-entropy ln 4 = 1.386; solved means test accuracy >= 0.99.");
  document.paragraph(describe(options));

  document.add(held_out_chart(options.task, results, Axis::sequences));
  document.add(held_out_chart(options.task, results, Axis::seconds));
  double x_end = 1.0;
  for (const ExperimentResult& result : results)
    x_end = std::max(x_end, static_cast<double>(result.sequences_seen));
  if (!adding) {
    report::LineChart errors{
        .title = "Held-out error rate",
        .x_label = "sequences seen",
        .y_label = "1 − accuracy",
        .lines = curves(results, Axis::sequences,
                        [](const HistoryPoint& p) { return 1.0 - p.eval.accuracy; }),
        .log_y = true};
    errors.lines.push_back(level("guessing (0.75)", 0.75, x_end));
    errors.lines.push_back(level("solved (0.01)", 0.01, x_end));
    document.add(errors);
  }
  report::LineChart training{
      .title = "Training loss (mean over the steps between evaluations)",
      .x_label = "sequences seen",
      .y_label = adding ? "MSE" : "cross-entropy",
      .lines = curves(results, Axis::sequences, [](const HistoryPoint& p) { return p.train_loss; }),
      .log_y = true};
  training.lines.push_back(
      level(adding ? "always 1 (0.167)" : "guessing (ln 4)", baseline_loss(options.task), x_end));
  document.add(training);

  report::Table table{.title = "Results",
                      .header = {"cell", "solved", adding ? "test MSE" : "test accuracy",
                                 adding ? "best held-out MSE" : "test cross-entropy",
                                 "sequences seen", "steps", "seconds", "stopped"},
                      .rows = {}};
  for (const ExperimentResult& result : results) {
    double best = std::numeric_limits<double>::infinity();
    for (const HistoryPoint& point : result.history) best = std::min(best, point.eval.loss);
    table.rows.push_back({result.cell, result.solved ? "yes" : "no",
                          adding ? report::fixed(result.test.loss, 5) : report::fixed(result.test.accuracy, 4),
                          adding ? report::fixed(best, 5) : report::fixed(result.test.loss, 4),
                          std::to_string(result.sequences_seen), std::to_string(result.steps),
                          report::fixed(result.seconds, 1), std::string(stop_name(result.stop))});
  }
  document.add(table);
  return document;
}

}  // namespace lstm::apps
