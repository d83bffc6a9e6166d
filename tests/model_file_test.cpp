// Model files: configuration inferred from PyTorch state_dicts, save/load round trips, the "rnn."
// prefix of trained models, metadata and overrides, and every rejection.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "data/json_text.hpp"
#include "io_test_util.hpp"
#include "lstm/io.hpp"

namespace {

using lstm::CellType;
using lstm::HostTensor;
using lstm::NetworkConfig;
using lstm_test::TempDir;
using lstm_test::throws_error;

using Tensors = std::vector<std::pair<std::string, HostTensor>>;

std::string fixture(const std::string& name) {
  return std::string(LSTM_TEST_DATA_DIR) + "/safetensors/" + name;
}

void expect_same_config(const NetworkConfig& a, const NetworkConfig& b) {
  EXPECT_EQ(a.cell, b.cell);
  EXPECT_EQ(a.input_size, b.input_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.proj_size, b.proj_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.bidirectional, b.bidirectional);
  EXPECT_EQ(a.peephole, b.peephole);
  EXPECT_EQ(a.coupled_gates, b.coupled_gates);
  EXPECT_EQ(a.reset_before, b.reset_before);
  EXPECT_EQ(a.layer_norm, b.layer_norm);
  EXPECT_EQ(a.zoneout, b.zoneout);
  EXPECT_EQ(a.residual, b.residual);
  EXPECT_EQ(a.highway, b.highway);
  EXPECT_EQ(a.bias, b.bias);
  EXPECT_EQ(a.dropout, b.dropout);
}

NetworkConfig make_config(CellType cell, int64_t input, int64_t hidden, int64_t layers) {
  NetworkConfig config;
  config.cell = cell;
  config.input_size = input;
  config.hidden_size = hidden;
  config.num_layers = layers;
  return config;
}

TEST(ModelFile, LoadsTorchLstmWithProjection) {
  const lstm::Network<float> network =
      lstm::load_network(fixture("torch_lstm_proj_bidir.safetensors"));
  NetworkConfig expected = make_config(CellType::lstm, 3, 4, 2);
  expected.proj_size = 2;
  expected.bidirectional = true;
  expect_same_config(network.config(), expected);
  const HostTensor reference =
      lstm::read_npy(fixture("torch_lstm_proj_bidir.weight_hh_l1_reverse.npy"));
  const auto weight = network.parameter("weight_hh_l1_reverse");
  EXPECT_EQ(reference.shape, (std::vector<int64_t>{16, 2}));
  EXPECT_EQ(std::vector<float>(weight.begin(), weight.end()), reference.data);
}

TEST(ModelFile, LoadsTorchGruWithoutBias) {
  const lstm::Network<float> network = lstm::load_network(fixture("torch_gru_nobias.safetensors"));
  NetworkConfig expected = make_config(CellType::gru, 2, 3, 1);
  expected.bias = false;
  expect_same_config(network.config(), expected);
}

TEST(ModelFile, RnnActivationComesFromMetadataOrOverride) {
  const std::string plain = fixture("torch_rnn_relu.safetensors");
  EXPECT_EQ(lstm::load_network(plain).config().cell, CellType::rnn_tanh);
  EXPECT_EQ(lstm::load_network(plain, {CellType::rnn_relu, std::nullopt}).config().cell,
            CellType::rnn_relu);
  const std::string with_config = fixture("torch_rnn_relu_config.safetensors");
  EXPECT_EQ(lstm::load_network(with_config).config().cell, CellType::rnn_relu);
  EXPECT_EQ(lstm::load_network(with_config, {CellType::rnn_tanh, 0.25}).config().cell,
            CellType::rnn_tanh);
  EXPECT_EQ(lstm::load_network(with_config, {std::nullopt, 0.25}).config().dropout, 0.25);
  EXPECT_TRUE(throws_error(
      [&] {
        lstm::load_network(plain, {CellType::lstm, std::nullopt});
      },
      {plain + ": ", "cell lstm was asked for", "1 gate per unit (an RNN)"}));
}

TEST(ModelFile, SaveAndLoadRoundTrips) {
  std::vector<NetworkConfig> configs;
  NetworkConfig peephole = make_config(CellType::lstm, 5, 6, 3);
  peephole.peephole = true;
  peephole.bidirectional = true;
  configs.push_back(peephole);
  NetworkConfig projection = make_config(CellType::lstm, 2, 5, 2);
  projection.proj_size = 3;
  projection.bias = false;
  configs.push_back(projection);
  NetworkConfig relu = make_config(CellType::rnn_relu, 4, 3, 2);
  relu.dropout = 0.3;
  configs.push_back(relu);
  configs.push_back(make_config(CellType::gru, 1, 2, 1));
  NetworkConfig coupled = make_config(CellType::lstm, 3, 4, 2);  // 3 gates: only the metadata
  coupled.coupled_gates = true;                                   // tells it from a GRU
  coupled.peephole = true;
  coupled.bidirectional = true;
  configs.push_back(coupled);
  NetworkConfig reset_before = make_config(CellType::gru, 3, 4, 2);
  reset_before.reset_before = true;
  configs.push_back(reset_before);
  NetworkConfig layer_norm = make_config(CellType::lstm, 3, 4, 2);
  layer_norm.layer_norm = true;
  layer_norm.proj_size = 2;
  layer_norm.bidirectional = true;
  layer_norm.residual = true;
  layer_norm.zoneout = 0.25;
  configs.push_back(layer_norm);
  NetworkConfig coupled_layer_norm = make_config(CellType::lstm, 3, 4, 2);
  coupled_layer_norm.layer_norm = true;
  coupled_layer_norm.coupled_gates = true;
  coupled_layer_norm.bidirectional = true;
  coupled_layer_norm.proj_size = 3;
  configs.push_back(coupled_layer_norm);
  NetworkConfig highway = make_config(CellType::gru, 3, 4, 3);  // tensors weight_highway_l1, _l2 [8, 8]
  highway.highway = true;
  highway.bidirectional = true;
  highway.reset_before = true;
  configs.push_back(highway);
  TempDir dir;
  for (const NetworkConfig& config : configs) {
    lstm::Network<float> network(config);
    network.init_uniform(7);
    const std::string path = dir.file("net.safetensors");
    lstm::save_network(path, network, {{"vocab", "abc"}});
    const lstm::Network<float> loaded = lstm::load_network(path);
    expect_same_config(loaded.config(), config);
    EXPECT_TRUE(std::equal(loaded.parameters().begin(), loaded.parameters().end(),
                           network.parameters().begin(), network.parameters().end()))
        << config.describe();
    const lstm::SafetensorsContents contents = lstm::read_safetensors(path);
    EXPECT_EQ(contents.metadata.at("vocab"), "abc");
    EXPECT_EQ(contents.metadata.at("config"), lstm::config_metadata(config));
  }
}

TEST(ModelFile, ConfigMetadataRecordsEveryField) {
  NetworkConfig config = make_config(CellType::rnn_relu, 3, 8, 2);
  config.bidirectional = true;
  config.bias = false;
  config.dropout = 0.5;
  const auto json = lstm::json_text::parse(lstm::config_metadata(config));
  EXPECT_EQ(json.size(), 9u);
  EXPECT_EQ(json["cell"], "rnn_relu");
  EXPECT_EQ(json["input_size"], 3);
  EXPECT_EQ(json["hidden_size"], 8);
  EXPECT_EQ(json["proj_size"], 0);
  EXPECT_EQ(json["num_layers"], 2);
  EXPECT_EQ(json["bidirectional"], true);
  EXPECT_EQ(json["peephole"], false);
  EXPECT_EQ(json["bias"], false);
  EXPECT_EQ(json["dropout"], 0.5);
  // The variants are written only when on (files without them stay as they were).
  NetworkConfig coupled = make_config(CellType::lstm, 3, 8, 1);
  coupled.coupled_gates = true;
  EXPECT_EQ(lstm::json_text::parse(lstm::config_metadata(coupled))["coupled_gates"], true);
  NetworkConfig reset_before = make_config(CellType::gru, 3, 8, 1);
  reset_before.reset_before = true;
  EXPECT_EQ(lstm::json_text::parse(lstm::config_metadata(reset_before))["reset_before"], true);
}

TEST(ModelFile, TrainedModelsKeepTheNetworkUnderRnnPrefix) {
  TempDir dir;
  lstm::Network<float> network(make_config(CellType::gru, 2, 3, 2));
  network.init_uniform(3);
  Tensors tensors = lstm::network_tensors(network, "rnn.");
  EXPECT_EQ(tensors.front().first, "rnn.weight_ih_l0");
  tensors.emplace_back("head.weight", HostTensor{{1, 3}, {1, 2, 3}});
  tensors.emplace_back("head.bias", HostTensor{{1}, {0}});
  const std::string path = dir.file("model.safetensors");
  lstm::write_safetensors(path, tensors);
  const lstm::Network<float> loaded = lstm::load_network(path);
  EXPECT_EQ(loaded.config().num_layers, 2);
  EXPECT_TRUE(std::equal(loaded.parameters().begin(), loaded.parameters().end(),
                         network.parameters().begin(), network.parameters().end()));

  tensors.emplace_back("rnn.extra", HostTensor{{1}, {0}});
  lstm::write_safetensors(path, tensors);
  EXPECT_TRUE(
      throws_error([&] { lstm::load_network(path); }, {path + ": ", "unknown tensor 'rnn.extra'"}));
}

// Tensors of a small LSTM (2 layers, I=3, H=4), edited by `edit`, written and loaded.
void expect_load_error(
    const std::function<void(Tensors&, std::map<std::string, std::string>&)>& edit,
    const std::vector<std::string>& fragments, const lstm::ConfigOverrides& overrides = {}) {
  TempDir dir;
  lstm::Network<float> network(make_config(CellType::lstm, 3, 4, 2));
  network.init_uniform(1);
  Tensors tensors = lstm::network_tensors(network);
  std::map<std::string, std::string> metadata;
  edit(tensors, metadata);
  const std::string path = dir.file("model.safetensors");
  lstm::write_safetensors(path, tensors, metadata);
  std::vector<std::string> all = fragments;
  all.push_back(path + ": ");
  EXPECT_TRUE(throws_error([&] { lstm::load_network(path, overrides); }, all));
}

HostTensor& tensor(Tensors& tensors, const std::string& name) {
  for (auto& [tensor_name, value] : tensors)
    if (tensor_name == name) return value;
  throw std::runtime_error("no tensor " + name);
}

void erase_tensor(Tensors& tensors, const std::string& name) {
  std::erase_if(tensors, [&](const auto& item) { return item.first == name; });
}

using Metadata = std::map<std::string, std::string>;

TEST(ModelFile, RejectsWrongTensors) {
  expect_load_error([](Tensors& t, Metadata&) { erase_tensor(t, "bias_hh_l1"); },
                    {"missing tensor 'bias_hh_l1' [16]", "lstm input=3 hidden=4 layers=2"});
  expect_load_error(
      [](Tensors& t, Metadata&) {
        tensor(t, "weight_hh_l1") = HostTensor{{16, 3}, std::vector<float>(48)};
      },
      {"tensor 'weight_hh_l1' has shape [16, 3], expected [16, 4]"});
  expect_load_error(
      [](Tensors& t, Metadata&) {
        t.emplace_back("head.weight", HostTensor{{1}, {0}});
      },
      {"unknown tensor 'head.weight'"});
  expect_load_error(
      [](Tensors& t, Metadata&) { tensor(t, "weight_ih_l1").data[5] = std::nanf(""); },
      {"tensor 'weight_ih_l1' has a non-finite value (nan) at flat index 5"});
  expect_load_error(
      [](Tensors& t, Metadata&) {
        tensor(t, "bias_ih_l0").data[0] = -std::numeric_limits<float>::infinity();
      },
      {"tensor 'bias_ih_l0' has a non-finite value (-inf) at flat index 0"});
  expect_load_error([](Tensors& t, Metadata&) { erase_tensor(t, "weight_ih_l0"); },
                    {"no tensor 'weight_ih_l0': not a recurrent network"});
  expect_load_error(
      [](Tensors& t, Metadata&) {
        tensor(t, "weight_ih_l0") = HostTensor{{48}, std::vector<float>(48)};
      },
      {"tensor 'weight_ih_l0' should be a matrix but has shape [48]"});
  expect_load_error(
      [](Tensors& t, Metadata&) {
        tensor(t, "weight_ih_l0") = HostTensor{{10, 3}, std::vector<float>(30)};
      },
      {"tensor 'weight_ih_l0' has 10 rows, which is not 4, 3 or 1 times the hidden size 4"});
  expect_load_error([](Tensors& t, Metadata&) { erase_tensor(t, "bias_ih_l0"); },
                    {"missing tensor 'bias_ih_l0'"});
  expect_load_error(  // layer 1 missing but layer 2 present
      [](Tensors& t, Metadata&) {
        for (auto& item : t)
          if (item.first.ends_with("_l1")) item.first.back() = '2';
      },
      {"unknown tensor", "_l2'"});
}

TEST(ModelFile, RejectsBadConfigMetadata) {
  const auto with_config = [](const std::string& config) {
    return [config](Tensors&, Metadata& metadata) { metadata["config"] = config; };
  };
  expect_load_error(with_config(R"({"hidden_size": 5})"),
                    {"metadata 'config': says hidden_size 5 but the tensors say 4"});
  expect_load_error(with_config(R"({"cell": "gru"})"),
                    {"says cell gru but the tensors say 4 gates per unit (an LSTM)"});
  expect_load_error(with_config(R"({"cell": "tree"})"), {"metadata 'config': unknown cell 'tree'"});
  expect_load_error(with_config(R"({"bidirectional": true})"),
                    {"says bidirectional true but the tensors say false"});
  expect_load_error(with_config(R"({"num_layers": "2"})"), {"'num_layers' is not an integer"});
  expect_load_error(with_config(R"({"peephole": 1})"), {"'peephole' is not true or false"});
  expect_load_error(with_config(R"({"layer_norm": true})"),
                    {"says layer_norm true but the tensors say false"});
  expect_load_error(with_config(R"({"highway": true})"), {"says highway true but the tensors say false"});
  expect_load_error(with_config(R"({"highway": "yes"})"), {"'highway' is not true or false"});
  expect_load_error(with_config(R"({"dropout": "high"})"), {"'dropout' is not a number"});
  expect_load_error(with_config(R"({"dropout": 1.5})"), {"dropout must be in [0, 1)"});
  expect_load_error(with_config(R"({"colour": "red"})"), {"unknown key 'colour'"});
  expect_load_error(with_config(R"({"coupled_gates": 1})"), {"'coupled_gates' is not true or false"});
  expect_load_error(with_config(R"({"coupled_gates": true})"),
                    {"says coupled_gates true but the tensors say 4 gates per unit (an LSTM)"});
  expect_load_error(with_config(R"({"reset_before": true})"), {"reset_before) exists only for GRU"});
  expect_load_error(with_config(R"([1])"), {"metadata 'config': not a JSON object"});
  expect_load_error(with_config(R"({"cell":)"), {"metadata 'config': not valid JSON"});
  expect_load_error({[](Tensors&, Metadata&) {}}, {"cell gru was asked for", "4 gates per unit"},
                    {CellType::gru, std::nullopt});
  expect_load_error({[](Tensors&, Metadata&) {}}, {"dropout must be in [0, 1)"},
                    {std::nullopt, -0.5});
}

// A tiny file whose shapes imply a huge network (1024 layers of hidden size 1000) is rejected
// for its missing tensors before anything of that size is allocated.
TEST(ModelFile, ChecksShapesBeforeAllocating) {
  TempDir dir;
  Tensors tensors = {{"weight_ih_l0", HostTensor{{4000, 1}, std::vector<float>(4000)}},
                     {"weight_hh_l0", HostTensor{{0, 1000}, {}}}};
  for (int layer = 1; layer < 1024; ++layer)
    tensors.emplace_back("weight_ih_l" + std::to_string(layer), HostTensor{{0}, {}});
  const std::string path = dir.file("huge.safetensors");
  lstm::write_safetensors(path, tensors);
  EXPECT_TRUE(throws_error(
      [&] { lstm::load_network(path); },
      {path + ": ", "tensor 'weight_hh_l0' has shape [0, 1000], expected [4000, 1000]"}));
}

TEST(ModelFile, RejectsOptionsTheCellCannotHave) {
  TempDir dir;
  lstm::Network<float> gru(make_config(CellType::gru, 2, 3, 1));
  Tensors tensors = lstm::network_tensors(gru);
  tensors.emplace_back("weight_peephole_l0", HostTensor{{9}, std::vector<float>(9)});
  const std::string path = dir.file("gru.safetensors");
  lstm::write_safetensors(path, tensors);
  EXPECT_TRUE(throws_error([&] { lstm::load_network(path); },
                           {path + ": ", "peephole connections exist only for LSTM"}));
}

// Highway gates: the tensors say so (weight_highway_l{k}, bias_highway_l{k} for k ≥ 1), the
// metadata must agree, and a file that also asks for residual connections is refused.
TEST(ModelFile, HighwayTensorsAndMetadata) {
  TempDir dir;
  NetworkConfig config = make_config(CellType::lstm, 3, 4, 2);
  config.highway = true;
  lstm::Network<float> network(config);
  network.init_uniform(3);
  const lstm::ParameterInfo* weight = network.find_parameter("weight_highway_l1");
  const lstm::ParameterInfo* bias = network.find_parameter("bias_highway_l1");
  ASSERT_TRUE(weight && bias);
  EXPECT_EQ(weight->shape, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(bias->shape, (std::vector<int64_t>{4}));
  for (float b : network.parameter("bias_highway_l1")) EXPECT_EQ(b, static_cast<float>(lstm::kHighwayInitialBias));
  EXPECT_EQ(network.find_parameter("weight_highway_l0"), nullptr);

  const std::string path = dir.file("highway.safetensors");
  lstm::save_network(path, network);
  EXPECT_NE(lstm::read_safetensors(path).metadata.at("config").find(R"("highway":true)"), std::string::npos);
  Tensors tensors = lstm::network_tensors(network);  // without metadata: the names say it
  lstm::write_safetensors(path, tensors);
  EXPECT_TRUE(lstm::load_network(path).config().highway);
  lstm::write_safetensors(path, tensors, {{"config", R"({"residual": true})"}});
  EXPECT_TRUE(throws_error([&] { lstm::load_network(path); },
                           {path + ": ", "highway gates (highway) and residual connections (residual) do not combine"}));
  tensor(tensors, "weight_highway_l1").shape = {2, 8};
  lstm::write_safetensors(path, tensors);
  EXPECT_TRUE(throws_error([&] { lstm::load_network(path); },
                           {"tensor 'weight_highway_l1' has shape [2, 8], expected [4, 4]"}));
}

// Layer normalisation with coupled gates: the gains of the input and recurrent parts have 3H
// entries (f, g, o) like the weights; a file without metadata is still a coupled-gate LSTM (no GRU
// is layer-normalised), and gains of 4H there are refused by name.
TEST(ModelFile, CoupledLayerNormTensorShapes) {
  TempDir dir;
  NetworkConfig config = make_config(CellType::lstm, 3, 5, 1);
  config.layer_norm = true;
  config.coupled_gates = true;
  lstm::Network<float> network(config);
  network.init_uniform(5);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"weight_ih_l0", {15, 3}}, {"weight_hh_l0", {15, 5}}, {"bias_ih_l0", {15}},     {"bias_hh_l0", {15}},
      {"weight_ln_ih_l0", {15}}, {"weight_ln_hh_l0", {15}}, {"weight_ln_c_l0", {5}}, {"bias_ln_c_l0", {5}}};
  ASSERT_EQ(network.layout().size(), shapes.size());
  for (size_t k = 0; k < shapes.size(); ++k) {
    EXPECT_EQ(network.layout()[k].name, shapes[k].first);
    EXPECT_EQ(network.layout()[k].shape, shapes[k].second) << shapes[k].first;
  }
  const std::string path = dir.file("cifg_ln.safetensors");
  lstm::save_network(path, network);
  const auto json = lstm::json_text::parse(lstm::read_safetensors(path).metadata.at("config"));
  EXPECT_EQ(json["coupled_gates"], true);
  EXPECT_EQ(json["layer_norm"], true);
  EXPECT_NE(config.describe().find("coupled-gates layer-norm"), std::string::npos) << config.describe();

  Tensors tensors = lstm::network_tensors(network);  // without metadata: 3 gates and layer norm
  lstm::write_safetensors(path, tensors);
  expect_same_config(lstm::load_network(path).config(), config);
  lstm::write_safetensors(path, tensors, {{"config", R"({"coupled_gates": false})"}});
  EXPECT_TRUE(throws_error([&] { lstm::load_network(path); }, {path + ": ", "says coupled_gates false but the tensors say 3 gates per unit"}));
  tensor(tensors, "weight_ln_hh_l0") = HostTensor{{20}, std::vector<float>(20, 1.0f)};
  lstm::write_safetensors(path, tensors);
  EXPECT_TRUE(throws_error([&] { lstm::load_network(path); },
                           {path + ": ", "tensor 'weight_ln_hh_l0' has shape [20], expected [15]"}));
}

}  // namespace
