// Inspection reports: the gradient-by-distance chart, and heatmaps of gates and states over time.
#include <cmath>

#include "apps/inspect.hpp"

namespace lstm::apps {
namespace {

std::string gate_title(const std::string& name) {
  if (name == "i") return "i: input gate";
  if (name == "f") return "f: forget gate";
  if (name == "g") return "g: candidate cell state";
  if (name == "o") return "o: output gate";
  if (name == "r") return "r: reset gate";
  if (name == "z") return "z: update gate";
  if (name == "n") return "n: candidate state";
  if (name == "c") return "c: cell state";
  return "h: hidden state";
}

}  // namespace

report::Document gradient_report(const std::vector<LabelledCurve>& curves, int64_t seq_len,
                                 int64_t batch, uint64_t seed) {
  std::string title = "Gradient by distance, T = ";
  title += std::to_string(seq_len);
  report::Document document(title);
  std::string text = "L = Σ_b ⟨u, h_T−1,b⟩ on the top layer's last state, u a random unit vector; ";
  text += "‖∂L/∂h_t‖ at distance T−1−t, averaged over a batch of " + std::to_string(batch);
  text += " sequences (seed " + std::to_string(seed) + "). Untrained networks use PyTorch's ";
  text += "initialisation U(±1/√H); trained networks are dashed.";
  document.paragraph(text);

  report::LineChart chart{.title = "‖∂L/∂h_t‖ by distance",
                          .x_label = "distance T−1−t (steps)",
                          .y_label = "‖∂L/∂h_t‖",
                          .lines = {},
                          .log_y = true};
  report::Table table{.title = "‖∂L/∂h_t‖ by distance", .header = {"distance"}, .rows = {}};
  for (const LabelledCurve& labelled : curves) {
    report::Line line{.name = labelled.name, .x = {}, .y = {}, .dashed = labelled.trained};
    for (size_t k = 0; k < labelled.curve.distance.size(); ++k) {
      line.x.push_back(static_cast<double>(labelled.curve.distance[k]));
      line.y.push_back(labelled.curve.grad_norm[k]);
    }
    chart.lines.push_back(std::move(line));
    table.header.push_back(labelled.name);
  }
  document.add(chart);
  if (!curves.empty())
    for (size_t k = 0; k < curves.front().curve.distance.size(); ++k) {
      std::vector<std::string> row{std::to_string(curves.front().curve.distance[k])};
      for (const LabelledCurve& labelled : curves)
        row.push_back(report::significant(labelled.curve.grad_norm[k], 3));
      table.rows.push_back(std::move(row));
    }
  document.add(table);
  return document;
}

report::Document gate_report(const GateTrace& trace, const std::string& title) {
  report::Document document(title);
  add_gate_sections(document, trace);
  return document;
}

void add_gate_sections(report::Document& document, const GateTrace& trace) {
  std::string text = std::string(cell_name(trace.cell)) + ", layer " + std::to_string(trace.layer);
  text += ", " + std::to_string(trace.steps) + " steps. Each map shows the units (rows) over time ";
  text += "(columns); gates are activated values, c and h the states after each step.";
  document.paragraph(text);
  const std::vector<GateSummary> summary = summarize_gates(trace);
  report::Table table{.title = "Summary", .header = {"tensor", "mean", "saturated"}, .rows = {}};
  for (const GateSummary& line : summary)
    table.rows.push_back(
        {line.name, report::significant(line.mean, 3),
         std::isnan(line.saturated) ? std::string() : report::significant(line.saturated, 3)});
  document.add(table);

  for (const auto& [name, tensor] : trace.tensors) {
    const int64_t steps = tensor.shape[0], units = tensor.shape[1];
    report::Heatmap map;
    map.title = gate_title(name);
    map.x_label = "step";
    map.y_label = "unit";
    map.rows = units;
    map.columns = steps;
    map.values.resize(static_cast<size_t>(units * steps));  // [units, T] from [T, units]
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t u = 0; u < units; ++u)
        map.values[static_cast<size_t>(u * steps + t)] =
            tensor.data[static_cast<size_t>(t * units + u)];
    map.column_labels = trace.labels;
    const bool sigmoid_gate =
        name == "i" || name == "f" || name == "o" || name == "r" || name == "z";
    if (sigmoid_gate) {
      map.min = 0.0;
      map.max = 1.0;
    } else {
      map.diverging = true;
      if (name != "c") {  // tanh values: a fixed scale; c is unbounded, so its own range
        map.min = -1.0;
        map.max = 1.0;
      }
    }
    document.add(map);
  }
}

}  // namespace lstm::apps
