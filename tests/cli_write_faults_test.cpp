// Write faults through the CLI: past the file size limit (RLIMIT_FSIZE via prlimit, no privileges
// needed) and on a full filesystem (a small tmpfs, where mounting is allowed), every writer —
// model, checkpoint, report, npy, safetensors, forecast CSV — fails with one line naming the
// path, exit 1, the previous file of that name intact and no temporary file left behind.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);
const std::string examples = std::string(LSTM_TEST_DATA_DIR) + "/../../examples/data/";

// `command` (an lstm command line) with the file size limit set to `bytes`.
std::string limited(size_t bytes, const std::string& command) {
  return "prlimit --fsize=" + std::to_string(bytes) + " " + command;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

void write_sine(const std::string& path, int rows = 200) {
  std::ofstream out(path);
  out << "t,y\n";
  for (int t = 0; t < rows; ++t) out << t << ',' << std::sin(t / 4.0) << '\n';
}

// Runs `command`, which must fail writing `path`: exit 1, one error line naming `path` and `reason`,
// `path` still holding `previous`, and the directory's names exactly `expected_entries`.
void expect_write_failure(const std::string& command, const std::string& path,
                          const std::string& previous, const std::string& reason,
                          const fs::path& directory) {
  const std::vector<std::string> before = test_util::directory_entries(directory);
  const test_util::CommandResult result = test_util::run_command(command);
  EXPECT_EQ(result.exit_code, 1) << command << "\n" << result.err;
  // Warnings (forecast's validation says what it could not compare) may come first; the error
  // is one line, the last.
  const std::vector<std::string> lines = test_util::lines_of(result.err);
  ASSERT_FALSE(lines.empty()) << command;
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](const std::string& line) { return line.starts_with("lstm: "); }),
            1) << result.err;
  EXPECT_TRUE(lines.back().starts_with("lstm: " + path + ": ")) << result.err;
  EXPECT_NE(result.err.find(reason), std::string::npos) << result.err;
  EXPECT_EQ(test_util::read_file(path), previous) << path << " was changed";
  EXPECT_EQ(test_util::directory_entries(directory), before) << "left behind by: " << command;
}

std::string forward_command(const std::string& output) {
  return cli + " forward --model " + shell_quote(examples + "demo_lstm.safetensors") +
         " --input " + shell_quote(examples + "demo_input.npy") + " --output " +
         shell_quote(output);
}

TEST(CliWriteFaults, NpyOutputPastTheFileSizeLimit) {
  test_util::TempDir dir;
  const std::string y = dir.file("y.npy");
  write_text(y, "previous");
  expect_write_failure(limited(4096, forward_command(y)), y, "previous", "File too large",
                       dir.path());
}

TEST(CliWriteFaults, SafetensorsGradientsPastTheFileSizeLimit) {
  test_util::TempDir dir;
  const std::string y = dir.file("y.npy"), grads = dir.file("g.safetensors");
  write_text(grads, "previous");
  // Y (20 KB) fits under the limit; the gradients (150 KB) do not.
  const std::string command = forward_command(y) + " --grad-output " +
                              shell_quote(examples + "demo_grad_output.npy") + " --grads " +
                              shell_quote(grads);
  const std::vector<std::string> before = test_util::directory_entries(dir.path());
  const test_util::CommandResult result = test_util::run_command(limited(65536, command));
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("lstm: " + grads + ": "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("File too large"), std::string::npos) << result.err;
  EXPECT_EQ(test_util::read_file(grads), "previous");
  for (const std::string& name : test_util::directory_entries(dir.path()))
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << name;
}

TEST(CliWriteFaults, TrainingKeepsItsLastGoodCheckpointAndModel) {
  test_util::TempDir dir;
  const std::string data = dir.file("s.csv"), model = dir.file("m.safetensors"),
                    checkpoint = dir.file("m.ckpt");
  write_sine(data);
  const std::string train = cli + " train --task forecast --data " + shell_quote(data) +
                            " --target y --out " + shell_quote(model) + " --checkpoint " +
                            shell_quote(checkpoint) +
                            " --hidden 8 --window 20 --threads 1 --quiet --seed 1";
  ASSERT_EQ(test_util::run_command(train + " --epochs 1").exit_code, 0);
  const std::string good_checkpoint = test_util::read_file(checkpoint);
  const std::string good_model = test_util::read_file(model);
  // The checkpoint (8.7 KB) is written after epoch 2 and fails; the run stops there.
  expect_write_failure(limited(3000, train + " --epochs 3 --resume"), checkpoint, good_checkpoint,
                       "File too large", dir.path());
  EXPECT_EQ(test_util::read_file(model), good_model);
}

TEST(CliWriteFaults, ReportPastTheFileSizeLimit) {
  test_util::TempDir dir;
  const std::string data = dir.file("s.csv"), report = dir.file("r.html");
  write_sine(data, 1000);  // a long series: a large report (its chart) beside a small model
  const std::string train = cli + " train --task forecast --data " + shell_quote(data) +
                            " --target y --out " + shell_quote(dir.file("m.safetensors")) +
                            " --report " + shell_quote(report) +
                            " --hidden 4 --window 20 --threads 1 --quiet --seed 1 --epochs 5";
  // Sizes of an unlimited run (its checkpoint kept): the limit goes between the largest of the
  // model and checkpoint and the report.
  const std::string kept = " --checkpoint " + shell_quote(dir.file("sizes.ckpt"));
  ASSERT_EQ(test_util::run_command(train + kept).exit_code, 0);
  const auto checkpoint_size = fs::file_size(dir.file("sizes.ckpt"));
  const auto report_size = fs::file_size(report);
  ASSERT_GT(report_size, checkpoint_size + 200);
  fs::remove(dir.file("sizes.ckpt"));
  write_text(report, "previous");
  const test_util::CommandResult result =
      test_util::run_command(limited((checkpoint_size + report_size) / 2, train));
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find(report + ": cannot write: File too large"), std::string::npos)
      << result.err;
  EXPECT_EQ(test_util::read_file(report), "previous");
  for (const std::string& name : test_util::directory_entries(dir.path()))
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << name;
}

TEST(CliWriteFaults, ForecastCsvPastTheFileSizeLimit) {
  test_util::TempDir dir;
  const std::string data = dir.file("s.csv"), model = dir.file("m.safetensors"),
                    out = dir.file("f.csv");
  write_sine(data);
  ASSERT_EQ(test_util::run_command(cli + " train --task forecast --data " + shell_quote(data) +
                                   " --target y --out " + shell_quote(model) +
                                   " --hidden 8 --window 20 --horizon 1 --threads 1 --quiet --epochs 1")
                .exit_code,
            0);
  write_text(out, "previous");
  expect_write_failure(limited(1000, cli + " forecast --model " + shell_quote(model) + " --data " +
                                         shell_quote(data) + " --steps 300 --output " +
                                         shell_quote(out)),
                       out, "previous", "File too large", dir.path());
}

// A 64 KiB tmpfs: needs the right to mount (root in a container); skipped elsewhere.
class SmallFilesystem {
 public:
  explicit SmallFilesystem(const fs::path& where) : where_(where) {
    fs::create_directory(where_);
    mounted_ = ::mount("tmpfs", where_.c_str(), "tmpfs", 0, "size=64k") == 0;
  }
  ~SmallFilesystem() {
    if (mounted_) ::umount(where_.c_str());
  }
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;
  bool mounted() const { return mounted_; }

 private:
  fs::path where_;
  bool mounted_ = false;
};

TEST(CliWriteFaults, FullFilesystem) {
  test_util::TempDir dir;
  const SmallFilesystem small(dir.path() / "small");
  if (!small.mounted()) GTEST_SKIP() << "no permission to mount a tmpfs";
  const fs::path directory = dir.path() / "small";
  const std::string y = (directory / "y.npy").string(), grads = (directory / "g.safetensors").string();
  write_text(grads, "previous");
  // Y (20 KB) fits in 64 KiB; the gradients (150 KB) do not.
  const std::string command = forward_command(y) + " --grad-output " +
                              shell_quote(examples + "demo_grad_output.npy") + " --grads " +
                              shell_quote(grads);
  const test_util::CommandResult result = test_util::run_command(command);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("lstm: " + grads + ": "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("No space left on device"), std::string::npos) << result.err;
  EXPECT_EQ(test_util::read_file(grads), "previous");
  EXPECT_EQ(test_util::directory_entries(directory),
            (std::vector<std::string>{"g.safetensors", "y.npy"}));
}

}  // namespace
