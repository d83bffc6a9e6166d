// The ONNX library API: export then import gives back every configuration's parameters bit for
// bit, load_network reads .onnx files, and what ONNX cannot express is a clear lstm::Error.
// (Outputs are checked against onnxruntime, PyTorch and the ONNX operator tests by the Python
// checks in tests/onnx/.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lstm/lstm.hpp"
#include "test_util.hpp"

namespace {

using test_util::TempDir;

lstm::NetworkConfig make_config(lstm::CellType cell, int64_t layers, bool bidirectional,
                                bool peephole = false, bool bias = true) {
  lstm::NetworkConfig config;
  config.cell = cell;
  config.input_size = 3;
  config.hidden_size = 4;
  config.num_layers = layers;
  config.bidirectional = bidirectional;
  config.peephole = peephole;
  config.bias = bias;
  return config;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const lstm::Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(Onnx, ExportThenImportGivesBackEveryParameter) {
  const std::vector<lstm::NetworkConfig> configs = {
      make_config(lstm::CellType::lstm, 1, false),
      make_config(lstm::CellType::lstm, 2, true, /*peephole=*/true),
      make_config(lstm::CellType::lstm, 1, true, false, /*bias=*/false),
      make_config(lstm::CellType::gru, 2, true),
      make_config(lstm::CellType::rnn_tanh, 1, false),
      make_config(lstm::CellType::rnn_relu, 3, true),
      [] {  // input_forget=1
        lstm::NetworkConfig c = make_config(lstm::CellType::lstm, 2, true, /*peephole=*/true);
        c.coupled_gates = true;
        return c;
      }(),
      [] {  // linear_before_reset=0
        lstm::NetworkConfig c = make_config(lstm::CellType::gru, 2, true);
        c.reset_before = true;
        return c;
      }()};
  for (const lstm::NetworkConfig& config : configs)
    for (int opset : {9, 14, 17}) {
      SCOPED_TRACE(config.describe() + " opset " + std::to_string(opset));
      lstm::Network<float> network(config);
      network.init_uniform(42);
      lstm::OnnxExportOptions options;
      options.opset = opset;
      options.sequence_lens = opset != 9;
      options.initial_states = opset != 17;
      const std::string bytes = lstm::serialize_onnx(network, options);
      const lstm::SafetensorsContents contents = lstm::parse_onnx(
          "m.onnx", reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
      const lstm::Network<float> back = lstm::network_from_tensors(contents, "m.onnx");
      EXPECT_EQ(back.config().describe(), config.describe());
      EXPECT_EQ(back.config().cell, config.cell);
      ASSERT_EQ(back.num_parameters(), network.num_parameters());
      for (int64_t k = 0; k < network.num_parameters(); ++k)
        ASSERT_EQ(back.parameters()[static_cast<size_t>(k)],
                  network.parameters()[static_cast<size_t>(k)])
            << "parameter " << k;
    }
}

TEST(Onnx, LoadNetworkReadsOnnxFilesWrittenAtomically) {
  TempDir dir;
  lstm::Network<float> network(make_config(lstm::CellType::gru, 2, false));
  network.init_uniform(3);
  const std::string path = dir.file("model.ONNX");
  lstm::write_onnx(path, network);
  EXPECT_EQ(test_util::directory_entries(dir.path()), std::vector<std::string>{"model.ONNX"});
  const lstm::Network<float> back = lstm::load_network(path);
  EXPECT_TRUE(std::equal(back.parameters().begin(), back.parameters().end(),
                         network.parameters().begin(), network.parameters().end()));
}

TEST(Onnx, WhatOnnxCannotExpressIsAClearError) {
  lstm::NetworkConfig projected = make_config(lstm::CellType::lstm, 1, false);
  projected.proj_size = 2;
  lstm::Network<float> network(projected);
  EXPECT_NE(error_of([&] {
              (void)lstm::serialize_onnx(network, {}, "p.onnx");
            }).find("p.onnx: an LSTM with projection"),
            std::string::npos);
  lstm::NetworkConfig normalised = make_config(lstm::CellType::lstm, 1, false);
  normalised.layer_norm = true;
  lstm::Network<float> layer_norm(normalised);
  EXPECT_NE(error_of([&] {
              (void)lstm::serialize_onnx(layer_norm, {}, "n.onnx");
            }).find("n.onnx: a layer-normalised LSTM has no ONNX operator"),
            std::string::npos);
  lstm::Network<float> plain(make_config(lstm::CellType::lstm, 1, false));
  lstm::OnnxExportOptions options;
  options.opset = 8;
  EXPECT_NE(error_of([&] {
              (void)lstm::serialize_onnx(plain, options, "o.onnx");
            }).find("opset 8 is not supported"),
            std::string::npos);
  const std::string garbage = "\xff\xff\xff\xff not a protobuf";
  EXPECT_NE(error_of([&] {
              (void)lstm::parse_onnx(
                  "g.onnx", reinterpret_cast<const unsigned char*>(garbage.data()), garbage.size());
            }).find("g.onnx: not a valid ONNX model"),
            std::string::npos);
  TempDir dir;
  EXPECT_NE(
      error_of([&] { (void)lstm::load_network(dir.file("absent.onnx")); }).find("absent.onnx"),
      std::string::npos);
}

TEST(Onnx, ExtensionDecidesTheFormat) {
  EXPECT_TRUE(lstm::is_onnx_path("a/b.onnx"));
  EXPECT_TRUE(lstm::is_onnx_path("B.OnNx"));
  EXPECT_FALSE(lstm::is_onnx_path("b.safetensors"));
  EXPECT_FALSE(lstm::is_onnx_path("onnx"));
  EXPECT_FALSE(lstm::is_onnx_path(".onn"));
}

}  // namespace
