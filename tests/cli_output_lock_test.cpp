// One writer per output: while `lstm train` runs, a second one with the same --out, or the same
// checkpoint, is refused with one line naming the path and the running process; once the first
// ends (here by Ctrl-C), its lock files are gone and the output can be trained again.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

std::string train(const std::string& data, const std::string& out, const std::string& extra) {
  return cli + " train --task charlm --data " + shell_quote(data) + " --out " + shell_quote(out) +
         " --hidden 32 --embedding 8 --window 20 --threads 1 --quiet " + extra;
}

void expect_refused(const std::string& command, const std::string& path, pid_t holder,
                    const std::string& option) {
  const test_util::CommandResult result = test_util::run_command(command);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(test_util::lines_of(result.err).size(), 1u) << result.err;
  EXPECT_NE(result.err.find("lstm: " + path + ": another lstm train (process " +
                            std::to_string(holder) + ") is writing it"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find(option), std::string::npos) << result.err;
}

TEST(CliOutputLock, SecondWriterOfTheSameOutputOrCheckpointIsRefused) {
  test_util::TempDir dir;
  const std::string data = dir.file("t.txt"), model = dir.file("m.safetensors");
  {
    std::ofstream out(data);
    for (int k = 0; k < 4000; ++k) out << "and the lord said unto moses "[k % 29];
  }
  // The first run: long enough to be running throughout (stopped below by SIGINT).
  const std::string line = "exec " + train(data, model, "--time-limit 120") + " >" +
                           shell_quote(dir.file("first.log")) + " 2>&1";
  const char* argv[] = {"/bin/sh", "-c", line.c_str(), nullptr};
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ),
            0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(model + ".ckpt.lock") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(fs::exists(model + ".lock"));

  expect_refused(train(data, model, "--epochs 1"), model, pid, "--out");
  const std::string other = dir.file("other.safetensors");
  expect_refused(train(data, other, "--epochs 1 --checkpoint " + shell_quote(model + ".ckpt")),
                 model + ".ckpt", pid, "--checkpoint");
  EXPECT_FALSE(fs::exists(other + ".lock")) << "the refused run left its own lock behind";
  EXPECT_FALSE(fs::exists(other));

  ::kill(pid, SIGINT);  // stops after the current batch, with a checkpoint and the model
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << test_util::read_file(dir.file("first.log"));
  EXPECT_FALSE(fs::exists(model + ".lock"));
  EXPECT_FALSE(fs::exists(model + ".ckpt.lock"));

  const test_util::CommandResult again = test_util::run_command(train(data, model, "--epochs 1"));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(test_util::directory_entries(dir.path()),
            (std::vector<std::string>{"first.log", "m.safetensors", "t.txt"}));
}

TEST(CliOutputLock, CheckpointAndOutputMustDiffer) {
  test_util::TempDir dir;
  const std::string data = dir.file("t.txt"), model = dir.file("m.safetensors");
  std::ofstream(data) << "abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc";
  test_util::expect_cli_failure(train(data, model, "--checkpoint " + shell_quote(model)),
                                dir.path(), {model, "--out and --checkpoint name the same file"});
}

}  // namespace
