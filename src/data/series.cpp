// Time series from CSV tables: numeric columns, missing values, the date or number index and
// its step, future index names, and the train/validation split point.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>

#include "data/io_detail.hpp"
#include "lstm/data.hpp"
#include "lstm/error.hpp"

namespace lstm {
namespace {

using detail::fail;
using detail::quote_name;

constexpr int64_t seconds_per_day = 86400;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool is_missing(std::string_view cell) {
  std::string lower;
  for (char c : cell) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower.empty() || lower == "na" || lower == "n/a" || lower == "nan" || lower == "null" ||
         lower == "none" || lower == ".";
}

// A decimal number written in full (an optional sign, digits, point, exponent); nullopt otherwise.
std::optional<double> parse_number(std::string_view cell) {
  if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);
  double value = 0.0;
  const auto [end, error] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (cell.empty() || error != std::errc() || end != cell.data() + cell.size()) return std::nullopt;
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct Civil {
  int64_t year, month, day, hour, minute, second;
};

Civil civil_from_seconds(int64_t seconds) {
  int64_t days = seconds / seconds_per_day, rest = seconds % seconds_per_day;
  if (rest < 0) rest += seconds_per_day, --days;
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t day_of_era = z - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const int64_t day = day_of_year - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return {
      year_of_era + era * 400 + (month <= 2), month, day, rest / 3600, rest / 60 % 60, rest % 60};
}

int64_t days_in_month(int64_t year, int64_t month) {
  return days_from_civil(month == 12 ? year + 1 : year, month == 12 ? 1 : month + 1, 1) -
         days_from_civil(year, month, 1);
}

// Reads `count` digits at text[pos]; advances pos.
std::optional<int64_t> digits(std::string_view text, size_t& pos, size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int64_t value = 0;
  for (size_t k = 0; k < count; ++k) {
    const char c = text[pos + k];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return value;
}

bool expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

// The date in `format`, as seconds since 1970; nullopt if the text is not such a date.
std::optional<int64_t> parse_date(std::string_view text, DateFormat format,
                                  char* time_separator = nullptr) {
  size_t pos = 0;
  std::optional<int64_t> year = digits(text, pos, 4), month, day = 1, hour = 0, minute = 0,
                         second = 0;
  if (!year) return std::nullopt;
  const bool slash = format == DateFormat::slash_date;
  if (format == DateFormat::yyyymmdd) {
    month = digits(text, pos, 2);
    day = digits(text, pos, 2);
  } else {
    if (!expect(text, pos, slash ? '/' : '-') || !(month = digits(text, pos, 2)))
      return std::nullopt;
    if (format != DateFormat::year_month &&
        (!expect(text, pos, slash ? '/' : '-') || !(day = digits(text, pos, 2))))
      return std::nullopt;
  }
  if (format == DateFormat::iso_minutes || format == DateFormat::iso_seconds) {
    if (pos >= text.size() || (text[pos] != ' ' && text[pos] != 'T')) return std::nullopt;
    if (time_separator) *time_separator = text[pos];
    ++pos;
    if (!(hour = digits(text, pos, 2)) || !expect(text, pos, ':') ||
        !(minute = digits(text, pos, 2)))
      return std::nullopt;
    if (format == DateFormat::iso_seconds &&
        (!expect(text, pos, ':') || !(second = digits(text, pos, 2))))
      return std::nullopt;
  }
  if (pos != text.size() || !month || !day || *month < 1 || *month > 12 || *day < 1 ||
      *day > days_in_month(*year, *month) || *hour > 23 || *minute > 59 || *second > 59)
    return std::nullopt;
  return days_from_civil(*year, *month, *day) * seconds_per_day + *hour * 3600 + *minute * 60 +
         *second;
}

struct DateForm {
  DateFormat format;
  std::string_view pattern;  // for messages
};
constexpr DateForm date_forms[] = {{DateFormat::yyyymmdd, "YYYYMMDD"},
                                   {DateFormat::iso_date, "YYYY-MM-DD"},
                                   {DateFormat::iso_minutes, "YYYY-MM-DD HH:MM"},
                                   {DateFormat::iso_seconds, "YYYY-MM-DD HH:MM:SS"},
                                   {DateFormat::slash_date, "YYYY/MM/DD"},
                                   {DateFormat::year_month, "YYYY-MM"}};

template <typename T>
T median(std::vector<T> values) {
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

// "line 12, column 'date': "
std::string cell_place(const CsvTable& table, size_t row, size_t column) {
  return "line " + std::to_string(table.lines[row]) + ", column " +
         quote_name(table.columns[column]) + ": ";
}

// Dates in the first cell's format, strictly increasing; the step in months or seconds.
void read_date_index(const CsvTable& table, const DateForm& form, SeriesIndex& index) {
  const DateFormat format = form.format;
  index.kind = IndexKind::date;
  index.date_format = format;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::optional<int64_t> date = parse_date(index.text[r], format, &index.time_separator);
    if (!date)
      fail(table.path, cell_place(table, r, 0) + quote_name(index.text[r]) +
                           " is not a date in the form " + std::string(form.pattern) +
                           " of the first row");
    if (r > 0 && *date <= index.seconds.back())
      fail(table.path, cell_place(table, r, 0) + quote_name(index.text[r]) + " is not after " +
                           quote_name(index.text[r - 1]) +
                           " (rows must be in chronological order)");
    index.seconds.push_back(*date);
  }
  if (index.seconds.size() < 2) return;
  const Civil first = civil_from_seconds(index.seconds[0]);
  bool same_day = first.day <= 28, month_end = true;
  std::vector<int64_t> month_steps, second_steps;
  for (size_t r = 0; r < index.seconds.size(); ++r) {
    const Civil date = civil_from_seconds(index.seconds[r]);
    const int64_t time_of_day = date.hour * 3600 + date.minute * 60 + date.second;
    const bool same_time = time_of_day == first.hour * 3600 + first.minute * 60 + first.second;
    same_day = same_day && same_time && date.day == first.day;
    month_end = month_end && same_time && date.day == days_in_month(date.year, date.month);
    if (r == 0) continue;
    const Civil previous = civil_from_seconds(index.seconds[r - 1]);
    month_steps.push_back(date.year * 12 + date.month - (previous.year * 12 + previous.month));
    second_steps.push_back(index.seconds[r] - index.seconds[r - 1]);
  }
  if (same_day || month_end) {
    index.step_months = median(month_steps);
    index.step_month_end = !same_day;
  } else {
    index.step_seconds = median(second_steps);
  }
}

SeriesIndex read_index(const CsvTable& table) {
  SeriesIndex index;
  index.name = table.columns[0];
  for (const auto& row : table.rows) index.text.emplace_back(trim(row[0]));
  for (const DateForm& form : date_forms)
    if (parse_date(index.text[0], form.format)) {
      read_date_index(table, form, index);
      return index;
    }
  index.kind = IndexKind::number;
  for (const std::string& cell : index.text) {
    const std::optional<double> number = parse_number(cell);
    if (!number || !std::isfinite(*number) ||
        (!index.numbers.empty() && *number <= index.numbers.back())) {
      index.kind = IndexKind::label;
      index.numbers.clear();
      return index;
    }
    index.numbers.push_back(*number);
  }
  std::vector<double> steps;
  for (size_t r = 1; r < index.numbers.size(); ++r)
    steps.push_back(index.numbers[r] - index.numbers[r - 1]);
  if (!steps.empty()) index.step_number = median(steps);
  return index;
}

// Linear interpolation between the nearest values by row; the nearest value at either end.
void fill_missing(double* column, int64_t rows, int64_t stride) {
  int64_t previous = -1;  // last row with a value
  for (int64_t r = 0; r <= rows; ++r) {
    if (r < rows && std::isnan(column[r * stride])) continue;
    for (int64_t gap = previous + 1; gap < r; ++gap) {
      double& cell = column[gap * stride];
      if (previous < 0) {
        cell = column[r * stride];
      } else if (r == rows) {
        cell = column[previous * stride];
      } else {
        const double weight =
            static_cast<double>(gap - previous) / static_cast<double>(r - previous);
        cell =
            column[previous * stride] + weight * (column[r * stride] - column[previous * stride]);
      }
    }
    previous = r;
  }
}

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.12g", value);
  return text;
}

}  // namespace

Series series_from_table(const CsvTable& table, const std::string& target,
                         const std::vector<std::string>& features) {
  Series series;
  series.path = table.path;
  std::vector<std::string> names = {target};
  names.insert(names.end(), features.begin(), features.end());
  std::vector<size_t> sources;  // [F] table column of each series column
  for (const std::string& name : names)
    if (std::find(series.columns.begin(), series.columns.end(), name) == series.columns.end()) {
      sources.push_back(table.column_index(name));
      series.columns.push_back(name);
    }
  const int64_t rows = static_cast<int64_t>(table.rows.size()), count = series.features();
  series.rows = rows;
  series.values.assign(static_cast<size_t>(rows * count), 0.0);
  series.missing.assign(static_cast<size_t>(count), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t f = 0; f < count; ++f) {
      const std::string_view cell = trim(table.rows[r][sources[f]]);
      double& value = series.values[r * count + f];
      const std::optional<double> number = is_missing(cell) ? std::nullopt : parse_number(cell);
      if (!number && !is_missing(cell))
        fail(table.path, cell_place(table, r, sources[f]) + quote_name(cell) + " is not a number");
      if (number && std::isinf(*number))
        fail(table.path,
             cell_place(table, r, sources[f]) + quote_name(cell) + " is not a finite number");
      value = number ? *number : std::numeric_limits<double>::quiet_NaN();
      series.missing[f] += std::isnan(value);
    }
  for (int64_t f = 0; f < count; ++f) {
    if (series.missing[f] == rows)
      fail(table.path, "column " + quote_name(series.columns[f]) + " has no values: all " +
                           std::to_string(rows) + " cells are missing");
    fill_missing(series.values.data() + f, rows, count);
  }
  if (std::find(sources.begin(), sources.end(), 0) == sources.end())
    series.index = read_index(table);
  return series;
}

Series load_series(const std::string& path, const std::string& target,
                   const std::vector<std::string>& features, const CsvOptions& options) {
  return series_from_table(read_csv(path, options), target, features);
}

std::vector<double> Series::column(int64_t feature) const {
  if (feature < 0 || feature >= features())
    throw Error(path + ": no column " + std::to_string(feature) + " (the series has " +
                std::to_string(features()) + ")");
  std::vector<double> result(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) result[r] = values[r * features() + feature];
  return result;
}

std::string format_date(int64_t seconds, DateFormat format, char time_separator) {
  const Civil date = civil_from_seconds(seconds);
  char text[40];
  const int year = static_cast<int>(date.year), month = static_cast<int>(date.month),
            day = static_cast<int>(date.day);
  const int hour = static_cast<int>(date.hour), minute = static_cast<int>(date.minute);
  switch (format) {
    case DateFormat::yyyymmdd:
      std::snprintf(text, sizeof text, "%04d%02d%02d", year, month, day);
      break;
    case DateFormat::iso_date:
      std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, day);
      break;
    case DateFormat::slash_date:
      std::snprintf(text, sizeof text, "%04d/%02d/%02d", year, month, day);
      break;
    case DateFormat::year_month:
      std::snprintf(text, sizeof text, "%04d-%02d", year, month);
      break;
    case DateFormat::iso_minutes:
      std::snprintf(text, sizeof text, "%04d-%02d-%02d%c%02d:%02d", year, month, day,
                    time_separator, hour, minute);
      break;
    case DateFormat::iso_seconds:
      std::snprintf(text, sizeof text, "%04d-%02d-%02d%c%02d:%02d:%02d", year, month, day,
                    time_separator, hour, minute, static_cast<int>(date.second));
      break;
  }
  return text;
}

std::vector<std::string> Series::future_index(int64_t count) const {
  std::vector<std::string> names;
  for (int64_t k = 1; k <= count; ++k) {
    switch (index.kind) {
      case IndexKind::none:
        names.push_back(std::to_string(rows + k));
        break;
      case IndexKind::label:
        names.emplace_back(1, '+').append(std::to_string(k));
        break;
      case IndexKind::number:
        names.push_back(
            format_number(index.numbers.back() + static_cast<double>(k) * index.step_number));
        break;
      case IndexKind::date: {
        const int64_t last = index.seconds.back();
        if (index.step_months == 0) {
          names.push_back(
              format_date(last + k * index.step_seconds, index.date_format, index.time_separator));
          break;
        }
        const Civil date = civil_from_seconds(last);
        const int64_t months = date.year * 12 + (date.month - 1) + k * index.step_months;
        const int64_t year = months / 12, month = months % 12 + 1;
        const int64_t day = index.step_month_end ? days_in_month(year, month) : date.day;
        const int64_t time = date.hour * 3600 + date.minute * 60 + date.second;
        names.push_back(format_date(days_from_civil(year, month, day) * seconds_per_day + time,
                                    index.date_format, index.time_separator));
        break;
      }
    }
  }
  return names;
}

int64_t split_point(int64_t length, double validation_fraction) {
  if (!(validation_fraction > 0.0 && validation_fraction < 1.0))
    throw Error("validation fraction " + format_number(validation_fraction) +
                " is not between 0 and 1");
  if (length < 2)
    throw Error("cannot split " + std::to_string(length) +
                " items into training and validation parts");
  const auto held_out = std::llround(static_cast<double>(length) * validation_fraction);
  return length - std::clamp<int64_t>(held_out, 1, length - 1);
}

}  // namespace lstm
