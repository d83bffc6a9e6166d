// Line charts for the HTML report: nice axis ticks (1-2-5 steps, decades on log axes), grid,
// labels, a legend and one path per line with gaps where values are missing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "apps/report_svg.hpp"
#include "lstm/error.hpp"

namespace lstm::report::detail {
namespace {

// Beyond this magnitude the arithmetic of ranges could overflow; such values are clamped.
constexpr double kLargest = 1e300;

// Plot area inside the chart, in SVG units.
constexpr double kLeft = 74.0, kRight = 20.0, kPlotHeight = 300.0, kBottom = 52.0;
constexpr double kLegendRow = 20.0;

struct Point {
  double x, y;
};

// The drawable points of a line in order; a run ends where a point is missing (NaN x or y).
std::vector<Point> line_points(const LineChart& chart, const Line& line) {
  if (!line.x.empty() && line.x.size() != line.y.size()) {
    std::string message = "report chart '";
    append(message, chart.title, "': line '", line.name, "' has ", std::to_string(line.x.size()),
           " x values and ", std::to_string(line.y.size()), " y values");
    throw Error(message);
  }
  const double missing = std::numeric_limits<double>::quiet_NaN();
  std::vector<Point> points(line.y.size());
  for (size_t k = 0; k < points.size(); ++k) {
    const double x = line.x.empty() ? static_cast<double>(k) : line.x[k];
    const double y = line.y[k];
    const bool drawable = std::isfinite(x) && std::isfinite(y) && (!chart.log_y || y > 0.0);
    points[k] = drawable
                    ? Point{std::clamp(x, -kLargest, kLargest), std::clamp(y, -kLargest, kLargest)}
                    : Point{missing, missing};
  }
  return points;
}

std::string line_path(const std::vector<Point>& points, const std::string& colour, bool dashed,
                      const auto& to_pixel) {
  std::string path, dots;
  for (size_t k = 0; k < points.size(); ++k) {
    if (std::isnan(points[k].x)) continue;
    const Point pixel = to_pixel(points[k]);
    const bool starts_run = k == 0 || std::isnan(points[k - 1].x);
    const bool ends_run = k + 1 == points.size() || std::isnan(points[k + 1].x);
    append(path, starts_run ? "M" : "L", number(pixel.x), " ", number(pixel.y));
    if (starts_run &&
        ends_run) {  // an isolated point: a dot, since a path of one point is invisible
      append(dots, "<circle cx=\"", number(pixel.x), "\" cy=\"", number(pixel.y),
             "\" r=\"2.5\" fill=\"", colour, "\"/>");
    }
  }
  if (path.empty()) return "";
  std::string out = "<path fill=\"none\" stroke=\"";
  append(out, colour, "\" stroke-width=\"1.8\" stroke-linejoin=\"round\"");
  if (dashed) out += " stroke-dasharray=\"6 4\"";
  append(out, " d=\"", path, "\"/>", dots);
  return out;
}

// A log tick label: 10 with a superscript exponent, or plainly ("0.01", "1000") when every
// tick of the axis lies in 0.001 .. 10000.
std::string log_tick_text(double value, bool plain, double x, double y) {
  if (plain) return svg_text(x, y, "end", tick_label(value, value));
  const int exponent = static_cast<int>(std::lround(std::log10(value)));
  std::string out = "<text x=\"";
  append(out, number(x), "\" y=\"", number(y), "\" text-anchor=\"end\">10<tspan dy=\"-6\" ",
         "font-size=\"9\">", exponent < 0 ? "\u2212" : "", std::to_string(std::abs(exponent)),
         "</tspan></text>");
  return out;
}

// Legend entries packed into rows across the top; returns the SVG and the height used.
std::string legend(const LineChart& chart, double& height) {
  std::string out;
  double x = kLeft, y = 14.0;
  height = 0.0;
  for (size_t k = 0; k < chart.lines.size(); ++k) {
    const Line& line = chart.lines[k];
    if (line.name.empty()) continue;
    const double width = 34.0 + text_width(line.name, kFontSize) + 18.0;
    if (x + width > kChartWidth - kRight && x > kLeft) {
      x = kLeft;
      y += kLegendRow;
    }
    append(out, "<line x1=\"", number(x), "\" y1=\"", number(y - 4), "\" x2=\"", number(x + 26),
           "\" y2=\"", number(y - 4), "\" stroke=\"", line_colour(k), "\" stroke-width=\"2.5\"",
           line.dashed ? " stroke-dasharray=\"6 4\"" : "", "/>");
    out += svg_text(x + 32, y, "start", line.name);
    x += width;
    height = y + 8.0;
  }
  return out;
}

// Grid lines, ticks and tick labels of both axes (and minor lines between few decades).
std::string grid_svg(const Axis& x_axis, const Axis& y_axis, const Box& plot) {
  std::string out;
  const double right = plot.left + plot.width, bottom = plot.top + plot.height;
  const auto pixel_y = [&](double y) { return bottom - axis_fraction(y_axis, y) * plot.height; };
  const bool decades =
      y_axis.log && y_axis.ticks.size() > 1 && y_axis.ticks[1] == 10.0 * y_axis.ticks[0];
  if (decades && y_axis.ticks.size() <= 9) {
    for (size_t k = 0; k + 1 < y_axis.ticks.size(); ++k)
      for (int multiple = 2; multiple <= 9; ++multiple) {
        const double y = pixel_y(multiple * y_axis.ticks[k]);
        out += svg_line("minor", plot.left, y, right, y);
      }
  }
  const auto step = [](const Axis& axis) {
    return axis.ticks.size() > 1 ? axis.ticks[1] - axis.ticks[0] : 1.0;
  };
  const bool plain_decades = y_axis.ticks.front() >= 1e-3 && y_axis.ticks.back() <= 1e4;
  for (double tick : y_axis.ticks) {
    const double y = pixel_y(tick);
    out += svg_line("grid", plot.left, y, right, y);
    out += y_axis.log ? log_tick_text(tick, plain_decades, plot.left - 6, y + 4)
                      : svg_text(plot.left - 6, y + 4, "end", tick_label(tick, step(y_axis)));
  }
  for (double tick : x_axis.ticks) {
    const double x = plot.left + axis_fraction(x_axis, tick) * plot.width;
    out += svg_line("grid", x, plot.top, x, bottom + 4);
    out += svg_text(x, bottom + 18, "middle", tick_label(tick, step(x_axis)));
  }
  return out;
}

}  // namespace

Axis linear_axis(double low, double high, int target) {
  low = std::clamp(low, -kLargest, kLargest);
  high = std::clamp(high, -kLargest, kLargest);
  if (low > high) std::swap(low, high);
  const double span = high - low;
  if (!(span > 1e-12 * std::max(std::abs(low), std::abs(high))) || span < 1e-250) {
    const double pad = low == 0.0 ? 1.0 : 0.1 * std::abs(low);
    low -= pad;
    high += pad;
  }
  const double raw_step = (high - low) / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  double step = 10.0 * magnitude;
  for (double multiple : {1.0, 2.0, 5.0}) {
    if (multiple * magnitude >= raw_step * (1.0 - 1e-9)) {
      step = multiple * magnitude;
      break;
    }
  }
  const double first = std::floor(low / step + 1e-9), last = std::ceil(high / step - 1e-9);
  Axis axis;
  axis.low = first * step;
  axis.high = last * step;
  for (double k = first; k <= last; ++k) axis.ticks.push_back(k == 0.0 ? 0.0 : k * step);
  return axis;
}

Axis log_axis(double low, double high) {
  low = std::clamp(low, 1e-300, kLargest);
  high = std::clamp(high, 1e-300, kLargest);
  if (low > high) std::swap(low, high);
  const int first = static_cast<int>(std::floor(std::log10(low) + 1e-9));
  int last = static_cast<int>(std::ceil(std::log10(high) - 1e-9));
  if (last <= first) last = first + 1;
  const int stride = (last - first + 9) / 10;  // at most about ten labelled decades
  Axis axis;
  axis.log = true;
  axis.low = std::pow(10.0, first);
  axis.high = std::pow(10.0, last);
  for (int exponent = first; exponent <= last; exponent += stride)
    axis.ticks.push_back(std::pow(10.0, exponent));
  return axis;
}

double axis_fraction(const Axis& axis, double value) {
  const double low = axis.log ? std::log10(axis.low) : axis.low;
  const double high = axis.log ? std::log10(axis.high) : axis.high;
  const double position = axis.log ? std::log10(value) : value;
  if (!(high > low) || !std::isfinite(position)) return 0.5;
  return (position - low) / (high - low);
}

std::string tick_label(double value, double step) {
  step = std::abs(step);
  if (std::abs(value) < 1e-6 * step || value == 0.0) return "0";
  const int step_exponent = static_cast<int>(std::floor(std::log10(step) + 1e-9));
  char text[64];
  if (std::abs(value) >= 1e6 || step < 1e-4) {
    const int value_exponent = static_cast<int>(std::floor(std::log10(std::abs(value))));
    const int digits = std::clamp(value_exponent - step_exponent + 1, 1, 15);
    std::snprintf(text, sizeof text, "%.*g", digits, value);
  } else {
    std::snprintf(text, sizeof text, "%.*f", std::clamp(-step_exponent, 0, 12), value);
  }
  return text;
}

std::string line_colour(size_t index) {
  // Okabe & Ito (2008): blue, vermillion, bluish green, reddish purple, orange, sky blue,
  // black, yellow.
  static const char* const palette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                        "#e69f00", "#56b4e9", "#000000", "#f0e442"};
  return palette[index % std::size(palette)];
}

std::string line_chart_svg(const LineChart& chart) {
  std::vector<std::vector<Point>> lines;  // [lines][points]
  double x_low = INFINITY, x_high = -INFINITY, y_low = INFINITY, y_high = -INFINITY;
  for (const Line& line : chart.lines) {
    lines.push_back(line_points(chart, line));
    for (const Point& point : lines.back()) {
      if (std::isnan(point.x)) continue;
      x_low = std::min(x_low, point.x);
      x_high = std::max(x_high, point.x);
      y_low = std::min(y_low, point.y);
      y_high = std::max(y_high, point.y);
    }
  }

  double legend_height = 0.0;
  const std::string legend_svg = legend(chart, legend_height);
  const Box plot{kLeft, std::max(16.0, legend_height + 12.0), kChartWidth - kLeft - kRight,
                 kPlotHeight};
  const double height = plot.top + plot.height + kBottom;

  std::string out = svg_open(height, chart.title);
  out += legend_svg;
  if (!(x_low <= x_high)) {
    out += svg_text(plot.left + plot.width / 2, plot.top + plot.height / 2, "middle", "no data",
                    "class=\"empty\"");
  } else {
    const Axis x_axis = linear_axis(x_low, x_high, 8);
    const Axis y_axis = chart.log_y ? log_axis(y_low, y_high) : linear_axis(y_low, y_high, 6);
    out += grid_svg(x_axis, y_axis, plot);
    const auto to_pixel = [&](const Point& p) {
      return Point{plot.left + axis_fraction(x_axis, p.x) * plot.width,
                   plot.top + (1.0 - axis_fraction(y_axis, p.y)) * plot.height};
    };
    for (size_t k = 0; k < lines.size(); ++k)
      out += line_path(lines[k], line_colour(k), chart.lines[k].dashed, to_pixel);
  }
  out += svg_frame(plot);
  out += axis_titles(chart.x_label, chart.y_label, plot, height - 8);
  out += "</svg>";
  return out;
}

}  // namespace lstm::report::detail
