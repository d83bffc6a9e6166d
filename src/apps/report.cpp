// Self-contained HTML reports: the page, its style sheet, headings, paragraphs, tables, the
// shared SVG text helpers, and saving (atomically). The charts are drawn in report_chart.cpp and
// report_heatmap.cpp.
#include "apps/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "apps/report_svg.hpp"
#include "lstm/data.hpp"
#include "lstm/error.hpp"
#include "lstm/io.hpp"

namespace lstm::report {
namespace detail {

namespace {

// Valid UTF-8 as it is; a byte that does not start a valid sequence becomes U+FFFD (a byte
// vocabulary's labels may split characters).
std::string valid_utf8(std::string_view text) {
  const auto is_valid = [](std::string_view bytes) {
    try {
      validate_utf8("report text", bytes);
      return true;
    } catch (const Error&) {
      return false;
    }
  };
  if (is_valid(text)) return std::string(text);
  std::string out;
  for (size_t pos = 0; pos < text.size();) {
    const auto lead = static_cast<unsigned char>(text[pos]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    if (pos + length <= text.size() && is_valid(text.substr(pos, length))) {
      out.append(text.substr(pos, length));
      pos += length;
    } else {
      out += "\ufffd";
      ++pos;
    }
  }
  return out;
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : valid_utf8(text)) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
      out += "\ufffd";  // not allowed in XML, a parse error in HTML
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string visible_label(std::string_view label) {
  if (label == " ") return "\u2423";  // ␣
  std::string out;
  for (char c : label) {
    if (c == '\n') {
      out += "\u21b5";  // ↵
    } else if (c == '\t') {
      out += "\u21e5";  // ⇥
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += "\u00b7";  // ·
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string number(double value) {
  value = std::isfinite(value) ? std::clamp(value, -1e9, 1e9) : 0.0;
  if (std::abs(value) < 0.05) return std::string(1, '0');  // never "-0"
  char text[32];
  int length = std::snprintf(text, sizeof text, "%.1f", value);
  if (length > 2 && text[length - 1] == '0' && text[length - 2] == '.') length -= 2;
  return std::string(text, static_cast<size_t>(length));
}

double text_width(std::string_view text, double font_size) {
  // UTF-8 continuation bytes do not start a character.
  const auto characters = std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  });
  return 0.6 * font_size * static_cast<double>(characters);
}

std::string svg_text(double x, double y, const std::string& anchor, std::string_view text,
                     const std::string& extra) {
  std::string out = "<text x=\"";
  append(out, number(x), "\" y=\"", number(y), "\" text-anchor=\"", anchor, "\"");
  if (!extra.empty()) append(out, " ", extra);
  append(out, ">", escape(text), "</text>");
  return out;
}

std::string svg_open(double height, const std::string& title) {
  std::string out = "<svg class=\"chart\" viewBox=\"0 0 ";
  append(out, number(kChartWidth), " ", number(height), "\" width=\"", number(kChartWidth),
         "\" height=\"", number(height), "\" role=\"img\" aria-label=\"", escape(title), "\">");
  append(out, "<title>", escape(title), "</title>");
  return out;
}

std::string svg_line(const char* css_class, double x1, double y1, double x2, double y2) {
  std::string out = "<line class=\"";
  append(out, css_class, "\" x1=\"", number(x1), "\" y1=\"", number(y1), "\" x2=\"", number(x2),
         "\" y2=\"", number(y2), "\"/>");
  return out;
}

std::string svg_frame(const Box& plot) {
  std::string out = "<rect class=\"axis\" x=\"";
  append(out, number(plot.left), "\" y=\"", number(plot.top), "\" width=\"", number(plot.width),
         "\" height=\"", number(plot.height), "\"/>");
  return out;
}

std::string axis_titles(const std::string& x_label, const std::string& y_label, const Box& plot,
                        double x_baseline) {
  const double middle = plot.top + plot.height / 2;
  std::string rotate = "transform=\"rotate(-90 16 ";
  append(rotate, number(middle), ")\"");
  return svg_text(plot.left + plot.width / 2, x_baseline, "middle", x_label) +
         svg_text(16, middle, "middle", y_label, rotate);
}

}  // namespace detail

namespace {

using detail::append;
using detail::escape;

constexpr const char* kStyle = R"(
body{font-family:system-ui,"DejaVu Sans","Liberation Sans",Arial,sans-serif;color:#222;
  max-width:1000px;margin:1.5em auto;padding:0 1em;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.4em}
h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
figure{margin:1.2em 0 1.8em}
figcaption{font-weight:600;margin-bottom:.3em}
p{white-space:pre-line}pre{white-space:pre-wrap;background:#f6f6f6;padding:8px 12px}
svg.chart{display:block;max-width:100%;height:auto}
svg.chart text{font-size:12px;fill:#333;font-family:inherit}
svg.chart .grid{stroke:#e6e6e6;stroke-width:1}
svg.chart .minor{stroke:#f2f2f2;stroke-width:1}
svg.chart .axis{stroke:#555;stroke-width:1;fill:none}
svg.chart .empty{font-size:16px;fill:#888}
table{border-collapse:collapse;margin:.4em 0 1.8em;font-variant-numeric:tabular-nums}
caption{font-weight:600;text-align:left;padding-bottom:.3em}
th,td{border-bottom:1px solid #ddd;padding:.25em .75em;text-align:left;vertical-align:top}
th{border-bottom:2px solid #999}
.num{text-align:right}
)";

// A table cell that reads as a number ("0.25", "-3e-05", "12%") is right-aligned.
bool is_number(const std::string& text) {
  if (text.empty()) return false;
  const char* begin = text.c_str();
  char* end = nullptr;
  std::strtod(begin, &end);
  if (end == begin) return false;
  if (*end == '%') ++end;
  return *end == '\0';
}

std::string table_html(const Table& table) {
  const size_t width = table.header.size();
  for (size_t r = 0; r < table.rows.size(); ++r) {
    if (table.rows[r].size() != width) {
      std::string message = "report table '";
      append(message, table.title, "': row ", std::to_string(r + 1), " has ",
             std::to_string(table.rows[r].size()), " cells, the header ", std::to_string(width));
      throw Error(message);
    }
  }
  // A column whose every cell is a number is right-aligned, header included.
  std::vector<bool> numeric(width, !table.rows.empty());
  for (const auto& row : table.rows)
    for (size_t c = 0; c < width; ++c) numeric[c] = numeric[c] && is_number(row[c]);
  const auto cell = [&](const char* tag, size_t column, const std::string& text) {
    std::string out = "<";
    append(out, tag, numeric[column] ? " class=\"num\">" : ">", escape(text), "</", tag, ">");
    return out;
  };

  std::string out = "<table>";
  if (!table.title.empty()) append(out, "<caption>", escape(table.title), "</caption>");
  out += "<thead><tr>";
  for (size_t c = 0; c < width; ++c) out += cell("th", c, table.header[c]);
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : table.rows) {
    out += "<tr>";
    for (size_t c = 0; c < width; ++c) out += cell("td", c, row[c]);
    out += "</tr>\n";
  }
  out += "</tbody></table>\n";
  return out;
}

std::string figure(const std::string& title, const std::string& svg) {
  std::string out = "<figure>";
  if (!title.empty()) append(out, "<figcaption>", escape(title), "</figcaption>");
  append(out, svg, "</figure>\n");
  return out;
}

}  // namespace

Document::Document(std::string title) : title_(std::move(title)) {}

void Document::heading(const std::string& text) {
  append(body_, "<h2>", escape(text), "</h2>\n");
}

void Document::paragraph(const std::string& text) {
  append(body_, "<p>", escape(text), "</p>\n");
}

void Document::preformatted(const std::string& text) {
  append(body_, "<pre>", escape(text), "</pre>\n");
}

void Document::add(const LineChart& chart) {
  body_ += figure(chart.title, detail::line_chart_svg(chart));
}

void Document::add(const Heatmap& heatmap) {
  body_ += figure(heatmap.title, detail::heatmap_svg(heatmap));
}

void Document::add(const Table& table) {
  body_ += table_html(table);
}

std::string Document::html() const {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  append(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  append(out, "<title>", escape(title_), "</title>\n<style>", kStyle, "</style>\n</head>\n");
  append(out, "<body>\n<h1>", escape(title_), "</h1>\n", body_, "</body>\n</html>\n");
  return out;
}

std::string fixed(double value, int digits) {
  if (!std::isfinite(value)) return "–";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

std::string significant(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*g", digits, value);
  return text;
}

void save(const Document& document, const std::string& path) {
  try {
    write_file_atomically(path, document.html());
  } catch (const Error& error) {
    throw Error(std::string("cannot write the report: ") + error.what());
  }
}

}  // namespace lstm::report
