// Self-contained HTML reports: headings, text, tables, line charts and heatmaps drawn as inline
// SVG, with no script and no network access, so the file opens from disk anywhere.
//
//   report::Document doc("Adding problem, T = 100");
//   doc.paragraph("Each cell trained for at most 600 s on the same data.");
//   doc.add(report::LineChart{.title = "Test MSE", .x_label = "sequences seen", ...});
//   report::save(doc, "out.html");  // atomic: a temporary file, fsync, rename
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace lstm::report {

// One line of a chart: points (x[k], y[k]); non-finite y leave a gap.
struct Line {
  std::string name{};            // shown in the legend
  std::vector<double> x{}, y{};  // x empty: 0, 1, 2, ...
  bool dashed = false;           // e.g. a baseline or a threshold
};

struct LineChart {
  std::string title{}, x_label{}, y_label{};
  std::vector<Line> lines{};
  bool log_y = false;  // logarithmic y axis (values <= 0 are left out)
};

// values [rows, columns], drawn with rows top to bottom and columns left to right (time).
struct Heatmap {
  std::string title{}, x_label{}, y_label{};
  int64_t rows = 0, columns = 0;
  std::vector<double> values{};
  std::vector<std::string> row_labels{};     // [rows] or empty (then row numbers)
  std::vector<std::string> column_labels{};  // [columns] or empty: e.g. the characters under time
  // Colour range; NaN: the data's range. A diverging map (blue–white–red) centres on 0.
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
  bool diverging = false;
};

struct Table {
  std::string title{};
  std::vector<std::string> header{};
  std::vector<std::vector<std::string>> rows{};  // each as wide as header
};

class Document {
 public:
  explicit Document(std::string title);

  void heading(const std::string& text);
  void paragraph(const std::string& text);     // plain text, escaped
  void preformatted(const std::string& text);  // text as it is (spaces, line breaks), escaped
  void add(const LineChart& chart);
  void add(const Heatmap& heatmap);
  void add(const Table& table);

  const std::string& title() const { return title_; }
  // The whole page: <!DOCTYPE html> ... with a style sheet and every chart inline.
  std::string html() const;

 private:
  std::string title_;
  std::string body_;  // the sections so far, as HTML
};

// Numbers for tables and captions: `digits` after the point ("–" when not finite), or `digits`
// significant digits (printf's %g).
std::string fixed(double value, int digits);
std::string significant(double value, int digits = 6);

// Writes document.html() to path atomically; throws lstm::Error naming the path on failure.
void save(const Document& document, const std::string& path);

}  // namespace lstm::report
