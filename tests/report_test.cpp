// The HTML report: page structure, escaping, axis ticks and heatmap colours computed by hand,
// no NaN or Inf reaching the SVG, well-formed SVG (checked by Python's XML parser), no external
// references, and atomic saving.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "apps/report.hpp"
#include "apps/report_svg.hpp"
#include "lstm/error.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;
using namespace lstm::report;
using detail::Axis;
using test_util::TempDir;

const double nan_value = std::numeric_limits<double>::quiet_NaN();
const double inf_value = std::numeric_limits<double>::infinity();

size_t count_of(const std::string& text, const std::string& word) {
  size_t count = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++count;
  return count;
}

// Every <svg>...</svg> of a page.
std::vector<std::string> svg_fragments(const std::string& html) {
  std::vector<std::string> fragments;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) {
    const size_t end = html.find("</svg>", at);
    if (end == std::string::npos) break;
    fragments.push_back(html.substr(at, end + 6 - at));
  }
  return fragments;
}

// The values of every attribute `name="..."` in the text, in order.
std::vector<std::string> attribute_values(const std::string& text, const std::string& name) {
  std::vector<std::string> values;
  const std::string opening = " " + name + "=\"";
  for (size_t at = text.find(opening); at != std::string::npos; at = text.find(opening, at + 1)) {
    const size_t begin = at + opening.size();
    values.push_back(text.substr(begin, text.find('"', begin) - begin));
  }
  return values;
}

// The fill colours of the heatmap's cells, in drawing order (the first crisp-edged group).
std::vector<std::string> cell_fills(const std::string& svg) {
  const size_t begin = svg.find("<g shape-rendering=\"crispEdges\">");
  const size_t end = svg.find("</g>", begin);
  return attribute_values(svg.substr(begin, end - begin), "fill");
}

// "12", "-3.5": what number() writes.
bool is_plain_number(std::string_view text) {
  if (!text.empty() && text[0] == '-') text.remove_prefix(1);
  const size_t point = text.find('.');
  const auto digits = [](std::string_view part) {
    return !part.empty() &&
           std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (point == std::string_view::npos) return digits(text);
  return digits(text.substr(0, point)) && text.size() == point + 2 &&
         digits(text.substr(point + 1));
}

// "M1 2L3.5 4M5 6": moves and lines to plain numbers.
bool is_plain_path(const std::string& path) {
  size_t at = 0;
  while (at < path.size()) {
    if (path[at] != 'M' && path[at] != 'L') return false;
    const size_t space = path.find(' ', at);
    const size_t end = std::min(path.find_first_of("ML", at + 1), path.size());
    if (space == std::string::npos || space > end) return false;
    if (!is_plain_number(std::string_view(path).substr(at + 1, space - at - 1)) ||
        !is_plain_number(std::string_view(path).substr(space + 1, end - space - 1)))
      return false;
    at = end;
  }
  return !path.empty();
}

// Passes if every geometric attribute in the SVG is a plain finite number.
::testing::AssertionResult geometry_is_finite(const std::string& svg) {
  for (const char* name : {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"})
    for (const std::string& value : attribute_values(svg, name))
      if (!is_plain_number(value))
        return ::testing::AssertionFailure() << name << "=\"" << value << '"';
  for (const std::string& path : attribute_values(svg, "d"))
    if (!is_plain_path(path)) return ::testing::AssertionFailure() << "d=\"" << path << '"';
  std::string lower = svg;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("nan") != std::string::npos || lower.find("inf") != std::string::npos)
    return ::testing::AssertionFailure() << "NaN or Inf in " << svg;
  return ::testing::AssertionSuccess();
}

Heatmap one_row(std::vector<double> values) {
  Heatmap heatmap{.title = "row"};
  heatmap.rows = 1;
  heatmap.columns = static_cast<int64_t>(values.size());
  heatmap.values = std::move(values);
  return heatmap;
}

TEST(Report, PageHasDoctypeTitleAndOneSvgPerChart) {
  Document doc("Loss & <friends>");
  doc.heading("Part \"one\"");
  doc.paragraph("a < b & c");
  doc.add(LineChart{.title = "Curve", .lines = {Line{.name = "y", .y = {1, 2, 3}}}});
  doc.add(LineChart{.title = "Empty"});
  doc.add(one_row({1, 2, 3}));
  doc.add(Table{.title = "Numbers", .header = {"name", "value"}, .rows = {{"a", "0.5"}}});
  const std::string html = doc.html();

  EXPECT_EQ(html.rfind("<!DOCTYPE html>\n", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("<title>Loss &amp; &lt;friends&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<h1>Loss &amp; &lt;friends&gt;</h1>"), std::string::npos);
  EXPECT_NE(html.find("<h2>Part &quot;one&quot;</h2>"), std::string::npos);
  EXPECT_NE(html.find("<p>a &lt; b &amp; c</p>"), std::string::npos);
  EXPECT_EQ(html.find("<friends>"), std::string::npos);
  EXPECT_EQ(count_of(html, "<svg"), 3u);
  EXPECT_EQ(count_of(html, "</svg>"), 3u);
  EXPECT_EQ(count_of(html, "<table>"), 1u);
  EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
}

TEST(Report, NoExternalReferences) {
  Document doc("Self-contained");
  doc.add(LineChart{.title = "c", .lines = {Line{.name = "a", .y = {1, 2}}}});
  Heatmap heatmap = one_row({-1, 1});
  heatmap.diverging = true;
  doc.add(heatmap);
  doc.add(Table{.header = {"h"}, .rows = {{"1"}}});
  const std::string html = doc.html();
  for (const char* reference : {"http", "src=", "<script", "href", "url(", "@import"})
    EXPECT_EQ(html.find(reference), std::string::npos) << reference;
}

TEST(Report, LinearTicksAreOneTwoFiveSteps) {
  // [0.3, 9.7] in about 6 steps: 9.4 / 6 = 1.57, rounded up to 2; the range widens to [0, 10].
  Axis axis = detail::linear_axis(0.3, 9.7, 6);
  EXPECT_EQ(axis.ticks, (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(axis.low, 0.0);
  EXPECT_EQ(axis.high, 10.0);
  // [-0.37, 0.52]: 0.89 / 6 = 0.148 -> 0.2; from -0.4 to 0.6.
  axis = detail::linear_axis(-0.37, 0.52, 6);
  const std::vector<std::string> expected{"-0.4", "-0.2", "0", "0.2", "0.4", "0.6"};
  ASSERT_EQ(axis.ticks.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k)
    EXPECT_EQ(detail::tick_label(axis.ticks[k], 0.2), expected[k]);
  // [1234, 5678]: 740.7 per step -> 1000.
  axis = detail::linear_axis(1234, 5678, 6);
  EXPECT_EQ(axis.ticks, (std::vector<double>{1000, 2000, 3000, 4000, 5000, 6000}));
  // A constant gets a range around it.
  axis = detail::linear_axis(5, 5, 6);
  EXPECT_LT(axis.low, 5.0);
  EXPECT_GT(axis.high, 5.0);
  EXPECT_GE(axis.ticks.size(), 2u);
  axis = detail::linear_axis(0, 0, 6);
  EXPECT_LT(axis.low, 0.0);
  EXPECT_GT(axis.high, 0.0);
}

TEST(Report, TickLabelsUseTheDigitsTheStepNeeds) {
  EXPECT_EQ(detail::tick_label(3 * 0.2, 0.2), "0.6");  // 0.6000000000000001
  EXPECT_EQ(detail::tick_label(-1e-17, 0.2), "0");
  EXPECT_EQ(detail::tick_label(25, 5), "25");
  EXPECT_EQ(detail::tick_label(0.25, 0.05), "0.25");
  EXPECT_EQ(detail::tick_label(1500000, 500000), "1.5e+06");
  EXPECT_EQ(detail::tick_label(2e-5, 1e-5), "2e-05");
}

TEST(Report, LogTicksArePowersOfTen) {
  Axis axis = detail::log_axis(0.003, 250);
  ASSERT_EQ(axis.ticks.size(), 7u);  // 10^-3 .. 10^3
  for (size_t k = 0; k < axis.ticks.size(); ++k)
    EXPECT_DOUBLE_EQ(axis.ticks[k], std::pow(10.0, static_cast<int>(k) - 3));
  EXPECT_DOUBLE_EQ(axis.low, 1e-3);
  EXPECT_DOUBLE_EQ(axis.high, 1e3);
  // 40 decades: every 4th is labelled, still powers of ten.
  axis = detail::log_axis(1e-30, 1e10);
  EXPECT_LE(axis.ticks.size(), 11u);
  for (double tick : axis.ticks) EXPECT_NEAR(std::log10(tick), std::round(std::log10(tick)), 1e-12);
  // One value: the decade around it.
  axis = detail::log_axis(5, 5);
  EXPECT_DOUBLE_EQ(axis.low, 1.0);
  EXPECT_DOUBLE_EQ(axis.high, 10.0);

  // In a chart: the decades are the y labels, and values <= 0 are left out.
  LineChart chart{.title = "loss",
                  .lines = {Line{.name = "loss", .y = {0.002, 0.05, 0, -1, 30, 400}}},
                  .log_y = true};
  const std::string svg = detail::line_chart_svg(chart);
  for (const char* label : {">0.001<", ">0.01<", ">0.1<", ">1<", ">10<", ">100<", ">1000<"})
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  EXPECT_TRUE(geometry_is_finite(svg));
  // Beyond 0.001 .. 10000 every decade is written 10 with a superscript exponent.
  chart.lines[0].y = {1e-15, 0.5};
  const std::string wide = detail::line_chart_svg(chart);
  EXPECT_NE(wide.find(">10<tspan dy=\"-6\" font-size=\"9\">\u221215</tspan>"), std::string::npos);
  EXPECT_EQ(wide.find(">0.1<"), std::string::npos);
}

TEST(Report, NonFiniteAndEmptyInputsNeverReachTheSvg) {
  const std::vector<LineChart> charts = {
      LineChart{.title = "no lines"},
      LineChart{.title = "empty line", .lines = {Line{.name = "a"}}},
      LineChart{.title = "all missing", .lines = {Line{.name = "a", .y = {nan_value, inf_value}}}},
      LineChart{
          .title = "gaps",
          .lines = {Line{
              .name = "a", .x = {0, 1, 2, nan_value, 4}, .y = {1, nan_value, 3, 4, -inf_value}}}},
      LineChart{.title = "one point", .lines = {Line{.name = "a", .x = {3}, .y = {7}}}},
      LineChart{.title = "constant", .lines = {Line{.name = "a", .y = {2, 2, 2}}}},
      LineChart{.title = "zero", .lines = {Line{.name = "a", .y = {0, 0}}}},
      LineChart{.title = "huge", .lines = {Line{.name = "a", .y = {-1e308, 1e308}}}},
      LineChart{.title = "log, nothing positive",
                .lines = {Line{.name = "a", .y = {0, -1}}},
                .log_y = true},
  };
  for (const LineChart& chart : charts) {
    const std::string svg = detail::line_chart_svg(chart);
    EXPECT_TRUE(geometry_is_finite(svg)) << chart.title;
  }
  for (const LineChart& chart : charts) {
    const bool empty = chart.title == "no lines" || chart.title == "empty line" ||
                       chart.title == "all missing" || chart.title == "log, nothing positive";
    EXPECT_EQ(detail::line_chart_svg(chart).find(">no data<") != std::string::npos, empty)
        << chart.title;
  }
  // A gap: the line is cut into runs, and a run of one point is a dot.
  const std::string gaps = detail::line_chart_svg(charts[3]);
  EXPECT_EQ(count_of(gaps, "<circle"), 2u);  // (0, 1) and (2, 3) are each alone
  EXPECT_EQ(count_of(detail::line_chart_svg(charts[4]), "<circle"), 1u);

  std::vector<Heatmap> heatmaps = {Heatmap{.title = "empty"}, one_row({nan_value, inf_value}),
                                   one_row({nan_value, 1, -inf_value, 2}), one_row({3, 3, 3})};
  heatmaps.push_back(one_row({0, 0}));
  heatmaps.back().diverging = true;
  for (const Heatmap& heatmap : heatmaps)
    EXPECT_TRUE(geometry_is_finite(detail::heatmap_svg(heatmap))) << heatmap.title;
  EXPECT_NE(detail::heatmap_svg(heatmaps[0]).find(">no data<"), std::string::npos);
  EXPECT_NE(detail::heatmap_svg(heatmaps[1]).find(">no data<"), std::string::npos);
}

TEST(Report, DivergingHeatmapColoursAreBlueWhiteRed) {
  // Scale max(|-2|, |2|) = 2. 1 is halfway from white (255, 255, 255) to red (178, 24, 43):
  // (216.5, 139.5, 149) -> (217, 140, 149) = #d98c95. -1 halfway to blue (33, 102, 172):
  // (144, 178.5, 213.5) -> (144, 179, 214) = #90b3d6.
  Heatmap heatmap = one_row({-2, 0, 2, 1, -1});
  heatmap.diverging = true;
  EXPECT_EQ(cell_fills(detail::heatmap_svg(heatmap)),
            (std::vector<std::string>{"#2166ac", "#ffffff", "#b2182b", "#d98c95", "#90b3d6"}));
  // Given limits clamp: beyond +-1 the colour saturates, so 2 and 1 are one red rectangle.
  heatmap.min = -1;
  heatmap.max = 1;
  EXPECT_EQ(cell_fills(detail::heatmap_svg(heatmap)),
            (std::vector<std::string>{"#2166ac", "#ffffff", "#b2182b", "#2166ac"}));
}

TEST(Report, SequentialHeatmapColoursAreViridis) {
  // Range [0, 10]: 0, 2.5, 5 and 10 fall on viridis's stops at 0, 1/4, 1/2 and 1; 1.25 is halfway
  // between #440154 (68, 1, 84) and #3b528b (59, 82, 139): (63.5, 41.5, 111.5) -> (64, 42, 112).
  const Heatmap heatmap = one_row({0, 2.5, 5, 10, 1.25});
  EXPECT_EQ(cell_fills(detail::heatmap_svg(heatmap)),
            (std::vector<std::string>{"#440154", "#3b528b", "#21918c", "#fde725", "#402a70"}));
  EXPECT_EQ(detail::hex(detail::heat_colour(-5, 0, 10, false)), "#440154");  // clamped
}

TEST(Report, HeatmapDrawsACellPerValueAndMergesEqualNeighbours) {
  Heatmap heatmap{.title = "cells", .rows = 3, .columns = 5};
  for (int k = 0; k < 15; ++k) heatmap.values.push_back(k);
  const std::string svg = detail::heatmap_svg(heatmap);
  EXPECT_EQ(cell_fills(svg).size(), 15u);
  EXPECT_NE(svg.find(">0<"), std::string::npos);  // row numbers when there are no row labels
  EXPECT_NE(svg.find(">2<"), std::string::npos);
  // Equal neighbours along a row are one rectangle.
  EXPECT_EQ(cell_fills(detail::heatmap_svg(one_row({1, 1, 1, 2, 2, 1}))).size(), 3u);
  // Missing values are grey.
  EXPECT_EQ(cell_fills(detail::heatmap_svg(one_row({0, nan_value, 1})))[1], "#c8c8c8");
}

TEST(Report, WideHeatmapsAreAveragedOverColumns) {
  // 5000 columns become 1000 bins of 5; constant within a bin and alternating between bins,
  // so every bin keeps its own colour: 2 rows x 1000 cells.
  Heatmap heatmap{.title = "wide", .rows = 2, .columns = 5000};
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 5000; ++c) heatmap.values.push_back((c / 5) % 2);
  EXPECT_EQ(cell_fills(detail::heatmap_svg(heatmap)).size(), 2000u);
  // 0, 1, 0, 1, ... in bins of 2 average to 0.5 everywhere: one cell per row, viridis's middle.
  heatmap.columns = 2000;
  heatmap.values.clear();
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 2000; ++c) heatmap.values.push_back(c % 2);
  heatmap.min = 0;
  heatmap.max = 1;
  EXPECT_EQ(cell_fills(detail::heatmap_svg(heatmap)),
            (std::vector<std::string>{"#21918c", "#21918c"}));
}

TEST(Report, ColumnLabelsAreVisibleAndEscaped) {
  Heatmap heatmap = one_row({1, 2, 3, 4, 5, 6});
  heatmap.column_labels = {"<", "&", " ", "\n", "a", "\t"};
  heatmap.row_labels = {"gate \"i\""};
  const std::string svg = detail::heatmap_svg(heatmap);
  for (const char* label :
       {">&lt;<", ">&amp;<", ">\u2423<", ">\u21b5<", ">a<", ">\u21e5<", ">gate &quot;i&quot;<"})
    EXPECT_NE(svg.find(label), std::string::npos) << label;
}

TEST(Report, EscapingKeepsUtf8ValidAndControlCharactersOut) {
  EXPECT_EQ(detail::escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(detail::escape("caf\u00e9 \u21b5"), "caf\u00e9 \u21b5");  // valid UTF-8 unchanged
  // A lone lead byte (a byte vocabulary's half character), a stray continuation byte, a control.
  EXPECT_EQ(detail::escape("x\xc3"), "x\ufffd");
  EXPECT_EQ(detail::escape("\xa9y"), "\ufffdy");
  EXPECT_EQ(detail::escape(std::string("a\x01"
                                       "b\0",
                                       4)),
            "a\ufffdb\ufffd");
  EXPECT_EQ(detail::visible_label("\x01"), "\u00b7");
}

TEST(Report, SvgIsWellFormedXml) {
  Document doc("xml <check>");
  doc.add(LineChart{.title = "a & b",
                    .x_label = "<x>",
                    .y_label = "\"y\"",
                    .lines = {Line{.name = "it's", .y = {1, nan_value, 3, 4}},
                              Line{.name = "dash", .y = {4, 3}, .dashed = true}}});
  doc.add(LineChart{.title = "log", .lines = {Line{.name = "l", .y = {1e-9, 1e9}}}, .log_y = true});
  Heatmap heatmap = one_row({-1, 0, 1});
  heatmap.column_labels = {"<", "\xe2", "\n"};
  heatmap.diverging = true;
  doc.add(heatmap);
  doc.add(LineChart{.title = "empty"});
  const std::vector<std::string> fragments = svg_fragments(doc.html());
  ASSERT_EQ(fragments.size(), 4u);

  TempDir dir;
  const std::string script = dir.file("check.py");
  std::ofstream(script) << "import sys, xml.etree.ElementTree as ET\n"
                           "for name in sys.argv[1:]:\n"
                           "    root = ET.parse(name).getroot()\n"
                           "    assert root.tag == 'svg', root.tag\n";
  std::string command = test_util::shell_quote(LSTM_PYTHON) + " " + test_util::shell_quote(script);
  for (size_t k = 0; k < fragments.size(); ++k) {
    const std::string name = dir.file("chart" + std::to_string(k) + ".svg");
    std::ofstream(name) << fragments[k];
    command += " " + test_util::shell_quote(name);
  }
  const test_util::CommandResult result = test_util::run_command(command);
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST(Report, TablesAlignNumbersRightAndCheckTheirWidth) {
  const std::string html = Document("t").html();  // an empty document is valid too
  EXPECT_NE(html.find("<body>"), std::string::npos);
  Document doc("t");
  doc.add(Table{
      .title = "runs", .header = {"cell", "MSE"}, .rows = {{"lstm", "0.25"}, {"gru", "1e-3"}}});
  const std::string page = doc.html();
  EXPECT_NE(page.find("<th>cell</th><th class=\"num\">MSE</th>"), std::string::npos);
  EXPECT_NE(page.find("<td>gru</td><td class=\"num\">1e-3</td>"), std::string::npos);
  EXPECT_THROW(doc.add(Table{.title = "bad", .header = {"a", "b"}, .rows = {{"1"}}}), lstm::Error);
}

TEST(Report, MismatchedShapesThrowNamingTheChart) {
  Document doc("t");
  try {
    doc.add(LineChart{.title = "curves", .lines = {Line{.name = "a", .x = {1, 2}, .y = {1}}}});
    FAIL() << "no exception";
  } catch (const lstm::Error& error) {
    EXPECT_NE(std::string(error.what()).find("'curves'"), std::string::npos) << error.what();
  }
  Heatmap heatmap{.title = "gates", .rows = 2, .columns = 3, .values = {1, 2, 3}};
  try {
    doc.add(heatmap);
    FAIL() << "no exception";
  } catch (const lstm::Error& error) {
    EXPECT_NE(std::string(error.what()).find("'gates'"), std::string::npos) << error.what();
  }
  heatmap.values.resize(6);
  heatmap.column_labels = {"a"};
  EXPECT_THROW(doc.add(heatmap), lstm::Error);
}

TEST(Report, SaveWritesThePageOrNothing) {
  TempDir dir;
  Document doc("saved");
  doc.add(LineChart{.title = "c", .lines = {Line{.name = "a", .y = {1, 2}}}});
  const std::string path = dir.file("report.html");
  save(doc, path);
  std::ifstream in(path, std::ios::binary);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(written, doc.html());

  // A missing directory, and a path that is a directory: an error naming the path, no files left.
  for (const std::string& bad : {dir.file("missing/report.html"), dir.file("taken")}) {
    fs::create_directory(dir.file("taken"));
    try {
      save(doc, bad);
      FAIL() << "no exception for " << bad;
    } catch (const lstm::Error& error) {
      EXPECT_NE(std::string(error.what()).find(bad), std::string::npos) << error.what();
    }
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path()))
    names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"report.html", "taken"}));
  EXPECT_TRUE(fs::is_empty(dir.file("taken")));
}

}  // namespace
