// CSV tables: quoted fields, CRLF, byte-order mark, delimiters, and every rejection of a
// malformed file with its one-line message.
#include <gtest/gtest.h>

#include "io_test_util.hpp"
#include "lstm/data.hpp"

namespace {

using lstm::CsvTable;
using lstm_test::TempDir;
using lstm_test::throws_error;
using lstm_test::write_bytes;
using Rows = std::vector<std::vector<std::string>>;

std::string fixture(const std::string& name) {
  return std::string(LSTM_TEST_DATA_DIR) + "/csv/" + name;
}

TEST(Csv, ReadsQuotedFieldsWithCommasQuotesAndLineBreaks) {
  const CsvTable table = lstm::read_csv(fixture("quoted.csv"));
  EXPECT_EQ(table.path, fixture("quoted.csv"));
  EXPECT_EQ(table.delimiter, ',');
  EXPECT_EQ(table.columns, (std::vector<std::string>{"name", "value", "comment"}));
  EXPECT_EQ(
      table.rows,
      (Rows{{"Smith, John", "1.5", "said \"hi\""}, {"plain", "2", "two\nlines"}, {"", "3", ""}}));
  EXPECT_EQ(table.lines, (std::vector<int64_t>{2, 3, 5}));  // the quoted line break counts
}

TEST(Csv, SkipsTheByteOrderMarkAndReadsCrlf) {
  const CsvTable table = lstm::read_csv(fixture("bom_crlf.csv"));
  EXPECT_EQ(table.columns, (std::vector<std::string>{"date", "co2"}));
  ASSERT_EQ(table.rows.size(), 4u);  // the empty last line is ignored
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"2001-01-06", "370.1"}));
  EXPECT_EQ(table.rows[2], (std::vector<std::string>{"2001-01-20", ""}));
  EXPECT_EQ(table.rows[3], (std::vector<std::string>{"2001-01-27", "370.9"}));
}

TEST(Csv, DetectsOrTakesTheDelimiter) {
  const CsvTable semicolon = lstm::read_csv(fixture("semicolon.csv"));
  EXPECT_EQ(semicolon.delimiter, ';');
  EXPECT_EQ(semicolon.rows, (Rows{{"2020-01", "1,5", "2"}, {"2020-02", "3", "4"}}));
  const CsvTable tab = lstm::read_csv(fixture("tab.tsv"));
  EXPECT_EQ(tab.delimiter, '\t');
  EXPECT_EQ(tab.columns, (std::vector<std::string>{"step", "x", "y"}));
  EXPECT_EQ(tab.rows.back(), (std::vector<std::string>{"2", "5", "6"}));
  // Given explicitly, a comma splits "1,5" and the rows no longer match the header.
  EXPECT_TRUE(throws_error([] { lstm::read_csv(fixture("semicolon.csv"), {.delimiter = ','}); },
                           {fixture("semicolon.csv") + ": line 2: 2 fields, header has 1"}));
  EXPECT_TRUE(throws_error([] { lstm::parse_csv("x.csv", "a|b\n1|2\n", {.delimiter = '|'}); },
                           {"x.csv: unsupported delimiter '|'"}));
}

TEST(Csv, ReadsEdgeCasesOfLayout) {
  // One column, no final newline, spaces around fields, a quoted delimiter in the header.
  CsvTable table = lstm::parse_csv("mem", "value\n1\n 2 \n3");
  EXPECT_EQ(table.rows, (Rows{{"1"}, {"2"}, {"3"}}));
  table = lstm::parse_csv("mem", "\"a,b\", c \n1,2\n\n\n");
  EXPECT_EQ(table.columns, (std::vector<std::string>{"a,b", "c"}));
  EXPECT_EQ(table.rows, (Rows{{"1", "2"}}));
  // An empty line inside a one-column file is an empty field; a CR alone at the end ends a line.
  table = lstm::parse_csv("mem", "v\n1\n\n3\r");
  EXPECT_EQ(table.rows, (Rows{{"1"}, {""}, {"3"}}));
}

TEST(Csv, RejectsAnEmptyFile) {
  EXPECT_TRUE(throws_error([] { lstm::read_csv(fixture("empty.csv")); },
                           {fixture("empty.csv") + ": empty file"}));
  EXPECT_TRUE(
      throws_error([] { lstm::parse_csv("blank.csv", "\n\r\n\n"); }, {"blank.csv: empty file"}));
  EXPECT_TRUE(
      throws_error([] { lstm::parse_csv("bom.csv", "\xEF\xBB\xBF"); }, {"bom.csv: empty file"}));
}

TEST(Csv, RejectsAHeaderWithoutRows) {
  EXPECT_TRUE(throws_error([] { lstm::read_csv(fixture("header_only.csv")); },
                           {fixture("header_only.csv") + ": line 1: a header but no data rows"}));
}

TEST(Csv, RejectsRaggedRows) {
  EXPECT_TRUE(throws_error([] { lstm::read_csv(fixture("ragged.csv")); },
                           {fixture("ragged.csv") + ": line 17: 3 fields, header has 2"}));
  EXPECT_TRUE(throws_error([] { lstm::parse_csv("short.csv", "a,b,c\n1,2,3\n4\n"); },
                           {"short.csv: line 3: 1 field, header has 3"}));
  EXPECT_TRUE(throws_error([] { lstm::parse_csv("gap.csv", "a,b\n1,2\n\n3,4\n"); },
                           {"gap.csv: line 3: empty line, header has 2"}));
}

TEST(Csv, RejectsQuotingErrors) {
  EXPECT_TRUE(throws_error(
      [] { lstm::read_csv(fixture("unterminated.csv")); },
      {fixture("unterminated.csv") + ": line 3: the quoted field 2 opened here is never closed"}));
  EXPECT_TRUE(throws_error([] { lstm::parse_csv("q.csv", "a,b\n1,\"x\"y\n"); },
                           {"q.csv: line 2: unexpected 'y' after the closing quote of field 2"}));
}

TEST(Csv, RejectsBinaryAndNonUtf8Files) {
  EXPECT_TRUE(throws_error(
      [] { lstm::read_csv(fixture("nul.csv")); },
      {fixture("nul.csv") + ": NUL byte at byte 10 (line 3): binary data, not a CSV text"}));
  EXPECT_TRUE(throws_error(
      [] { lstm::read_csv(fixture("latin1.csv")); },
      {fixture("latin1.csv") + ": invalid UTF-8 at byte 11 (line 2): ", "not a UTF-8 text"}));
}

TEST(Csv, RejectsBadColumnNames) {
  EXPECT_TRUE(throws_error([] { lstm::read_csv(fixture("duplicate_column.csv")); },
                           {fixture("duplicate_column.csv") +
                            ": line 1: column name 'co2' appears twice (columns 2 and 3)"}));
  EXPECT_TRUE(throws_error(
      [] { lstm::read_csv(fixture("empty_column_name.csv")); },
      {fixture("empty_column_name.csv") + ": line 1: column 2 of the header has no name"}));
}

TEST(Csv, FindsColumnsByName) {
  const CsvTable table = lstm::read_csv(fixture("tab.tsv"));
  EXPECT_EQ(table.column_index("y"), 2u);
  EXPECT_TRUE(
      throws_error([&] { table.column_index("z"); },
                   {fixture("tab.tsv") + ": no column 'z'; the columns are 'step', 'x', 'y'"}));
}

TEST(Csv, RejectsMissingFilesAndDirectories) {
  TempDir dir;
  EXPECT_TRUE(throws_error([&] { lstm::read_csv(dir.file("absent.csv")); },
                           {dir.file("absent.csv") + ": cannot open for reading"}));
  EXPECT_TRUE(throws_error([&] { lstm::read_csv(dir.path().string()); }, {"is a directory"}));
  write_bytes(dir.file("ok.csv"), "a\n1\n");
  EXPECT_EQ(lstm::read_csv(dir.file("ok.csv")).rows.size(), 1u);
}

}  // namespace
