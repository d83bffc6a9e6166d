// Heatmaps for the HTML report: one cell per value (neighbours averaged beyond a size limit),
// row labels, column labels under the time axis (e.g. the characters of a text) and a colour bar.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "apps/report_svg.hpp"
#include "lstm/error.hpp"

namespace lstm::report::detail {
namespace {

constexpr double kColourBarWidth = 14.0, kRightMargin = 96.0, kTop = 10.0;
constexpr double kTargetPlotHeight = 360.0, kMaxRowHeight = 22.0;
constexpr const char* kMissingColour = "#c8c8c8";

Rgb mix(Rgb from, Rgb to, double fraction) {
  const auto channel = [&](int a, int b) {
    return static_cast<int>(std::lround(a + (b - a) * fraction));
  };
  return {channel(from.red, to.red), channel(from.green, to.green), channel(from.blue, to.blue)};
}

// The values drawn: [rows, columns] after averaging bins of `row_bin` x `column_bin` values.
struct Grid {
  int64_t rows = 0, columns = 0, row_bin = 1, column_bin = 1;
  std::vector<double> values;  // [rows, columns]; NaN where a bin has no finite value
};

Grid binned(const Heatmap& heatmap) {
  Grid grid;
  if (heatmap.rows == 0 || heatmap.columns == 0) return grid;
  const auto bins = [](int64_t count, int64_t most) { return (count + most - 1) / most; };
  grid.row_bin = bins(heatmap.rows, kMaxHeatmapRows);
  grid.rows = bins(heatmap.rows, grid.row_bin);
  const int64_t max_columns = std::min(kMaxHeatmapColumns, kMaxHeatmapCells / grid.rows);
  grid.column_bin = bins(heatmap.columns, max_columns);
  grid.columns = bins(heatmap.columns, grid.column_bin);
  grid.values.assign(static_cast<size_t>(grid.rows * grid.columns), 0.0);
  std::vector<int64_t> counts(grid.values.size(), 0);  // [rows, columns] finite values per bin
  for (int64_t r = 0; r < heatmap.rows; ++r)
    for (int64_t c = 0; c < heatmap.columns; ++c) {
      const double value = heatmap.values[static_cast<size_t>(r * heatmap.columns + c)];
      if (!std::isfinite(value)) continue;
      const auto cell = static_cast<size_t>(r / grid.row_bin * grid.columns + c / grid.column_bin);
      grid.values[cell] += value;
      ++counts[cell];
    }
  for (size_t k = 0; k < grid.values.size(); ++k)
    grid.values[k] = counts[k] > 0 ? grid.values[k] / static_cast<double>(counts[k])
                                   : std::numeric_limits<double>::quiet_NaN();
  return grid;
}

void check_shape(const Heatmap& heatmap) {
  std::string problem;
  const auto count = [](size_t n) { return std::to_string(n); };
  if (heatmap.rows < 0 || heatmap.columns < 0) {
    problem = "negative rows or columns";
  } else if (heatmap.columns > 0 &&
             heatmap.rows > std::numeric_limits<int64_t>::max() / heatmap.columns) {
    problem = "too many rows and columns";
  } else if (heatmap.values.size() != static_cast<size_t>(heatmap.rows * heatmap.columns)) {
    append(problem, count(heatmap.values.size()), " values for ", std::to_string(heatmap.rows),
           " rows x ", std::to_string(heatmap.columns), " columns");
  } else if (!heatmap.row_labels.empty() &&
             heatmap.row_labels.size() != static_cast<size_t>(heatmap.rows)) {
    append(problem, count(heatmap.row_labels.size()), " row labels for ",
           std::to_string(heatmap.rows), " rows");
  } else if (!heatmap.column_labels.empty() &&
             heatmap.column_labels.size() != static_cast<size_t>(heatmap.columns)) {
    append(problem, count(heatmap.column_labels.size()), " column labels for ",
           std::to_string(heatmap.columns), " columns");
  }
  if (problem.empty()) return;
  std::string message = "report heatmap '";
  append(message, heatmap.title, "': ", problem);
  throw Error(message);
}

// A colour bar value: four significant digits.
std::string scale_label(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value == 0.0 ? 0.0 : value);
  return text;
}

// The label of a row: its own (made visible) or its number.
std::string row_label(const Heatmap& heatmap, int64_t row) {
  if (heatmap.row_labels.empty()) return std::to_string(row);
  return visible_label(heatmap.row_labels[static_cast<size_t>(row)]);
}

// Labels every 1, 2, 5, 10, 20, ... items, so that neighbours are at least their size apart.
int64_t label_stride(double spacing, double label_size) {
  const double needed = (label_size + 4.0) / spacing;
  for (int64_t stride = 1;; stride *= 10)
    for (int64_t multiple : {1, 2, 5})
      if (multiple * stride >= needed || stride > (int64_t{1} << 40)) return multiple * stride;
}

// The colour scale: the given limits or the data's range, symmetric around 0 if diverging.
struct Scale {
  double low = 0.0, high = 0.0;
  bool empty = true;  // no finite value to draw
};

Scale colour_scale(const Heatmap& heatmap) {
  double data_low = INFINITY, data_high = -INFINITY;
  for (double value : heatmap.values)
    if (std::isfinite(value)) {
      data_low = std::min(data_low, value);
      data_high = std::max(data_high, value);
    }
  Scale scale;
  scale.low = std::isfinite(heatmap.min) ? heatmap.min : data_low;
  scale.high = std::isfinite(heatmap.max) ? heatmap.max : data_high;
  if (scale.low > scale.high) std::swap(scale.low, scale.high);
  if (heatmap.diverging) {
    scale.high = std::max(std::abs(scale.low), std::abs(scale.high));
    scale.low = -scale.high;
  }
  scale.empty = !(data_low <= data_high) || !std::isfinite(scale.low) || !std::isfinite(scale.high);
  return scale;
}

// Where things go, in SVG units: [y label][row labels][cells][colour bar and its labels] across,
// [cells][column labels][x label] down.
struct Layout {
  double left = 0.0, plot_width = 0.0, plot_height = 0.0, row_height = 0.0, column_width = 0.0;
  double bar_height = 0.0, label_font = kFontSize, labels_y = 0.0, height = 0.0;
};

// A grid column's label: the label of the first column in its bin, made visible.
std::string column_label(const Heatmap& heatmap, const Grid& grid, int64_t column) {
  return visible_label(heatmap.column_labels[static_cast<size_t>(column * grid.column_bin)]);
}

Layout heatmap_layout(const Heatmap& heatmap, const Grid& grid, bool empty) {
  Layout layout;
  double row_label_width = 0.0;
  for (int64_t r = 0; r < grid.rows; ++r)
    row_label_width =
        std::max(row_label_width, text_width(row_label(heatmap, r * grid.row_bin), kFontSize));
  layout.left =
      (heatmap.y_label.empty() ? 6.0 : 26.0) + std::clamp(row_label_width + 8, 24.0, 220.0);
  layout.plot_width = kChartWidth - layout.left - kRightMargin;
  layout.row_height = empty ? 0.0 : std::clamp(kTargetPlotHeight / grid.rows, 0.5, kMaxRowHeight);
  layout.plot_height = empty ? kTargetPlotHeight / 4 : layout.row_height * grid.rows;
  layout.column_width = empty ? 0.0 : layout.plot_width / grid.columns;
  layout.bar_height = std::max(layout.plot_height, 80.0);
  if (!heatmap.column_labels.empty())  // as large as the columns allow, 8 to 12 px
    layout.label_font = std::clamp(layout.column_width * 1.2, 8.0, kFontSize);
  layout.labels_y = kTop + layout.bar_height + layout.label_font + 6;
  layout.height = layout.labels_y + (heatmap.x_label.empty() ? 10.0 : 30.0);
  return layout;
}

// Edges rounded as number() writes them, so that neighbouring rectangles meet without seams.
double edge(double position) {
  return std::round(position * 10.0) / 10.0;
}

std::string rect(double x, double y, double x_end, double y_end, const std::string& fill) {
  std::string out = "<rect x=\"";
  append(out, number(edge(x)), "\" y=\"", number(edge(y)), "\" width=\"",
         number(edge(x_end) - edge(x)), "\" height=\"", number(edge(y_end) - edge(y)), "\" fill=\"",
         fill, "\"/>");
  return out;
}

// The cells, one rectangle per run of equal colours along a row.
std::string cells_svg(const Grid& grid, const Scale& scale, bool diverging, const Layout& layout) {
  const auto colour = [&](int64_t r, int64_t c) {
    const double value = grid.values[static_cast<size_t>(r * grid.columns + c)];
    return std::isnan(value) ? std::string(kMissingColour)
                             : hex(heat_colour(value, scale.low, scale.high, diverging));
  };
  std::string out = "<g shape-rendering=\"crispEdges\">";
  for (int64_t r = 0; r < grid.rows; ++r) {
    const double y = kTop + r * layout.row_height;
    for (int64_t c = 0, end = 0; c < grid.columns; c = end) {
      const std::string fill = colour(r, c);
      for (end = c + 1; end < grid.columns && colour(r, end) == fill;) ++end;
      out += rect(layout.left + c * layout.column_width, y, layout.left + end * layout.column_width,
                  y + layout.row_height, fill);
    }
  }
  out += "</g>";
  return out;
}

// Row labels beside the cells, thinned so that they do not overlap.
std::string row_labels_svg(const Heatmap& heatmap, const Grid& grid, const Layout& layout) {
  const double font = std::clamp(layout.row_height, 8.0, kFontSize);
  std::string size = "font-size=\"";
  append(size, number(font), "\"");
  std::string out;
  for (int64_t r = 0; r < grid.rows; r += label_stride(layout.row_height, font)) {
    out += svg_text(layout.left - 5, kTop + (r + 0.5) * layout.row_height + font * 0.35, "end",
                    row_label(heatmap, r * grid.row_bin), size);
  }
  return out;
}

// Under the time axis: the given column labels (e.g. a text's characters), thinned so that
// they do not overlap, or the time steps at round numbers.
std::string time_labels_svg(const Heatmap& heatmap, const Grid& grid, const Layout& layout) {
  std::string out;
  const double bottom = kTop + layout.plot_height;
  if (!heatmap.column_labels.empty()) {
    double widest = 0.0;
    for (int64_t c = 0; c < grid.columns; ++c)
      widest = std::max(widest, text_width(column_label(heatmap, grid, c), layout.label_font));
    std::string size = "font-size=\"";
    append(size, number(layout.label_font), "\"");
    for (int64_t c = 0; c < grid.columns; c += label_stride(layout.column_width, widest)) {
      out += svg_text(layout.left + (c + 0.5) * layout.column_width, layout.labels_y, "middle",
                      column_label(heatmap, grid, c), size);
    }
    return out;
  }
  const auto last = static_cast<double>(heatmap.columns - 1);
  for (double step : linear_axis(0.0, last, 8).ticks) {
    if (step < 0.0 || step > last || step != std::floor(step)) continue;
    const double x = layout.left + (step + 0.5) / heatmap.columns * layout.plot_width;
    out += svg_line("axis", x, bottom, x, bottom + 4);
    out += svg_text(x, layout.labels_y, "middle", tick_label(step, 1.0));
  }
  return out;
}

// The colour bar right of the cells: high at the top, low at the bottom, 0 marked if diverging.
std::string colour_bar_svg(const Scale& scale, bool diverging, const Layout& layout) {
  constexpr int kSteps = 64;
  const double x = layout.left + layout.plot_width + 12;
  std::string out = "<g shape-rendering=\"crispEdges\">";
  for (int k = 0; k < kSteps; ++k) {
    const double value = scale.high - (scale.high - scale.low) * (k + 0.5) / kSteps;
    out += rect(x, kTop + layout.bar_height * k / kSteps, x + kColourBarWidth,
                kTop + layout.bar_height * (k + 1) / kSteps,
                hex(heat_colour(value, scale.low, scale.high, diverging)));
  }
  out += "</g>";
  const double label_x = x + kColourBarWidth + 5;
  out += svg_text(label_x, kTop + 10, "start", scale_label(scale.high));
  out += svg_text(label_x, kTop + layout.bar_height, "start", scale_label(scale.low));
  if (diverging) out += svg_text(label_x, kTop + layout.bar_height / 2 + 4, "start", "0");
  return out;
}

}  // namespace

std::string hex(Rgb colour) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", std::clamp(colour.red, 0, 255),
                std::clamp(colour.green, 0, 255), std::clamp(colour.blue, 0, 255));
  return text;
}

Rgb heat_colour(double value, double low, double high, bool diverging) {
  if (diverging) {
    // RdBu end points (ColorBrewer) with pure white at 0.
    const Rgb blue{33, 102, 172}, white{255, 255, 255}, red{178, 24, 43};
    const double scale = std::max(std::abs(low), std::abs(high));
    if (!(scale > 0.0) || !std::isfinite(scale) || !std::isfinite(value)) return white;
    const double t = std::clamp(value / scale, -1.0, 1.0);
    return t < 0.0 ? mix(white, blue, -t) : mix(white, red, t);
  }
  // Viridis at 0, 1/4, 1/2, 3/4 and 1, linearly between.
  static const Rgb stops[] = {
      {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  double t = high > low ? (value - low) / (high - low) : 0.5;
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.5;
  const int segment = std::min(3, static_cast<int>(t * 4.0));
  return mix(stops[segment], stops[segment + 1], t * 4.0 - segment);
}

std::string heatmap_svg(const Heatmap& heatmap) {
  check_shape(heatmap);
  const Grid grid = binned(heatmap);
  const Scale scale = colour_scale(heatmap);
  const Layout layout = heatmap_layout(heatmap, grid, scale.empty);

  std::string out = svg_open(layout.height, heatmap.title);
  if (scale.empty) {
    out += svg_text(layout.left + layout.plot_width / 2, kTop + layout.plot_height / 2 + 6,
                    "middle", "no data", "class=\"empty\"");
  } else {
    out += cells_svg(grid, scale, heatmap.diverging, layout);
    out += row_labels_svg(heatmap, grid, layout);
    out += time_labels_svg(heatmap, grid, layout);
    out += colour_bar_svg(scale, heatmap.diverging, layout);
  }
  const Box plot{layout.left, kTop, layout.plot_width, layout.plot_height};
  out += svg_frame(plot);
  out += axis_titles(heatmap.x_label, heatmap.y_label, plot, layout.height - 8);
  out += "</svg>";
  return out;
}

}  // namespace lstm::report::detail
