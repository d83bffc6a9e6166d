// `lstm experiment` run as a program: the JSON last line and its fields, --quiet, --compare's
// table, --report's HTML, --save's model file, and bad options (one line, no files).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "data/json_text.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

using test_util::CommandResult;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);
// Short runs: a few hundred sequences of a few steps.
const std::string tiny =
    " --seq-len 6 --hidden 8 --batch 20 --max-sequences 400 --eval-every 5 --eval-size 100 "
    "--test-size 200 --threads 1";

nlohmann::json last_json(const std::string& out) {
  const std::vector<std::string> lines = test_util::lines_of(out);
  if (lines.empty()) return nullptr;
  return lstm::json_text::parse(lines.back());
}

class CliExperiment : public ::testing::Test {
 protected:
  test_util::TempDir dir;
  CommandResult run(const std::string& args) const {
    return test_util::run_command(cli + " experiment " + args);
  }
  void expect_failure(const std::string& args, const std::string& mention) const {
    test_util::expect_cli_failure(cli + " experiment " + args, dir.path(), {mention});
  }
};

TEST_F(CliExperiment, AddingPrintsProgressAndJson) {
  const CommandResult result = run("adding" + tiny);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::string> lines = test_util::lines_of(result.out);
  ASSERT_GE(lines.size(), 3u) << result.out;
  EXPECT_NE(lines[0].find("sequences 0"), std::string::npos) << lines[0];  // not a terminal
  const nlohmann::json json = last_json(result.out);
  ASSERT_TRUE(json.is_object()) << lines.back();
  EXPECT_EQ(json["task"], "adding");
  EXPECT_EQ(json["cell"], "lstm");
  EXPECT_EQ(json["seq_len"], 6);
  ASSERT_TRUE(json["test_mse"].is_number());
  EXPECT_GT(json["test_mse"].get<double>(), 0.0);
  ASSERT_TRUE(json["solved"].is_boolean());
  EXPECT_EQ(json["solved"].get<bool>(), json["test_mse"].get<double>() < 0.01);
  EXPECT_EQ(json["sequences_seen"], 400);  // not solved by 20 steps of 8 units
  EXPECT_EQ(json["stop"], "max_sequences");
  EXPECT_TRUE(json["seconds"].is_number());
  EXPECT_TRUE(json["cpu_seconds"].is_number());
  EXPECT_NEAR(json["baseline_mse"].get<double>(), 1.0 / 6.0, 1e-12);
}

TEST_F(CliExperiment, QuietTemporalOrderPrintsOneJsonLine) {
  const CommandResult result = run("temporal_order --cell gru --quiet" + tiny);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ASSERT_EQ(test_util::lines_of(result.out).size(), 1u) << result.out;
  const nlohmann::json json = last_json(result.out);
  ASSERT_TRUE(json.is_object()) << result.out;
  EXPECT_EQ(json["cell"], "gru");
  const double accuracy = json["test_accuracy"].get<double>();
  EXPECT_TRUE(accuracy >= 0.0 && accuracy <= 1.0);
  EXPECT_EQ(json["solved"].get<bool>(), accuracy >= 0.99);
  EXPECT_TRUE(json["test_cross_entropy"].is_number());
  EXPECT_TRUE(json["sequences_seen"].is_number_integer());
}

TEST_F(CliExperiment, CompareTableReportAndJson) {
  const std::string report = dir.file("r.html");
  const CommandResult result = run("adding --compare --report " + shell_quote(report) + tiny);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::string> lines = test_util::lines_of(result.out);
  const auto header = std::find_if(lines.begin(), lines.end(), [](const std::string& line) {
    return line.starts_with("cell ") && line.find("test_mse") != std::string::npos;
  });
  ASSERT_NE(header, lines.end()) << result.out;
  ASSERT_GE(lines.end() - header, 9) << result.out;  // header, 7 rows, JSON
  const std::vector<std::string> cells = {"lstm", "peephole", "cifg", "layer_norm", "gru", "gru_reset_before", "rnn_tanh"};
  for (size_t k = 0; k < cells.size(); ++k)
    EXPECT_TRUE(header[static_cast<long>(k) + 1].starts_with(cells[k] + " ")) << header[k + 1];
  const nlohmann::json json = last_json(result.out);
  ASSERT_TRUE(json.is_object()) << lines.back();
  ASSERT_EQ(json["cells"].size(), 7u);
  for (size_t k = 0; k < cells.size(); ++k) {
    EXPECT_EQ(json["cells"][k]["cell"], cells[k]);
    EXPECT_TRUE(json["cells"][k]["test_mse"].is_number());
    EXPECT_EQ(json["cells"][k]["sequences_seen"], 400);  // the same data for each
  }
  const std::string html = test_util::read_file(report);
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>")) << html.substr(0, 100);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  for (const std::string& cell : cells) EXPECT_NE(html.find(cell), std::string::npos) << cell;
}

TEST_F(CliExperiment, SaveWritesALoadableModel) {
  const std::string model_path = dir.file("m.safetensors");
  const CommandResult result =
      run("adding --cell peephole --quiet --save " + shell_quote(model_path) + tiny);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  lstm::SequenceModel model = lstm::load_sequence_model(model_path);
  EXPECT_TRUE(model.network().config().peephole);
  EXPECT_EQ(model.config().head_mode, lstm::HeadMode::last_step);
  EXPECT_EQ(model.config().rnn.input_size, 2);
  const nlohmann::json about = lstm::json_text::parse(model.metadata().at("experiment"));
  EXPECT_EQ(about["task"], "adding");
  EXPECT_EQ(about["seq_len"], 6);
  EXPECT_EQ(about["cell"], "peephole");
  EXPECT_EQ(about["test_loss"].get<double>(), last_json(result.out)["test_mse"].get<double>());
}

TEST_F(CliExperiment, BadOptionsGiveOneLine) {
  expect_failure("adding --seq-len 1" + std::string(" --threads 1"), "--seq-len");
  expect_failure("adding --cell lstm2 --threads 1", "--cell");
  expect_failure("copying --threads 1", "task");
  expect_failure("temporal_order --seq-len 3 --threads 1", "--seq-len 3");
  expect_failure("adding --lr -1 --threads 1", "--lr");
  expect_failure("adding --forget-bias high --threads 1", "--forget-bias 'high'");
  expect_failure("adding --compare --cell gru --threads 1", "--cell");
  expect_failure("adding --compare --save " + shell_quote(dir.file("m.safetensors")), "--save");
  expect_failure("adding --report " + shell_quote(dir.file("no/such/dir/r.html")) + tiny,
                 "does not exist");
  // The report and the model in one file: the later write would replace the other.
  expect_failure("adding --report " + shell_quote(dir.file("m.x")) + " --save " +
                     shell_quote(dir.path().string() + "/./m.x") + tiny,
                 "--report and --save name the same file");
}

}  // namespace
