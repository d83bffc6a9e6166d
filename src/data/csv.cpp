// CSV tables: header and rows, quoted fields, CRLF, byte-order mark, delimiter detection, and
// one-line errors naming the path and line for every malformed input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

#include "data/io_detail.hpp"
#include "lstm/data.hpp"
#include "lstm/error.hpp"

namespace lstm {
namespace {

using detail::fail;
using detail::quote_name;

constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF";

std::string count_of(size_t count, const char* noun) {
  std::string text = std::to_string(count);
  text += ' ';
  text += noun;
  if (count != 1) text += 's';
  return text;
}

// Which of ',', ';', '\t' occurs most often outside quotes in the first line; ',' on a tie.
char detect_delimiter(std::string_view text) {
  size_t counts[3] = {0, 0, 0};
  constexpr char candidates[3] = {',', ';', '\t'};
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '\n') break;
    for (int k = 0; k < 3; ++k) counts[k] += c == candidates[k];
  }
  int best = 0;
  for (int k = 1; k < 3; ++k)
    if (counts[k] > counts[best]) best = k;
  return candidates[best];
}

struct Record {
  std::vector<std::string> fields;
  int64_t line = 0;    // where it starts
  bool blank = false;  // an empty (or all-space) line
};

// Splits the text into records, counting physical lines (line breaks inside quotes count too).
class RecordReader {
 public:
  RecordReader(const std::string& name, std::string_view text, char delimiter)
      : name_(name), text_(text), delimiter_(delimiter) {}

  bool done() const { return pos_ >= text_.size(); }

  Record next() {
    Record record;
    record.line = line_;
    bool any_quoted = false;
    while (true) {
      bool quoted = false;
      record.fields.push_back(read_field(record.fields.size() + 1, quoted));
      any_quoted = any_quoted || quoted;
      if (pos_ < text_.size() && text_[pos_] == delimiter_) {
        ++pos_;
        continue;
      }
      end_line();
      break;
    }
    record.blank = !any_quoted && record.fields.size() == 1 && record.fields[0].empty();
    return record;
  }

 private:
  bool is_space(char c) const { return (c == ' ' || c == '\t') && c != delimiter_; }
  bool at_line_end() const {
    return pos_ >= text_.size() || text_[pos_] == '\n' ||
           (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ||
           (text_[pos_] == '\r' && pos_ + 1 == text_.size());
  }
  void end_line() {
    if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
    ++line_;
  }
  void where(std::string& text, int64_t line) const {
    text += "line ";
    text += std::to_string(line);
    text += ": ";
  }

  std::string read_field(size_t column, bool& quoted) {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '"') {
      quoted = true;
      return read_quoted(column);
    }
    const size_t begin = pos_;
    while (pos_ < text_.size() && text_[pos_] != delimiter_ && !at_line_end()) ++pos_;
    size_t end = pos_;
    while (end > begin && is_space(text_[end - 1])) --end;
    return std::string(text_.substr(begin, end - begin));
  }

  std::string read_quoted(size_t column) {
    const int64_t opened = line_;
    std::string field;
    ++pos_;  // the opening quote
    while (true) {
      if (pos_ >= text_.size()) {
        std::string what;
        where(what, opened);
        what += "the quoted field " + std::to_string(column) + " opened here is never closed";
        fail(name_, what);
      }
      const char c = text_[pos_++];
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          field += '"';
          ++pos_;
          continue;
        }
        break;
      }
      if (c == '\n') ++line_;
      field += c;
    }
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
    if (pos_ < text_.size() && text_[pos_] != delimiter_ && !at_line_end()) {
      std::string what;
      where(what, line_);
      what += "unexpected " + quote_name(text_.substr(pos_, 1)) +
              " after the closing quote of field " + std::to_string(column) +
              " (a quote inside a quoted field is written \"\")";
      fail(name_, what);
    }
    return field;
  }

  const std::string& name_;
  std::string_view text_;
  char delimiter_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

void check_header(const std::string& name, const std::vector<std::string>& columns) {
  for (size_t k = 0; k < columns.size(); ++k) {
    if (columns[k].empty())
      fail(name, "line 1: column " + std::to_string(k + 1) + " of the header has no name");
    for (size_t j = 0; j < k; ++j)
      if (columns[j] == columns[k])
        fail(name, "line 1: column name " + quote_name(columns[k]) + " appears twice (columns " +
                       std::to_string(j + 1) + " and " + std::to_string(k + 1) + ")");
  }
}

// "line 17: 3 fields, header has 2".
[[noreturn]] void fail_ragged(const std::string& name, const Record& record, size_t expected) {
  std::string what = "line " + std::to_string(record.line) + ": ";
  what += record.blank ? std::string("empty line") : count_of(record.fields.size(), "field");
  what += ", header has " + std::to_string(expected);
  fail(name, what);
}

}  // namespace

size_t CsvTable::column_index(std::string_view name) const {
  for (size_t k = 0; k < columns.size(); ++k)
    if (columns[k] == name) return k;
  std::string available;
  for (const std::string& column : columns)
    available += (available.empty() ? "" : ", ") + quote_name(column);
  fail(path, "no column " + quote_name(name) + "; the columns are " + available);
}

CsvTable parse_csv(const std::string& name, std::string_view text, const CsvOptions& options) {
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    const auto line =
        std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(nul), '\n') + 1;
    fail(name, "NUL byte at byte " + std::to_string(nul) + " (line " + std::to_string(line) +
                   "): binary data, not a CSV text");
  }
  validate_utf8(name, text, " (save the file as UTF-8)");
  if (text.starts_with(byte_order_mark)) text.remove_prefix(byte_order_mark.size());

  const char delimiter = options.delimiter ? options.delimiter : detect_delimiter(text);
  if (delimiter != ',' && delimiter != ';' && delimiter != '\t')
    fail(name, "unsupported delimiter " + quote_name(std::string_view(&delimiter, 1)) +
                   " (use ',', ';' or a tab)");

  RecordReader reader(name, text, delimiter);
  std::vector<Record> records;
  while (!reader.done()) records.push_back(reader.next());
  while (!records.empty() && records.back().blank) records.pop_back();
  if (records.empty()) fail(name, "empty file: expected a header row and data rows");

  CsvTable table;
  table.path = name;
  table.delimiter = delimiter;
  table.columns = std::move(records[0].fields);
  check_header(name, table.columns);
  if (records.size() == 1) fail(name, "line 1: a header but no data rows");
  table.rows.reserve(records.size() - 1);
  table.lines.reserve(records.size() - 1);
  for (size_t r = 1; r < records.size(); ++r) {
    Record& record = records[r];
    if (record.fields.size() != table.columns.size())
      fail_ragged(name, record, table.columns.size());
    table.rows.push_back(std::move(record.fields));
    table.lines.push_back(record.line);
  }
  return table;
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
  const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
  return parse_csv(
      path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), options);
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char ch : text) {
    if (ch == '"') quoted += '"';
    quoted += ch;
  }
  return quoted + "\"";
}

std::string csv_number(double value) {
  if (!std::isfinite(value)) return "";
  char number[64];
  std::snprintf(number, sizeof number, "%.9g", value);
  return number;
}

}  // namespace lstm
