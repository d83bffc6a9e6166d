// Internals of the HTML report: escaping, axis ticks, colour maps and the SVG drawing of each
// chart. Not part of the public API; declared here so that the tests can check them by hand.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "apps/report.hpp"

namespace lstm::report::detail {

// Text for HTML and SVG: & < > " ' replaced by entities; a byte that is not valid UTF-8 and
// a control character other than tab, newline and carriage return become U+FFFD.
std::string escape(std::string_view text);
// A label whose invisible characters are made visible (before escaping): a label that is one
// space becomes "␣", a newline "↵", a tab "⇥", any other control character "·".
std::string visible_label(std::string_view label);
// A coordinate or size for an SVG attribute: always finite, one decimal ("12.5", "-3", "0").
std::string number(double value);

// An axis: its drawn range [low, high] and the values that get a tick and a label.
struct Axis {
  double low = 0.0, high = 1.0;
  std::vector<double> ticks;
  bool log = false;  // ticks are powers of ten; positions go by log10
};
// A linear axis covering [low, high] with about `target` ticks at multiples of 1, 2 or 5 times a
// power of ten; the range is widened outward to whole steps. A single value gets a range around it.
Axis linear_axis(double low, double high, int target = 6);
// A log axis from the power of ten at or below `low` to the one at or above `high` (both > 0),
// a tick at every power of ten (every 2nd, 3rd, ... when there are many).
Axis log_axis(double low, double high);
// The position of `value` along the axis as a fraction of its length, 0 at low and 1 at high.
double axis_fraction(const Axis& axis, double value);
// A tick's label: as few digits as the step between ticks needs ("0.2", "15", "1.5e+06").
std::string tick_label(double value, double step);

struct Rgb {
  int red = 0, green = 0, blue = 0;
};
std::string hex(Rgb colour);  // "#rrggbb"
// The colour of `value` on a heatmap's scale [low, high]: a diverging map runs blue–white–red
// with white at 0 (the scale is the symmetric max(|low|, |high|)), otherwise viridis from low to
// high. Values outside the scale are clamped; callers draw non-finite values themselves.
Rgb heat_colour(double value, double low, double high, bool diverging);
// The colour of line `index` in a colour-blind-friendly palette (Okabe–Ito), cycling.
std::string line_colour(size_t index);

// One <svg> element each; an empty chart shows "no data".
std::string line_chart_svg(const LineChart& chart);
std::string heatmap_svg(const Heatmap& heatmap);

// The most rows, columns and cells a heatmap draws (a chart is about 800 pixels wide and 360
// high); beyond them neighbouring values are averaged, columns first.
constexpr int64_t kMaxHeatmapRows = 180;
constexpr int64_t kMaxHeatmapColumns = 1000;
constexpr int64_t kMaxHeatmapCells = 80000;

// Appends every part to out (std::string or const char*).
template <typename... Parts>
void append(std::string& out, const Parts&... parts) {
  (out.append(parts), ...);
}

// Shared drawing pieces.
constexpr double kChartWidth = 960.0;
constexpr double kFontSize = 12.0;
// Approximate width of `text` drawn at `font_size` (for layout: labels that would overlap are
// thinned).
double text_width(std::string_view text, double font_size);
// <text> at (x, y) with the given anchor ("start", "middle", "end") and extra attributes.
std::string svg_text(double x, double y, const std::string& anchor, std::string_view text,
                     const std::string& extra = "");
// The opening tag of a chart's <svg> of the given height, scaled to the page width.
std::string svg_open(double height, const std::string& title);
// A straight line styled by a CSS class of the page ("grid", "minor", "axis").
std::string svg_line(const char* css_class, double x1, double y1, double x2, double y2);
// A plot's area, in SVG units.
struct Box {
  double left = 0.0, top = 0.0, width = 0.0, height = 0.0;
};
std::string svg_frame(const Box& plot);  // the plot's border
// The x title centred under the plot at `x_baseline`, the y title turned upright at its left.
std::string axis_titles(const std::string& x_label, const std::string& y_label, const Box& plot,
                        double x_baseline);

}  // namespace lstm::report::detail
