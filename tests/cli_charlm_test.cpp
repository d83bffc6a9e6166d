// The language-model workflow run as a program: train, generate, eval (against PyTorch's score of
// the same file), Ctrl-C and resume, and bad input (one line naming the file, no output).
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/json_text.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using test_util::CommandResult;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

// Verses of a made-up book: structured, so that a small model learns something quickly.
std::string verses(int count) {
  const char* subjects[] = {"the LORD", "Moses", "the people", "Aaron"};
  const char* verbs[] = {"spake unto", "went before", "blessed", "called"};
  std::string text;
  for (int k = 0; k < count; ++k) {
    text += "Book " + std::to_string(1 + k / 20) + ":" + std::to_string(1 + k % 20) + " And ";
    text += subjects[(k * 5 + 1) % 4];
    text += ' ';
    text += verbs[(k * 3) % 4];
    text += ' ';
    text += subjects[(k * 7 + 2) % 4];
    text += ", saying, Go.\n";
  }
  return text;
}

void expect_same_tensors(const std::string& a, const std::string& b) {
  const lstm::SafetensorsContents x = lstm::read_safetensors(a), y = lstm::read_safetensors(b);
  ASSERT_EQ(x.tensors.size(), y.tensors.size());
  for (size_t k = 0; k < x.tensors.size(); ++k) {
    EXPECT_EQ(x.tensors[k].first, y.tensors[k].first);
    EXPECT_TRUE(x.tensors[k].second.data == y.tensors[k].second.data) << x.tensors[k].first;
  }
}

class CliCharLm : public ::testing::Test {
 protected:
  test_util::TempDir dir;
  std::string text = dir.file("book.txt");
  std::string model = dir.file("lm.safetensors");
  void SetUp() override { std::ofstream(text, std::ios::binary) << verses(400); }

  CommandResult run(const std::string& args) const {
    return test_util::run_command(cli + " " + args);
  }
  // A small model trained for a few epochs on one thread (so that runs are bit-reproducible).
  std::vector<std::string> train_words(const std::string& out, const std::string& epochs,
                                       const std::string& hidden) const {
    return {"train",   "--task",  "charlm", "--data",      text,  "--out",    out,
            "--hidden", hidden,   "--embedding", "8",      "--window", "32", "--batch", "16",
            "--epochs", epochs,   "--threads", "1"};
  }
  std::string train_args(const std::string& out, const std::string& extra = "",
                         const std::string& epochs = "3", const std::string& hidden = "32") const {
    std::string line;
    for (const std::string& word : train_words(out, epochs, hidden)) line += shell_quote(word) + " ";
    return line + extra;
  }
  void expect_failure(const std::string& args, const std::vector<std::string>& mentions) const {
    test_util::expect_cli_failure(cli + " " + args, dir.path(), mentions);
  }
};

TEST_F(CliCharLm, TrainGenerateAndEvalAgreeWithPyTorch) {
  const std::string report = dir.file("report.html");
  const CommandResult train = run(train_args(model, "--report " + shell_quote(report)));
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("bits per character"), std::string::npos) << train.out;
  EXPECT_FALSE(fs::exists(model + ".ckpt")) << "a finished run removes its checkpoint";
  const std::string html = test_util::read_file(report);
  EXPECT_NE(html.find("Loss by epoch"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);

  const CommandResult eval = run("eval --model " + shell_quote(model) + " --data " +
                                 shell_quote(text) + " --threads 1");
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const nlohmann::json score = lstm::json_text::parse(last_line(eval.out));
  const double bits = score.at("bits_per_char").get<double>();
  EXPECT_NEAR(score.at("loss").get<double>(), bits * std::log(2.0), 1e-9);
  EXPECT_EQ(score.at("characters").get<int64_t>(), static_cast<int64_t>(test_util::read_file(text).size()) - 1);
  // Uniform guessing over this text's characters costs about 5 bits.
  EXPECT_LT(bits, 3.0);

  const CommandResult torch = test_util::run_command(
      std::string(LSTM_PYTHON) + " " + shell_quote(std::string(LSTM_TEST_DATA_DIR) + "/../charlm_torch_check.py") +
      " " + shell_quote(model) + " " + shell_quote(text));
  ASSERT_EQ(torch.exit_code, 0) << torch.err;
  EXPECT_NEAR(bits, std::stod(torch.out), 1e-4 * bits);

  // eval --window scores in windows of another length (here 7, where the model trained on 32).
  const CommandResult short_eval = run("eval --model " + shell_quote(model) + " --data " + shell_quote(text) +
                                       " --threads 1 --window 7");
  ASSERT_EQ(short_eval.exit_code, 0) << short_eval.err;
  const nlohmann::json short_score = lstm::json_text::parse(last_line(short_eval.out));
  EXPECT_EQ(short_score.at("window").get<int64_t>(), 7);
  const double short_bits = short_score.at("bits_per_char").get<double>();
  const CommandResult short_torch = test_util::run_command(
      std::string(LSTM_PYTHON) + " " + shell_quote(std::string(LSTM_TEST_DATA_DIR) + "/../charlm_torch_check.py") +
      " " + shell_quote(model) + " " + shell_quote(text) + " 7");
  ASSERT_EQ(short_torch.exit_code, 0) << short_torch.err;
  EXPECT_NEAR(short_bits, std::stod(short_torch.out), 1e-4 * short_bits);
  EXPECT_GT(short_bits, bits) << "less context per character, a worse score";

  const std::string generate =
      "generate --model " + shell_quote(model) + " --prompt 'Book 3:' --length 80 --threads 1";
  const CommandResult a = run(generate + " --seed 1"), b = run(generate + " --seed 1"),
                      c = run(generate + " --seed 2");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(a.out.starts_with("Book 3:")) << a.out;
  EXPECT_EQ(a.out.size(), std::string("Book 3:").size() + 80 + 1);  // ASCII text and a newline
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
}

// Ctrl-C mid-epoch: the run stops cleanly with a checkpoint that is also a loadable model, and
// resuming from it ends with exactly the weights of a run that never stopped.
TEST_F(CliCharLm, InterruptSavesACheckpointAndResumeIsExact) {
  const std::string checkpoint = dir.file("c.ckpt");
  const std::string extra = "--checkpoint " + shell_quote(checkpoint);
  const std::string whole = dir.file("whole.safetensors");
  ASSERT_EQ(run(train_args(whole, extra, "3", "192")).exit_code, 0);

  // The same run, started directly (so that it receives SIGINT itself) and interrupted once
  // its first epoch's checkpoint exists (the whole run's is removed first: waiting on it would
  // send SIGINT before a slow start had set its handler).
  fs::remove(checkpoint);
  const std::string out_path = dir.file("run.out");
  std::vector<std::string> words = train_words(model, "3", "192");
  words.insert(words.begin(), LSTM_CLI_PATH);
  for (const char* word : {"--checkpoint", checkpoint.c_str(), "--progress"}) words.push_back(word);
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(checkpoint) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const std::string output = test_util::read_file(out_path);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  ASSERT_NE(output.find("(interrupted)"), std::string::npos)
      << "the run ended before the interrupt; make its epochs longer\n"
      << output;
  EXPECT_TRUE(fs::exists(model)) << "the best model so far is written";
  const CommandResult checkpoint_as_model =
      run("eval --model " + shell_quote(checkpoint) + " --data " + shell_quote(text));
  EXPECT_EQ(checkpoint_as_model.exit_code, 0) << checkpoint_as_model.err;

  // Stopped within an epoch: the checkpoint records the batch to continue from.
  EXPECT_NE(lstm::load_checkpoint(checkpoint).metadata.at("batch"), "0");
  const CommandResult resumed = run(train_args(model, extra + " --resume", "3", "192"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  expect_same_tensors(whole, model);
}

// The epoch lines' rates: by default a time-limited run cools down over its last 20%, so its
// last epochs run below the peak 2e-3; --cooldown 0 keeps the peak to the end.
TEST_F(CliCharLm, TimeLimitedRunsCoolDownByDefault) {
  auto rates = [&](const std::string& extra) {
    const CommandResult result =
        run(train_args(model, "--time-limit 3 --patience 1000000 " + extra, "400"));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    std::vector<double> found;
    for (const std::string& line : test_util::lines_of(result.out)) {
      const size_t at = line.find("  lr ");
      if (line.starts_with("epoch ") && at != std::string::npos)
        found.push_back(std::stod(line.substr(at + 5)));
    }
    return found;
  };
  const std::vector<double> cooled = rates("");
  ASSERT_GE(cooled.size(), 2u);
  EXPECT_DOUBLE_EQ(cooled.front(), 2e-3);
  EXPECT_LT(cooled.back(), 1.9e-3);
  for (double rate : rates("--cooldown 0")) EXPECT_DOUBLE_EQ(rate, 2e-3);
}

// Decoupled weight decay shrinks the weights: the same run with a strong decay ends with a
// smaller recurrent weight norm.
TEST_F(CliCharLm, WeightDecayShrinksTheWeights) {
  auto norm = [&](const std::string& decay) {
    const std::string out = dir.file("wd" + decay + ".safetensors");
    const CommandResult result = run(train_args(out, "--optimizer adamw --weight-decay " + decay, "2"));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const lstm::SafetensorsContents contents = lstm::read_safetensors(out);
    const lstm::HostTensor& w = test_util::require_tensor(contents, "rnn.weight_hh_l0", out);
    double sum = 0;
    for (float value : w.data) sum += static_cast<double>(value) * value;
    return std::sqrt(sum);
  };
  const double plain = norm("0"), decayed = norm("0.5");
  EXPECT_LT(decayed, 0.97 * plain) << plain << " vs " << decayed;
  // adamw's default decay is PyTorch's 0.01: the same weights as asking for it.
  const std::string by_default = dir.file("wd_default.safetensors");
  ASSERT_EQ(run(train_args(by_default, "--optimizer adamw", "2")).exit_code, 0);
  norm("0.01");
  expect_same_tensors(by_default, dir.file("wd0.01.safetensors"));
}

// The LSTM variants train, save what they are and are read back; bad combinations are refused.
TEST_F(CliCharLm, VariantsTrainAndBadCombinationsFail) {
  const std::string variant = dir.file("variant.safetensors");
  const CommandResult trained =
      run(train_args(variant, "--layer-norm --zoneout 0.1 --layers 2 --residual", "1", "16"));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_NE(trained.out.find("layers=2 layer-norm zoneout=0.1 residual"), std::string::npos) << trained.out;
  const CommandResult info = run("info " + shell_quote(variant));
  EXPECT_NE(info.out.find("layer-norm zoneout=0.1 residual"), std::string::npos) << info.out;
  const CommandResult eval = run("eval --model " + shell_quote(variant) + " --data " + shell_quote(text));
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(eval.out.find("bits_per_char"), std::string::npos);
  const std::string other = dir.file("other.safetensors");
  expect_failure(train_args(other, "--layer-norm --cell gru", "1"), {"--layer-norm", "--cell gru"});
  expect_failure(train_args(other, "--residual", "1"), {"--residual", "--layers 2"});
  expect_failure(train_args(other, "--zoneout 1.5", "1"), {"--zoneout"});
  expect_failure("convert " + shell_quote(variant) + " " + shell_quote(dir.file("v.onnx")),
                 {"layer-normalised LSTM", "ONNX"});
}

TEST_F(CliCharLm, BadInput) {
  ASSERT_EQ(run(train_args(model)).exit_code, 0);
  const std::string out = shell_quote(dir.file("new.safetensors"));
  auto write = [&](const std::string& name, const std::string& bytes) {
    const std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  };
  const std::string latin1 = write("latin1.txt", "caf\xe9 au lait\nna\xefve\n");
  const std::string garbage = write("garbage.bin", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  const std::string empty = write("empty.txt", "");
  const std::string tiny = write("tiny.txt", "Book 1:1 And Moses");
  const std::string unknown = write("unknown.txt", "Book 1:1 And Zebedee went.\n");
  const std::string csv = write("series.csv", "t,y\n1,2\n2,3\n3,4\n");
  auto train_on = [&](const std::string& data) {
    return "train --task charlm --data " + shell_quote(data) + " --out " + out +
           " --window 32 --epochs 1 --hidden 8";
  };
  expect_failure(train_on(latin1), {"latin1.txt", "invalid UTF-8", "byte 3", "line 1"});
  expect_failure(train_on(garbage), {"garbage.bin", "invalid UTF-8", "byte 0"});
  expect_failure(train_on(empty), {"empty.txt", "empty"});
  expect_failure(train_on(tiny), {"tiny.txt", "too short"});
  expect_failure(train_on(dir.file("missing.txt")), {"missing.txt"});
  expect_failure("train --task charlm --data " + shell_quote(text) + " --out " +
                     shell_quote(dir.path().string()) + " --epochs 1",
                 {dir.path().string()});
  expect_failure(train_on(text) + " --target y", {"--target"});
  expect_failure(train_on(text) + " --schedule weekly", {"--schedule", "weekly"});
  EXPECT_EQ(run(train_on(text) + " --schedule cosine").exit_code, 0);
  expect_failure(train_on(text) + " --cooldown 1.5", {"--cooldown"});
  expect_failure(train_on(text) + " --cooldown 0.3", {"--cooldown", "--time-limit"});
  EXPECT_EQ(run(train_on(text) + " --cooldown 0.3 --time-limit 60").exit_code, 0);
  expect_failure(train_on(text) + " --weight-decay -1", {"--weight-decay"});
  expect_failure(train_on(text) + " --precision fp16", {"--precision", "fp16"});
  if (lstm::bf16_available()) {
    const CommandResult bf16 = run(train_on(text) + " --precision bf16");
    EXPECT_EQ(bf16.exit_code, 0) << bf16.err;
    EXPECT_NE(bf16.out.find("thread(s), bf16 products"), std::string::npos) << bf16.out;
  } else expect_failure(train_on(text) + " --precision bf16", {"bf16", "AMX"});
  // Raw bytes accept any file.
  EXPECT_EQ(run("train --task charlm --vocabulary bytes --data " + shell_quote(garbage) +
                " --out " + out + " --window 4 --batch 2 --epochs 1 --hidden 4 --validation 0.3")
                .exit_code,
            0);
  fs::remove(dir.file("new.safetensors"));

  const std::string m = shell_quote(model);
  expect_failure("generate --model " + m + " --prompt 'Zebedee'", {"--prompt", "'Z'"});
  expect_failure("generate --model " + m + " --prompt ''", {"--prompt"});
  expect_failure("generate --model " + shell_quote(csv) + " --prompt a", {"series.csv"});
  expect_failure("eval --model " + m + " --data " + shell_quote(unknown), {"unknown.txt", "'Z'"});
  expect_failure("eval --model " + m + " --data " + shell_quote(latin1), {"latin1.txt", "UTF-8"});
  expect_failure("eval --model " + m + " --data " + shell_quote(empty), {"empty.txt"});
}

}  // namespace
