// Kill and resume: `lstm train --task forecast` killed with SIGKILL in the middle of a run, then
// run again with --resume, ends with exactly the weights of a run that never stopped.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <optional>
#include <string>
#include <thread>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using test_util::shell_quote;

// 1500 rows of two tones: with --hidden 64 --window 50 an epoch (1150 windows) takes about
// 0.2 s on one thread in an optimised build. The runs say --season 0: the seasonal classical
// methods compared with the network after training would take most of the test's time.
std::string write_tones(const test_util::TempDir& dir) {
  const std::string path = dir.file("tones.csv");
  std::ofstream out(path);
  out << "step,y\n";
  const double two_pi = 2.0 * std::numbers::pi;
  for (int t = 0; t < 1500; ++t)
    out << t << ',' << std::sin(two_pi * t / 25.0) + 0.3 * std::sin(two_pi * t / 7.0) << '\n';
  return path;
}

constexpr int kEpochs = 6;

std::string train_command(const std::string& data, const std::string& out) {
  return shell_quote(LSTM_CLI_PATH) + " train --task forecast --data " + shell_quote(data) +
         " --target y --out " + shell_quote(out) + " --epochs " + std::to_string(kEpochs) +
         " --patience " + std::to_string(kEpochs) +
         " --hidden 64 --window 50 --seed 5 --threads 1 --season 0";
}

// Starts `command` under /bin/sh (exec'd, so the pid is the command's own), output to `log`.
pid_t spawn(const std::string& command, const std::string& log) {
  const std::string line = "exec " + command + " >" + shell_quote(log) + " 2>&1";
  const char* argv[] = {"/bin/sh", "-c", line.c_str(), nullptr};
  pid_t pid = -1;
  const int error =
      posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ);
  return error == 0 ? pid : -1;
}

// The inode of `path` (each atomic rewrite renames a new file into place), if it exists.
std::optional<ino_t> inode_of(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return std::nullopt;
  return info.st_ino;
}


TEST(CliResume, KilledMidRunAndResumedEqualsUninterrupted) {
  test_util::TempDir dir;
  const std::string data = write_tones(dir);
  const std::string straight = dir.file("straight.safetensors");
  const test_util::CommandResult uninterrupted =
      test_util::run_command(train_command(data, straight));
  ASSERT_EQ(uninterrupted.exit_code, 0) << uninterrupted.err;

  // Start the same run, wait until its checkpoint has been written and then rewritten (at least
  // two epochs done), and kill it.
  const std::string model = dir.file("killed.safetensors"), checkpoint = model + ".ckpt";
  const std::string log = dir.file("killed.log");
  const pid_t pid = spawn(train_command(data, model), log);
  ASSERT_GT(pid, 0);
  std::optional<ino_t> first_write;
  bool rewritten = false, exited = false;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!rewritten && std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    const std::optional<ino_t> now = inode_of(checkpoint);
    if (!first_write) first_write = now;
    rewritten = now && first_write && *now != *first_write;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
  }
  ASSERT_TRUE(rewritten) << "the run ended or timed out before its second checkpoint: "
                         << test_util::read_file(log);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the run finished before it could be killed: " << test_util::read_file(log);
  EXPECT_FALSE(fs::exists(model)) << "a killed run wrote its model";
  ASSERT_TRUE(fs::exists(checkpoint));

  const test_util::CommandResult resumed =
      test_util::run_command(train_command(data, model) + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  // It continued after the second epoch at least, and went to the end.
  EXPECT_EQ(resumed.out.find("epoch 1/"), std::string::npos) << resumed.out;
  EXPECT_EQ(resumed.out.find("epoch 2/"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("epoch " + std::to_string(kEpochs) + "/"), std::string::npos)
      << resumed.out;
  EXPECT_FALSE(fs::exists(checkpoint));

  const lstm::SafetensorsContents expected = lstm::read_safetensors(straight);
  const lstm::SafetensorsContents actual = lstm::read_safetensors(model);
  EXPECT_EQ(actual.metadata, expected.metadata);
  ASSERT_EQ(actual.tensors.size(), expected.tensors.size());
  for (size_t k = 0; k < expected.tensors.size(); ++k) {
    const auto& [name, tensor] = expected.tensors[k];
    EXPECT_EQ(actual.tensors[k].first, name);
    const lstm::HostTensor& other = actual.tensors[k].second;
    ASSERT_EQ(other.shape, tensor.shape) << name;
    EXPECT_EQ(
        std::memcmp(other.data.data(), tensor.data.data(), tensor.data.size() * sizeof(float)), 0)
        << name << " is not bit-identical";
  }
}

}  // namespace
