// Training data: CSV tables, numeric time series (dates, missing values, splits, normalisation,
// seasons, baselines, windows) and texts (UTF-8 validation, character and byte vocabularies).
// Every reader throws lstm::Error whose message starts with the path (or the name given) and
// names the line, column or byte at fault.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lstm {

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180, leniently): a header row of distinct, non-empty names, then one or more rows
// with exactly as many fields. Fields may be quoted ("a, b" with "" for a quote), and quoted
// fields may hold delimiters and line breaks. Lines end with LF or CRLF; a UTF-8 byte-order mark
// is skipped; empty lines at the end are ignored; spaces around unquoted fields and header names
// are dropped. The text must be UTF-8 without NUL bytes.

struct CsvOptions {
  // ',', ';' or '\t'; 0 = detect: whichever of the three occurs most often (outside quotes) in
  // the header line, ',' on a tie or when none occurs (a one-column file).
  char delimiter = 0;
};

struct CsvTable {
  std::string path;                            // the name used in messages
  char delimiter = ',';                        // the one used (given or detected)
  std::vector<std::string> columns;            // header names
  std::vector<std::vector<std::string>> rows;  // [N][columns.size()] fields, unquoted
  std::vector<int64_t> lines;                  // [N] line number (1-based) where each row starts

  // Index of a column; throws naming the path and listing the available columns if absent.
  size_t column_index(std::string_view name) const;
};

CsvTable read_csv(const std::string& path, const CsvOptions& options = {});
// Parses CSV text held in memory; `name` stands for the path in messages.
CsvTable parse_csv(const std::string& name, std::string_view text, const CsvOptions& options = {});

// Writing CSV: a field, quoted (quotes doubled) when it holds a comma, a quote or a line break;
// a number as a cell, %.9g, empty for NaN or Inf.
std::string csv_field(const std::string& text);
std::string csv_number(double value);

// ---------------------------------------------------------------------------------------------
// Time series: numeric columns of a CSV file, in chronological order, with an optional index.
//
// The index is the first column when it is neither the target nor a feature. It is read as:
//   dates, when its first cell parses in one of the DateFormat forms below (then every cell
//     must, in the same form, and the dates must increase strictly);
//   numbers, when every cell is a number and they increase strictly (e.g. a year or a step);
//   labels otherwise (kept as text; no step, so future rows are named "+1", "+2", ...).
// Missing values: an empty cell, NA, N/A, NaN, null, None (any letter case) or ".". They are
// filled by linear interpolation between the nearest values before and after (by row), and at
// the start and end by the nearest value. A column with no value at all is an error.

enum class IndexKind { none, date, number, label };

enum class DateFormat {
  yyyymmdd,     // 19580329
  iso_date,     // 1958-03-29
  iso_minutes,  // 1958-03-29 14:30 (or 1958-03-29T14:30)
  iso_seconds,  // 1958-03-29 14:30:05 (or 1958-03-29T14:30:05)
  slash_date,   // 1958/03/29
  year_month,   // 1958-03 (the first of the month)
};

struct SeriesIndex {
  IndexKind kind = IndexKind::none;
  std::string name;               // the column's header name (empty when kind == none)
  std::vector<std::string> text;  // [N] the cells as written (empty when kind == none)
  DateFormat date_format = DateFormat::iso_date;
  char time_separator = ' ';     // ' ' or 'T' between date and time, as written
  std::vector<int64_t> seconds;  // [N] dates: seconds since 1970-01-01 00:00 (no time zone)
  std::vector<double> numbers;   // [N] numeric index
  // The step between rows, the median difference: for dates, a number of calendar months when
  // every date falls on the same day of the month (at most the 28th), or every date on the last
  // day of its month, at the same time of day (monthly, quarterly, yearly data), else a number
  // of seconds; for numbers, a number.
  int64_t step_months = 0;
  bool step_month_end = false;  // month steps land on the last day of the month
  int64_t step_seconds = 0;
  double step_number = 0.0;
};

struct Series {
  std::string path;
  std::vector<std::string> columns;  // [F] the target first, then the features in the order given
  int64_t rows = 0;                  // N
  std::vector<double> values;        // [N, F] row-major, missing values filled
  std::vector<int64_t> missing;      // [F] how many cells of each column were missing (filled)
  SeriesIndex index;

  int64_t features() const { return static_cast<int64_t>(columns.size()); }  // F
  std::vector<double> column(int64_t feature) const;                         // [N]
  // Names for the `count` rows after the last one, in the index's own format: dates one step
  // apart, numbers one step apart, row numbers (N+1, ...) without an index, "+k" for labels.
  std::vector<std::string> future_index(int64_t count) const;
};

// Reads `target` and `features` (the target need not be repeated; names listed twice count once)
// from a CSV file. Throws naming the path, line and column for a cell that is not a number, and
// listing the available columns for an unknown name.
Series load_series(const std::string& path, const std::string& target,
                   const std::vector<std::string>& features = {}, const CsvOptions& options = {});
Series series_from_table(const CsvTable& table, const std::string& target,
                         const std::vector<std::string>& features = {});

// A date in `format` (with `time_separator` between date and time): "1958-03-29".
std::string format_date(int64_t seconds, DateFormat format, char time_separator = ' ');

// The number of leading items used for training when the last `validation_fraction` (in (0, 1))
// of `length` items is held out for validation: length - round(length * fraction), keeping at
// least one item on each side. Chronological for series, the text's end for language models.
int64_t split_point(int64_t length, double validation_fraction);

// Per-column mean and standard deviation (population, divide by n), computed on the training
// rows only and applied to every row: x' = (x - mean) / std. A constant column gets std 1.
struct Normalization {
  std::vector<double> mean;    // [F]
  std::vector<double> stddev;  // [F]

  static Normalization fit(std::span<const double> values, int64_t features);  // values [n, F]
  void apply(std::span<double> values) const;                                  // [n, F] in place
  void invert(std::span<double> values) const;                                 // [n, F] in place
  double invert(double value, int64_t feature) const;
  // {"mean":[...],"std":[...]} for a model file's metadata, and back (validated, errors name
  // `name`).
  std::string to_json() const;
  static Normalization from_json(std::string_view name, std::string_view json);
};

// The season length of a series by autocorrelation, or 0 if there is none. After removing a
// least-squares line, the autocorrelation is computed for lags 2 .. min(n / 3, max_period)
// (max_period 0 = 1000); the season is the first local maximum that reaches 0.3, rises at least
// 0.2 above the lowest autocorrelation before it, and is within 90% of the highest such peak.
int64_t detect_season(std::span<const double> values, int64_t max_period = 0);
int64_t detect_season(const Series& series, int64_t feature = 0);

// Errors of a forecast. MASE divides the MAE by the in-sample MAE of the seasonal-naive forecast
// on the training part (the naive forecast when there is no season): below 1 beats it.
struct ForecastMetrics {
  double rmse = 0.0;
  double mae = 0.0;
  double mase = 0.0;
  int64_t count = 0;  // forecasts scored
};

// Mean |y[t] - y[t - m]| over the training values (m = period, or 1 when period is 0); throws if
// there are not more than m values. It is 0 when the training part repeats exactly.
double mase_scale(std::span<const double> train, int64_t period);
// The metrics of predicted against actual values; MASE is NaN when the scale is 0.
ForecastMetrics forecast_metrics(std::span<const double> actual, std::span<const double> predicted,
                                 double scale);

// The baselines a model must beat on the validation part y[split..N), scored like the model:
// from every origin t in [split, N - horizon], forecast y[t + h] for h = 0 .. horizon-1 knowing
// y[0..t). Naive: y[t - 1]. Seasonal-naive: the last known value one or more periods back,
// y[t + h - m * ceil((h + 1) / m)]. MASE uses mase_scale(y[0..split), period).
struct Baselines {
  int64_t period = 0;
  ForecastMetrics naive;
  std::optional<ForecastMetrics> seasonal_naive;  // absent when period is 0
};
Baselines evaluate_baselines(std::span<const double> values, int64_t split, int64_t period,
                             int64_t horizon = 1);

// Supervised samples from a series [N, F]: for each origin t (the row of the first target),
// the input is rows t - W .. t - 1 of every feature and the target is rows t .. t + Hz - 1 of
// one column. Origins run from max(first_origin, W) while t + Hz <= end, every `stride` rows.
struct WindowOptions {
  int64_t window = 0;   // W
  int64_t horizon = 1;  // Hz
  int64_t stride = 1;
  int64_t target_column = 0;  // the column forecast (the series' target is column 0)
  int64_t first_origin = 0;   // e.g. split_point(...) for validation samples
  int64_t end = -1;           // rows [0, end) are used; -1 = all
};
struct WindowSet {
  int64_t count = 0, window = 0, horizon = 0, features = 0;
  std::vector<float> inputs;     // [count, W, F]
  std::vector<float> targets;    // [count, Hz]
  std::vector<int64_t> origins;  // [count] t
};
WindowSet make_windows(std::span<const double> values, int64_t features,
                       const WindowOptions& options);

// ---------------------------------------------------------------------------------------------
// Text.

// Throws "<name>: invalid UTF-8 at byte B (line L): <what>; not a UTF-8 text<advice>" for the first
// invalid sequence (stray continuation byte, overlong form, surrogate, value above U+10FFFF,
// sequence cut short or truncated at the end). B counts from 0, L from 1.
void validate_utf8(std::string_view name, std::string_view bytes, std::string_view advice = "");
// The code points of valid UTF-8 (validated as above).
std::vector<char32_t> decode_utf8(std::string_view name, std::string_view bytes);
// Appends the UTF-8 form of a code point (<= U+10FFFF, not a surrogate).
void append_utf8(std::string& out, char32_t code_point);

// chars: the code points of a UTF-8 text; bytes: raw bytes, any file is accepted.
enum class VocabularyKind { chars, bytes };

// A text file's bytes. For chars the file must be UTF-8 (a leading byte-order mark is dropped);
// an empty file is an error.
std::string read_text(const std::string& path, VocabularyKind kind = VocabularyKind::chars);

// Symbols (code points or byte values) sorted ascending; a symbol's id is its position 0..V-1.
class Vocabulary {
 public:
  Vocabulary() = default;
  // The symbols that occur in `text` (validated as UTF-8 for chars; `name` is used in messages).
  static Vocabulary from_text(std::string_view name, std::string_view text, VocabularyKind kind);
  // All 256 byte values.
  static Vocabulary all_bytes();
  // From symbols: sorted and distinct, each a code point (chars) or 0..255 (bytes).
  static Vocabulary from_symbols(std::string_view name, VocabularyKind kind,
                                 std::vector<char32_t> symbols);

  VocabularyKind kind() const { return kind_; }
  int64_t size() const { return static_cast<int64_t>(symbols_.size()); }  // V
  const std::vector<char32_t>& symbols() const { return symbols_; }
  std::optional<int32_t> id_of(char32_t symbol) const;

  // Ids of a text. A character (or byte) not in the vocabulary is an error that names `name`
  // and lists the unknown characters with their code points and the first byte offset.
  std::vector<int32_t> encode(std::string_view name, std::string_view text) const;
  // The text of ids; throws for an id outside 0..V-1. Byte vocabularies return the raw bytes.
  std::string decode(std::span<const int32_t> ids) const;
  // A printable form of a symbol for messages: 'a', '\n', U+00E9 'é'.
  std::string describe(char32_t symbol) const;

  // {"kind":"char","symbols":[65,66,...]} (kind "byte" for bytes), for a model's metadata.
  std::string to_json() const;
  // Parses and validates to_json()'s form; errors start with `name` and name the field.
  static Vocabulary from_json(std::string_view name, std::string_view json);

 private:
  VocabularyKind kind_ = VocabularyKind::chars;
  std::vector<char32_t> symbols_;
  std::vector<int32_t> small_ids_;  // [256] id of each symbol below 256, -1 if absent
};

}  // namespace lstm
