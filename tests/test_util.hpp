// Helpers shared by the tests: tensor comparison with a scaled tolerance, temporary directories,
// running a command and capturing its exit code and output, the matmul precision for a scope.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "lstm/io.hpp"
#include "lstm/precision.hpp"

namespace test_util {

// Built with AddressSanitizer or ThreadSanitizer (code several times slower; no address limits).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// Sets the matmul precision for one scope and restores fp32 after it.
struct PrecisionScope {
  explicit PrecisionScope(lstm::MatmulPrecision p) { lstm::set_matmul_precision(p); }
  ~PrecisionScope() { lstm::set_matmul_precision(lstm::MatmulPrecision::fp32); }
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;
};

// The worst element of |expected - actual| relative to max(1, max |expected|).
struct ScaledError {
  double error = 0.0;  // max |expected - actual| / max(1, max |expected|); infinity if any NaN/Inf
  size_t index = 0;    // where the worst difference is
};

template <typename T>
ScaledError scaled_error(std::span<const T> expected, std::span<const T> actual) {
  double scale = 1.0;
  for (T value : expected) scale = std::max(scale, std::abs(static_cast<double>(value)));
  ScaledError worst;
  for (size_t k = 0; k < std::min(expected.size(), actual.size()); ++k) {
    double diff = std::abs(static_cast<double>(expected[k]) - static_cast<double>(actual[k]));
    if (!std::isfinite(diff)) diff = INFINITY;
    if (diff / scale > worst.error) worst = {diff / scale, k};
  }
  return worst;
}

// Passes if max |expected - actual| <= tol * max(1, max |expected|); the failure message names
// the tensor, the worst index and both values.
template <typename T>
::testing::AssertionResult compare_tensors_impl(std::string_view name, std::span<const T> expected,
                                                std::span<const T> actual, double tol) {
  if (expected.size() != actual.size())
    return ::testing::AssertionFailure()
           << name << ": expected " << expected.size() << " elements, got " << actual.size();
  const ScaledError worst = scaled_error(expected, actual);
  if (worst.error <= tol) return ::testing::AssertionSuccess();
  std::ostringstream message;
  message.precision(9);
  message << name << ": scaled error " << worst.error << " > " << tol << " at index " << worst.index
          << ": expected " << expected[worst.index] << ", got " << actual[worst.index];
  return ::testing::AssertionFailure() << message.str();
}

inline ::testing::AssertionResult compare_tensors(std::string_view name,
                                                  std::span<const float> expected,
                                                  std::span<const float> actual, double tol) {
  return compare_tensors_impl(name, expected, actual, tol);
}
inline ::testing::AssertionResult compare_tensors(std::string_view name,
                                                  std::span<const double> expected,
                                                  std::span<const double> actual, double tol) {
  return compare_tensors_impl(name, expected, actual, tol);
}

// A tensor that must be in a safetensors file; throws lstm::Error naming it if absent.
inline const lstm::HostTensor& require_tensor(const lstm::SafetensorsContents& contents,
                                              const std::string& name, const std::string& file) {
  const lstm::HostTensor* tensor = contents.find(name);
  if (!tensor) throw lstm::Error(file + ": no tensor '" + name + "'");
  return *tensor;
}

// A fresh directory under the system's temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto base = std::filesystem::temp_directory_path();
    for (;;) {
      path_ = base / ("lstm_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The whole file as it is on disk ("" if it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The names in a directory, sorted (to check that a failed command left no file behind).
inline std::vector<std::string> directory_entries(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Quotes a word for /bin/sh.
inline std::string shell_quote(const std::string& word) {
  std::string quoted = "'";
  for (char ch : word) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return quoted + "'";
}

struct CommandResult {
  int exit_code = -1;  // the process's exit status; -1 if it did not exit normally
  std::string out;     // its stdout
  std::string err;     // its stderr
};

// The cells of the first table row after `from` in an HTML report `html` whose first cell is `first` (empty:
// none).
inline std::vector<std::string> row_cells(const std::string& html, const std::string& first,
                                   size_t from = 0) {
  const size_t start = html.find("<tr><td>" + first + "</td>", from);
  if (start == std::string::npos) return {};
  const size_t end = html.find("</tr>", start);
  std::vector<std::string> cells;
  for (size_t open = html.find("<td", start); open < end; open = html.find("<td", open + 1)) {
    const size_t text = html.find('>', open) + 1;
    cells.push_back(html.substr(text, html.find("</td>", text) - text));
  }
  return cells;
}

// Runs a /bin/sh command line, capturing stdout and stderr.
inline CommandResult run_command(const std::string& command) {
  TempDir capture;
  const std::string out_path = capture.file("stdout"), err_path = capture.file("stderr");
  const int status =
      std::system((command + " >" + shell_quote(out_path) + " 2>" + shell_quote(err_path)).c_str());
  CommandResult result;
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

// Runs `command` (the lstm CLI) and expects a clean failure: a non-zero exit, one line on
// stderr that starts "lstm: " and names each of `mentions`, and `directory` left as it was.
inline void expect_cli_failure(const std::string& command, const std::filesystem::path& directory,
                               const std::vector<std::string>& mentions) {
  const std::vector<std::string> before = directory_entries(directory);
  const CommandResult result = run_command(command);
  EXPECT_NE(result.exit_code, 0) << command;
  EXPECT_TRUE(result.err.starts_with("lstm: ")) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  for (const std::string& mention : mentions)
    EXPECT_NE(result.err.find(mention), std::string::npos) << "'" << mention << "' not in: " << result.err;
  EXPECT_EQ(directory_entries(directory), before) << "files created or removed by: " << command;
}

// Monthly rows from 2000-01-01: date, sales (seasonal with a trend; "NA" at `missing_row`) and
// temp (seasonal).
inline void write_monthly_series(const std::string& path, int rows, int missing_row = -1) {
  std::ofstream out(path);
  out << "date,sales,temp\n";
  for (int t = 0; t < rows; ++t) {
    char date[40];  // room for any int, so that GCC cannot see a truncation
    std::snprintf(date, sizeof date, "%04d-%02d-01", 2000 + t / 12, 1 + t % 12);
    out << date << ',';
    if (t == missing_row)
      out << "NA";
    else
      out << 100.0 + 10.0 * std::sin(2.0 * 3.14159265358979 * t / 12.0) + 0.2 * t;
    out << ',' << 15.0 + 5.0 * std::cos(2.0 * 3.14159265358979 * t / 12.0) << '\n';
  }
}

}  // namespace test_util
