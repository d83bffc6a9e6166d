// Time series from CSV: the CO2 data set, missing values, index kinds (dates, numbers, labels)
// and their steps and future names, the split point, and every rejection with its message.
#include <gtest/gtest.h>

#include "io_test_util.hpp"
#include "lstm/data.hpp"

namespace {

using lstm::DateFormat;
using lstm::IndexKind;
using lstm::Series;
using lstm_test::TempDir;
using lstm_test::throws_error;
using lstm_test::write_bytes;
using Names = std::vector<std::string>;

std::string fixture(const std::string& name) {
  return std::string(LSTM_TEST_DATA_DIR) + "/csv/" + name;
}
std::string co2_path() {
  return std::string(LSTM_TEST_DATA_DIR) + "/../../data/co2.csv";
}

// A series from CSV text written to a temporary file.
Series series_of(const std::string& text, const std::string& target, const Names& features = {}) {
  return lstm::series_from_table(lstm::parse_csv("mem.csv", text), target, features);
}

TEST(Series, LoadsCo2WithItsMissingValuesInterpolated) {
  const Series series = lstm::load_series(co2_path(), "co2");
  EXPECT_EQ(series.rows, 2284);
  EXPECT_EQ(series.columns, Names{"co2"});
  EXPECT_EQ(series.missing, std::vector<int64_t>{59});
  for (double value : series.values) ASSERT_TRUE(value > 310.0 && value < 380.0) << value;
  EXPECT_DOUBLE_EQ(series.values[0], 316.1);
  EXPECT_DOUBLE_EQ(series.values[6], (316.9 + 317.5) / 2);  // 19580510, between two values
  EXPECT_DOUBLE_EQ(series.values[9],
                   317.9 + (315.8 - 317.9) / 6);  // first of five missing in a row
  EXPECT_EQ(series.index.kind, IndexKind::date);
  EXPECT_EQ(series.index.name, "date");
  EXPECT_EQ(series.index.date_format, DateFormat::yyyymmdd);
  EXPECT_EQ(series.index.text.front(), "19580329");
  EXPECT_EQ(series.index.step_seconds, 7 * 86400);
  EXPECT_EQ(series.index.step_months, 0);
  EXPECT_EQ(series.future_index(2), (Names{"20020105", "20020112"}));
}

TEST(Series, FillsEverySpellingOfAMissingValue) {
  const Series series = lstm::load_series(fixture("missing.csv"), "x", {"y"});
  EXPECT_EQ(series.columns, (Names{"x", "y"}));
  EXPECT_EQ(series.missing, (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(series.column(0), (std::vector<double>{2, 2, 4, 6, 8, 8, 8}));  // ends: nearest value
  EXPECT_EQ(series.column(1), (std::vector<double>{10, 20, 30, 40, 50, 60, 60}));
  const Series crlf = lstm::load_series(fixture("bom_crlf.csv"), "co2");
  EXPECT_EQ(crlf.missing, std::vector<int64_t>{1});
  EXPECT_DOUBLE_EQ(crlf.values[2], (370.4 + 370.9) / 2);
  EXPECT_EQ(crlf.future_index(1), Names{"2001-02-03"});
}

TEST(Series, OrdersColumnsTargetFirstAndReadsANumberIndex) {
  const Series series = lstm::load_series(fixture("tab.tsv"), "y", {"x", "y", "x"});
  EXPECT_EQ(series.columns, (Names{"y", "x"}));
  EXPECT_EQ(series.values, (std::vector<double>{2, 1, 4, 3, 6, 5}));
  EXPECT_EQ(series.index.kind, IndexKind::number);
  EXPECT_EQ(series.index.numbers, (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(series.index.step_number, 1.0);
  EXPECT_EQ(series.future_index(2), (Names{"3", "4"}));
  // The first column used as data: no index; future rows are numbered on.
  const Series no_index = lstm::load_series(fixture("tab.tsv"), "step");
  EXPECT_EQ(no_index.index.kind, IndexKind::none);
  EXPECT_EQ(no_index.future_index(1), Names{"4"});
}

TEST(Series, KeepsOtherFirstColumnsAsLabels) {
  Series series = series_of("name,v\nb,1\na,2\nc,3\n", "v");
  EXPECT_EQ(series.index.kind, IndexKind::label);
  EXPECT_EQ(series.index.text, (Names{"b", "a", "c"}));
  EXPECT_EQ(series.future_index(2), (Names{"+1", "+2"}));
  series = series_of("id,v\n3,1\n2,2\n", "v");  // numbers, but not increasing
  EXPECT_EQ(series.index.kind, IndexKind::label);
  series = series_of("year,v\n1990,1\n1990.5,2\n1991,3\n", "v");
  EXPECT_EQ(series.future_index(2), (Names{"1991.5", "1992"}));
}

TEST(Series, ReadsEveryDateFormatAndItsStep) {
  Series series =
      series_of("t,v\n2020-01-01T10:00,1\n2020-01-01T11:00,2\n2020-01-01T12:00,3\n", "v");
  EXPECT_EQ(series.index.date_format, DateFormat::iso_minutes);
  EXPECT_EQ(series.index.step_seconds, 3600);
  EXPECT_EQ(series.future_index(13),
            (Names{"2020-01-01T13:00", "2020-01-01T14:00", "2020-01-01T15:00", "2020-01-01T16:00",
                   "2020-01-01T17:00", "2020-01-01T18:00", "2020-01-01T19:00", "2020-01-01T20:00",
                   "2020-01-01T21:00", "2020-01-01T22:00", "2020-01-01T23:00", "2020-01-02T00:00",
                   "2020-01-02T01:00"}));
  series = series_of("t,v\n2020-02-28 23:59:30,1\n2020-02-28 23:59:45,2\n", "v");
  EXPECT_EQ(series.index.date_format, DateFormat::iso_seconds);
  EXPECT_EQ(series.future_index(2), (Names{"2020-02-29 00:00:00", "2020-02-29 00:00:15"}));
  series = series_of("month,v\n1949-01,112\n1949-02,118\n1949-03,132\n", "v");
  EXPECT_EQ(series.index.date_format, DateFormat::year_month);
  EXPECT_EQ(series.index.step_months, 1);
  EXPECT_EQ(series.future_index(11).back(), "1950-02");
  series = series_of("q,v\n2019/03/31,1\n2019/06/30,2\n2019/09/30,3\n2019/12/31,4\n", "v");
  EXPECT_EQ(series.index.date_format, DateFormat::slash_date);
  EXPECT_EQ(series.index.step_months, 3);
  EXPECT_TRUE(series.index.step_month_end);
  EXPECT_EQ(series.future_index(2), (Names{"2020/03/31", "2020/06/30"}));
  series = series_of("d,v\n2019-01-15,1\n2020-01-15,2\n", "v");
  EXPECT_EQ(series.index.step_months, 12);
  EXPECT_EQ(series.future_index(1), Names{"2021-01-15"});
  EXPECT_EQ(lstm::format_date(0, DateFormat::iso_seconds, 'T'), "1970-01-01T00:00:00");
  EXPECT_EQ(lstm::format_date(-86400, DateFormat::yyyymmdd), "19691231");
}

TEST(Series, RejectsCellsThatAreNotNumbers) {
  EXPECT_TRUE(throws_error(
      [] { lstm::load_series(fixture("not_a_number.csv"), "co2"); },
      {fixture("not_a_number.csv") + ": line 12, column 'co2': 'abc' is not a number"}));
  EXPECT_TRUE(
      throws_error([] { lstm::load_series(fixture("semicolon.csv"), "b", {"a"}); },
                   {fixture("semicolon.csv") + ": line 2, column 'a': '1,5' is not a number"}));
  EXPECT_TRUE(throws_error([] { series_of("t,v\n1,2\n2,inf\n", "v"); },
                           {"mem.csv: line 3, column 'v': 'inf' is not a finite number"}));
  EXPECT_TRUE(
      throws_error([] { series_of("t,v\n1,2\n2,0x10\n", "v"); }, {"'0x10' is not a number"}));
}

TEST(Series, RejectsAColumnWithoutValues) {
  EXPECT_TRUE(throws_error(
      [] { lstm::load_series(fixture("all_missing.csv"), "temp", {"co2"}); },
      {fixture("all_missing.csv") + ": column 'co2' has no values: all 3 cells are missing"}));
}

TEST(Series, RejectsUnknownColumnsListingTheAvailableOnes) {
  EXPECT_TRUE(throws_error([] { lstm::load_series(co2_path(), "CO2"); },
                           {"co2.csv: no column 'CO2'; the columns are 'date', 'co2'"}));
  EXPECT_TRUE(throws_error(
      [] {
        lstm::load_series(fixture("tab.tsv"), "x", {"y", "z"});
      },
      {"tab.tsv: no column 'z'; the columns are 'step', 'x', 'y'"}));
}

TEST(Series, RejectsBadOrUnorderedDates) {
  EXPECT_TRUE(throws_error(
      [] { series_of("date,v\n2000-01-01,1\n2000-13-01,2\n", "v"); },
      {"mem.csv: line 3, column 'date': '2000-13-01' is not a date in the form YYYY-MM-DD"}));
  EXPECT_TRUE(
      throws_error([] { series_of("date,v\n20000228,1\n20000230,2\n", "v"); },
                   {"line 3, column 'date': '20000230' is not a date in the form YYYYMMDD"}));
  EXPECT_TRUE(throws_error(
      [] { series_of("date,v\n2000-01-08,1\n2000-01-01,2\n", "v"); },
      {"line 3, column 'date': '2000-01-01' is not after '2000-01-08' (rows must be in "
       "chronological order)"}));
  EXPECT_TRUE(throws_error([] { series_of("date,v\n2000-01-08,1\n,2\n", "v"); },
                           {"line 3, column 'date': ''"}));
}

TEST(Series, SplitsChronologically) {
  EXPECT_EQ(lstm::split_point(10, 0.2), 8);
  EXPECT_EQ(lstm::split_point(2284, 0.1), 2056);
  EXPECT_EQ(lstm::split_point(10, 0.01), 9);  // at least one item held out
  EXPECT_EQ(lstm::split_point(2, 0.99), 1);   // and one kept
  EXPECT_TRUE(throws_error([] { lstm::split_point(10, 0.0); },
                           {"validation fraction 0 is not between 0 and 1"}));
  EXPECT_TRUE(throws_error([] { lstm::split_point(10, 1.0); },
                           {"validation fraction 1 is not between 0 and 1"}));
  EXPECT_TRUE(throws_error([] { lstm::split_point(1, 0.5); }, {"cannot split 1 items"}));
}

TEST(Series, ReadsAFileWrittenByAnotherProgram) {
  TempDir dir;
  write_bytes(dir.file("prices.csv"),
              "\"Date\";\"Open\";\"Close\"\r\n2024-01-02;10.5;11\r\n2024-01-03;;12\r\n2024-01-04;"
              "12.5;13\r\n");
  const Series series = lstm::load_series(dir.file("prices.csv"), "Close", {"Open"});
  EXPECT_EQ(series.values, (std::vector<double>{11, 10.5, 12, 11.5, 13, 12.5}));
  EXPECT_EQ(series.missing, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(series.index.step_seconds, 86400);
}

}  // namespace
