// `lstm inspect` run as a program: the gradient curves' JSON (an RNN's gradient vanishes within
// 50 steps, an LSTM with forget bias 1 keeps it far larger), gate tensors of a forecast model
// and a language model, reports, and bad input (one line, no output file).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "data/json_text.hpp"
#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

using nlohmann::json;
using test_util::CommandResult;
using test_util::shell_quote;

const std::string cli = shell_quote(LSTM_CLI_PATH);

json last_line_json(const std::string& out) {
  const std::vector<std::string> lines = test_util::lines_of(out);
  if (lines.empty()) throw std::runtime_error("no output");
  return lstm::json_text::parse(lines.back());
}

class CliInspect : public ::testing::Test {
 protected:
  test_util::TempDir dir;
  std::string series = dir.file("sales.csv");

  CommandResult run(const std::string& args) const {
    return test_util::run_command(cli + " " + args);
  }
  // A forecast model of sales from sales and temp: window 12, hidden 8.
  std::string forecast_model() const {
    const std::string model = dir.file("forecast.safetensors");
    test_util::write_monthly_series(series, 72);
    const CommandResult trained = run("train --task forecast --data " + shell_quote(series) +
                                      " --target sales --features temp --window 12 --epochs 2 "
                                      "--hidden 8 --quiet --threads 1 --out " +
                                      shell_quote(model));
    EXPECT_EQ(trained.exit_code, 0) << trained.err;
    return model;
  }
  // A two-layer GRU language model of a short text, hidden 16.
  std::string language_model() const {
    const std::string text = dir.file("text.txt"), model = dir.file("lm.safetensors");
    std::ofstream out(text);
    for (int k = 0; k < 40; ++k) out << "the cat sat on the mat. ";
    out.close();
    const CommandResult trained =
        run("train --task charlm --data " + shell_quote(text) +
            " --window 20 --epochs 1 --hidden 16 --embedding 8 --layers 2 --cell gru --quiet "
            "--threads 1 --out " +
            shell_quote(model));
    EXPECT_EQ(trained.exit_code, 0) << trained.err;
    return model;
  }
  void expect_failure(const std::string& args, const std::vector<std::string>& mentions) const {
    test_util::expect_cli_failure(cli + " " + args, dir.path(), mentions);
  }
};

double norm_at(const json& curve, int64_t distance) {
  const std::vector<int64_t> distances = curve.at("distance").get<std::vector<int64_t>>();
  const auto at = std::find(distances.begin(), distances.end(), distance);
  if (at == distances.end()) throw std::runtime_error("no distance " + std::to_string(distance));
  return curve.at("grad_norm").at(at - distances.begin()).get<double>();
}

// With PyTorch's initialisation the untrained RNN's gradient has vanished 50 steps back (the
// LSTM's too: its forget gate starts near σ(0) = 1/2). With the forget bias at 1 the LSTM keeps
// a gradient orders of magnitude larger. Checked for three seeds.
TEST_F(CliInspect, GradientsVanishForTheRnnNotForTheLstm) {
  for (const int seed : {0, 1, 2}) {
    const std::string common =
        "inspect gradients --seq-len 60 --batch 8 --hidden 32 --threads 1 "
        "--seed " +
        std::to_string(seed);
    const CommandResult plain = run(common);
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    const json defaults = last_line_json(plain.out);
    EXPECT_LT(norm_at(defaults.at("cells").at("rnn_tanh"), 50), 1e-6) << plain.out;

    const CommandResult biased = run(common + " --forget-bias 1");
    ASSERT_EQ(biased.exit_code, 0) << biased.err;
    const json result = last_line_json(biased.out);
    EXPECT_EQ(result.at("seq_len"), 60);
    EXPECT_EQ(result.at("forget_bias"), 1.0);
    const json& cells = result.at("cells");
    EXPECT_EQ(cells.size(), 3u);
    EXPECT_EQ(cells.at("gru").at("distance").get<std::vector<int64_t>>(),
              (std::vector<int64_t>{1, 2, 5, 10, 20, 50, 60}));
    const double rnn = norm_at(cells.at("rnn_tanh"), 50), lstm = norm_at(cells.at("lstm"), 50);
    EXPECT_GT(rnn, 0.0);
    EXPECT_GT(lstm, 1e3 * rnn) << "seed " << seed << ": rnn " << rnn << " lstm " << lstm;
    // The GRU and RNN curves do not depend on the LSTM's forget bias.
    EXPECT_EQ(cells.at("rnn_tanh"), defaults.at("cells").at("rnn_tanh"));
  }
}

TEST_F(CliInspect, GradientsTableCsvAndReport) {
  const std::string csv = dir.file("g.csv"), html = dir.file("g.html");
  const CommandResult result =
      run("inspect gradients --cell lstm,rnn_relu --seq-len 12 --batch 3 "
          "--hidden 8 --threads 1 --output " +
          shell_quote(csv) + " --report " + shell_quote(html));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json parsed = last_line_json(result.out);
  const std::vector<std::string> lines = test_util::lines_of(test_util::read_file(csv));
  ASSERT_EQ(lines.size(), 6u) << test_util::read_file(csv);  // a header and distances 1, 2, 5, 10, 12
  EXPECT_EQ(lines[0], "distance,lstm,rnn_relu");
  EXPECT_TRUE(lines[1].starts_with("1,"));
  EXPECT_TRUE(lines.back().starts_with("12,"));
  const double lstm_at_12 = std::stod(lines.back().substr(3, lines.back().find(',', 3) - 3));
  EXPECT_NEAR(lstm_at_12, norm_at(parsed.at("cells").at("lstm"), 12), 1e-8 * lstm_at_12);
  const std::string page = test_util::read_file(html);
  EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("rnn_relu"), std::string::npos);
}

TEST_F(CliInspect, GatesOfAForecastModel) {
  const std::string model = forecast_model();
  const std::string out = dir.file("gates.safetensors"), html = dir.file("gates.html");
  const CommandResult result =
      run("inspect gates --model " + shell_quote(model) + " --data " + shell_quote(series) +
          " --rows 10 --output " + shell_quote(out) + " --report " + shell_quote(html));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json summary = last_line_json(result.out);
  EXPECT_EQ(summary.at("cell"), "lstm");
  EXPECT_EQ(summary.at("steps"), 10);
  EXPECT_EQ(summary.at("hidden"), 8);
  const lstm::SafetensorsContents contents = lstm::read_safetensors(out);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : contents.tensors) {
    names.push_back(name);
    EXPECT_EQ(tensor.shape, (std::vector<int64_t>{10, 8})) << name;
    if (name == "i" || name == "f" || name == "o") {
      for (float v : tensor.data) EXPECT_TRUE(v > 0.0f && v < 1.0f) << name << " " << v;
    }
    const double mean = std::accumulate(tensor.data.begin(), tensor.data.end(), 0.0) / 80.0;
    EXPECT_NEAR(summary.at("tensors").at(name).at("mean").get<double>(), mean, 1e-5) << name;
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"c", "f", "g", "h", "i", "o"}));
  const json about = lstm::json_text::parse(contents.metadata.at("inspect"));
  const std::vector<std::string> labels = about.at("labels").get<std::vector<std::string>>();
  ASSERT_EQ(labels.size(), 10u);
  EXPECT_EQ(labels.front(), "2005-03-01");  // rows 62..71 of 72 monthly rows from 2000-01
  EXPECT_EQ(labels.back(), "2005-12-01");
  const std::string page = test_util::read_file(html);
  EXPECT_NE(page.find("forget gate"), std::string::npos);
  EXPECT_NE(page.find("2005-12-01"), std::string::npos);

  // Without --rows: the model's window of 12 rows.
  const CommandResult window = run("inspect gates --model " + shell_quote(model) + " --data " +
                                   shell_quote(series) + " --layer 0");
  ASSERT_EQ(window.exit_code, 0) << window.err;
  EXPECT_EQ(last_line_json(window.out).at("steps"), 12);

  // A trained model's gradient curve next to an untrained one, on inputs of its width (2).
  const CommandResult gradients =
      run("inspect gradients --cell lstm --seq-len 30 --batch 4 "
          "--threads 1 --model " +
          shell_quote(model));
  ASSERT_EQ(gradients.exit_code, 0) << gradients.err;
  const json curves = last_line_json(gradients.out);
  EXPECT_EQ(curves.at("input_size"), 2);
  EXPECT_EQ(curves.at("trained").at("cell"), "lstm");
  EXPECT_EQ(curves.at("trained").at("hidden"), 8);
  EXPECT_GT(norm_at(curves.at("trained"), 1), 0.0);
}

TEST_F(CliInspect, GatesOfALanguageModel) {
  const std::string model = language_model();
  const std::string out = dir.file("gates.safetensors");
  const CommandResult result = run("inspect gates --model " + shell_quote(model) +
                                   " --text 'a cat.' --layer 0 --output " + shell_quote(out));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(last_line_json(result.out).at("layer"), 0);
  const lstm::SafetensorsContents contents = lstm::read_safetensors(out);
  ASSERT_EQ(contents.tensors.size(), 4u);
  for (const std::string name : {"r", "z", "n", "h"}) {
    ASSERT_NE(contents.find(name), nullptr) << name;
    EXPECT_EQ(contents.find(name)->shape, (std::vector<int64_t>{6, 16})) << name;
  }
  const json about = lstm::json_text::parse(contents.metadata.at("inspect"));
  EXPECT_EQ(about.at("labels").get<std::vector<std::string>>(),
            (std::vector<std::string>{"a", "\u2423", "c", "a", "t", "."}));
  // --chars takes the first N characters of a file.
  const CommandResult chars = run("inspect gates --model " + shell_quote(model) + " --data " +
                                  shell_quote(dir.file("text.txt")) + " --chars 7");
  ASSERT_EQ(chars.exit_code, 0) << chars.err;
  EXPECT_EQ(last_line_json(chars.out).at("steps"), 7);
  EXPECT_EQ(last_line_json(chars.out).at("layer"), 1);
}

TEST_F(CliInspect, BadInput) {
  const std::string forecast = forecast_model(), lm = language_model();
  const std::string out = " --output " + shell_quote(dir.file("out.safetensors"));
  const std::string report = " --report " + shell_quote(dir.file("out.html"));
  expect_failure("inspect gates --model " + shell_quote(dir.file("missing.safetensors")) +
                     " --data " + shell_quote(series) + out,
                 {"missing.safetensors"});
  expect_failure("inspect gates --model " + shell_quote(forecast) + " --text 'abc'" + out,
                 {"forecast.safetensors", "language model"});
  expect_failure("inspect gates --model " + shell_quote(lm) + " --text 'the dog'" + out + report,
                 {"--text", "'d'", "'g'"});
  expect_failure("inspect gates --model " + shell_quote(forecast) + " --data " +
                     shell_quote(series) + " --layer 1" + out + report,
                 {"layer 1", "1 layer"});
  expect_failure("inspect gates --model " + shell_quote(forecast) + " --data " +
                     shell_quote(series) + " --rows 73" + out,
                 {"sales.csv", "73"});
  expect_failure("inspect gates --model " + shell_quote(forecast) + out, {"--data", "--text"});
  expect_failure("inspect gradients --cell rnn_tanh,lstmm --seq-len 5 --output " +
                     shell_quote(dir.file("g.csv")),
                 {"lstmm"});
  expect_failure(
      "inspect gradients --model " + shell_quote(dir.file("missing.safetensors")) + report,
      {"missing.safetensors"});
  // The CSV and the report in one file: refused before any work.
  expect_failure("inspect gradients --cell rnn_tanh --seq-len 5 --output " +
                     shell_quote(dir.file("g.csv")) + " --report " +
                     shell_quote(dir.path().string() + "/./g.csv"),
                 {"g.csv", "--output and --report name the same file"});
  expect_failure("inspect gates --model " + shell_quote(forecast) + " --data " +
                     shell_quote(series) + " --output " + shell_quote(dir.file("o.csv")) +
                     " --report " + shell_quote(dir.file("o.csv")),
                 {"o.csv", "--output and --report"});
}

}  // namespace
