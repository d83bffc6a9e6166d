// Kill storm: `lstm train --task forecast` killed with SIGKILL at 20 moments drawn from a fixed
// seed (during batches, validation, checkpoint writes and renames), resumed after each; every
// checkpoint left behind loads, no model appears before the end, and the final weights are
// bit-identical to a run that was never interrupted, with no temporary or lock file left.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <string>
#include <thread>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using test_util::shell_quote;

constexpr int kKills = 20;
// Long enough that the 20 kills land before the run ends; sanitized code is about ten times
// slower, so fewer epochs last as long. --season 0: the seasonal classical methods compared with
// the network after training would take most of the test's time.
const std::string kEpochs = test_util::kSanitized ? "100" : "400";

std::string train_command(const std::string& data, const std::string& out) {
  return shell_quote(LSTM_CLI_PATH) + " train --task forecast --data " + shell_quote(data) +
         " --target y --out " + shell_quote(out) +
         " --epochs " + kEpochs +
         " --patience 400 --hidden 16 --window 30 --seed 5 --threads 1 --quiet --season 0";
}

pid_t spawn(const std::string& command) {
  const std::string line = "exec " + command + " >/dev/null 2>&1";
  const char* argv[] = {"/bin/sh", "-c", line.c_str(), nullptr};
  pid_t pid = -1;
  return posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv),
                     environ) == 0
             ? pid
             : -1;
}

TEST(CliKillStorm, TwentyKillsResumeToBitIdenticalWeights) {
  test_util::TempDir dir;
  const std::string data = dir.file("tones.csv");
  {
    std::ofstream out(data);
    out << "step,y\n";
    for (int t = 0; t < 600; ++t)
      out << t << ',' << std::sin(2 * std::numbers::pi * t / 25) +
                             0.3 * std::sin(2 * std::numbers::pi * t / 7)
          << '\n';
  }
  const std::string straight = dir.file("straight.safetensors");
  const test_util::CommandResult uninterrupted =
      test_util::run_command(train_command(data, straight));
  ASSERT_EQ(uninterrupted.exit_code, 0) << uninterrupted.err;

  const std::string model = dir.file("stormed.safetensors"), checkpoint = model + ".ckpt";
  std::mt19937 random(20261203);
  // Training runs long enough (kEpochs) that the 20 kills land before it ends: after it, the
  // model is written and the run goes on to its rolling-origin validation.
  std::uniform_int_distribution<int> delay_ms(5, 120);
  int kills = 0, finished_early = 0;
  for (int run = 0; kills < kKills; ++run) {
    const bool resume = fs::exists(checkpoint);
    const pid_t pid = spawn(train_command(data, model) + (resume ? " --resume" : ""));
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
      ++kills;
    } else {
      ++finished_early;  // it ended (cleanly) before the kill: the storm is over
      break;
    }
    EXPECT_FALSE(fs::exists(model)) << "a killed run wrote its model (kill " << kills << ")";
    if (fs::exists(checkpoint)) {
      EXPECT_NO_THROW((void)lstm::load_checkpoint(checkpoint)) << "kill " << kills;
    }
    ASSERT_LT(run, 200) << "the storm makes no progress";
  }
  EXPECT_EQ(kills, kKills) << "the run finished after " << kills << " kills";

  if (!finished_early) {
    const bool resume = fs::exists(checkpoint);
    const test_util::CommandResult last =
        test_util::run_command(train_command(data, model) + (resume ? " --resume" : ""));
    ASSERT_EQ(last.exit_code, 0) << last.err;
  }
  const lstm::SafetensorsContents expected = lstm::read_safetensors(straight);
  const lstm::SafetensorsContents actual = lstm::read_safetensors(model);
  EXPECT_EQ(actual.metadata, expected.metadata);
  ASSERT_EQ(actual.tensors.size(), expected.tensors.size());
  for (size_t k = 0; k < expected.tensors.size(); ++k) {
    const auto& [name, tensor] = expected.tensors[k];
    const lstm::HostTensor& other = actual.tensors[k].second;
    ASSERT_EQ(other.shape, tensor.shape) << name;
    EXPECT_EQ(
        std::memcmp(other.data.data(), tensor.data.data(), tensor.data.size() * sizeof(float)), 0)
        << name << " is not bit-identical";
  }
  EXPECT_EQ(test_util::directory_entries(dir.path()),
            (std::vector<std::string>{"stormed.safetensors", "straight.safetensors", "tones.csv"}));
}

}  // namespace
