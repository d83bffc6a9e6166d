// Resume safety: `lstm train --resume` with an option that changes the model, the data or the
// batches is refused with one line naming the option and both values, leaving the checkpoint as
// it was and writing no model; options that may change (threads, time limit, report, rate) resume.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

struct TrainRun {
  test_util::TempDir dir;
  std::string data = dir.file("s.csv"), model = dir.file("m.safetensors"),
              checkpoint = dir.file("m.ckpt");
  std::string command(const std::string& options) const {
    return cli + " train --data " + shell_quote(data) + " --out " + shell_quote(model) +
           " --checkpoint " + shell_quote(checkpoint) + " --quiet " + options;
  }
};

void write_sine(const std::string& path, int rows) {
  std::ofstream out(path);
  out << "t,y\n";
  for (int t = 0; t < rows; ++t) out << t << ',' << std::sin(t / 4.0) << '\n';
}

const std::string kForecast =
    "--task forecast --target y --hidden 8 --window 20 --seed 1 --threads 1";

// Trains one epoch with `base`, then resumes with `changed` options: refused naming both values.
void expect_refused(TrainRun& run, const std::string& base, const std::string& changed,
                    const std::string& option, const std::string& now, const std::string& was) {
  ASSERT_EQ(test_util::run_command(run.command(base + " --epochs 1")).exit_code, 0);
  fs::remove(run.model);
  const std::string checkpoint = test_util::read_file(run.checkpoint);
  test_util::expect_cli_failure(
      run.command(changed + " --epochs 2 --resume"), run.dir.path(),
      {run.checkpoint, "cannot resume: " + option + " is " + now + " but was " + was});
  EXPECT_EQ(test_util::read_file(run.checkpoint), checkpoint);
}

TEST(CliResumeSafety, ChangedModelOptionsAreRefused) {
  const std::vector<std::vector<std::string>> cases = {
      {"--hidden 16", "--hidden", "16", "8"},
      {"--layers 2", "--layers", "2", "1"},
      {"--cell gru", "--cell", "gru", "lstm"},
      {"--window 10", "--window", "10", "20"},
      {"--batch 8", "--batch", "8", "32"},
      {"--seed 2", "--seed", "2", "1"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c[0]);
    TrainRun run;
    write_sine(run.data, 200);
    std::string changed = kForecast;
    if (c[1] == "--seed")
      changed.replace(changed.find("--seed 1"), 8, c[0]);
    else if (c[1] == "--hidden")
      changed.replace(changed.find("--hidden 8"), 10, c[0]);
    else if (c[1] == "--window")
      changed.replace(changed.find("--window 20"), 11, c[0]);
    else
      changed += " " + c[0];
    expect_refused(run, kForecast, changed, c[1], c[2], c[3]);
  }
}

TEST(CliResumeSafety, ChangedDataIsRefusedBySizeAndChecksum) {
  TrainRun run;
  write_sine(run.data, 200);
  ASSERT_EQ(test_util::run_command(run.command(kForecast + " --epochs 1")).exit_code, 0);
  const std::string checkpoint = test_util::read_file(run.checkpoint);
  const auto size = fs::file_size(run.data);
  std::ofstream(run.data, std::ios::app) << "200,0.25\n";
  test_util::expect_cli_failure(
      run.command(kForecast + " --epochs 2 --resume"), run.dir.path(),
      {"cannot resume: --data is " + std::to_string(size + 9) + " bytes, checksum ",
       "but was " + std::to_string(size) + " bytes, checksum "});
  EXPECT_EQ(test_util::read_file(run.checkpoint), checkpoint);
}

TEST(CliResumeSafety, ChangedTaskIsRefused) {
  TrainRun run;
  write_sine(run.data, 200);
  expect_refused(run, kForecast, "--task charlm --hidden 8 --window 20 --seed 1 --threads 1", "--task",
                 "charlm", "forecast");
}

TEST(CliResumeSafety, HarmlessOptionsMayChange) {
  TrainRun run;
  write_sine(run.data, 200);
  ASSERT_EQ(test_util::run_command(run.command(kForecast + " --epochs 1")).exit_code, 0);
  const test_util::CommandResult resumed =
      test_util::run_command(run.command("--task forecast --target y --hidden 8 --window 20 "
                                         "--seed 1 --epochs 2 --resume --threads 2 "
                                         "--time-limit 100 --lr 0.001 --report " +
                                         shell_quote(run.dir.file("r.html"))));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(fs::exists(run.model));
  EXPECT_TRUE(fs::exists(run.dir.file("r.html")));
}

}  // namespace
