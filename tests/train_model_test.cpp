// SequenceModel: training curves equal PyTorch's (tests/data/train/curve_*), model files, the
// head modes, and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lstm/train.hpp"
#include "train_test_util.hpp"

namespace {

using lstm::HeadMode;
using lstm::Mode;
using lstm::SequenceModel;
using test_util::compare_tensors;

constexpr double kTolerance = 1e-5;  // scaled by max(1, max |expected|)

size_t count(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t extent : shape) n *= static_cast<size_t>(extent);
  return n;
}

// The slice of step s from a reference tensor [S, ...].
template <typename T>
std::vector<T> at_step(const std::vector<T>& all, int64_t steps, int64_t s) {
  const size_t each = all.size() / static_cast<size_t>(steps);
  return {all.begin() + s * each, all.begin() + (s + 1) * each};
}

// Trains the reference's model for its steps as scripts/gen_train_reference.py does, checking
// the loss and gradient norm of every step, the first step's gradients and the final weights.
void check_curve(const std::string& name) {
  SCOPED_TRACE(name);
  const train_test::Reference ref("curve_" + name + ".safetensors");
  SequenceModel model =
      lstm::load_sequence_model(train_test::reference_path("curve_" + name + ".model.safetensors"));
  const nlohmann::json training = ref.json("training");
  const int64_t steps = training.at("steps");
  ASSERT_EQ(lstm::head_mode_name(model.config().head_mode),
            training.at("head_mode").get<std::string>());
  const lstm::LossConfig loss{lstm::parse_loss(training.at("loss").get<std::string>()),
                              training.at("huber_delta")};
  const double max_norm = training.at("max_norm");
  lstm::Optimizer optimizer(train_test::optimizer_config(training.at("optimizer")),
                            model.parameters());

  const std::vector<int64_t> lengths_all = ref.integers("lengths");  // [S, B]
  const int64_t batch = ref.tensor("lengths").shape.at(1);
  const bool tokens = model.config().vocab_size > 0;
  const lstm::HostTensor& inputs = ref.tensor(tokens ? "tokens" : "input");  // [S, T, B, ·]
  const int64_t seq_len = inputs.shape.at(1), out = model.config().output_size;
  const bool every_step = model.config().head_mode == HeadMode::every_step;
  std::vector<float> output(static_cast<size_t>((every_step ? seq_len : 1) * batch * out));
  std::vector<float> grad_output(output.size());

  for (int64_t s = 0; s < steps; ++s) {
    const std::vector<int64_t> lengths = at_step(lengths_all, steps, s);
    const std::vector<float> input = at_step(inputs.data, steps, s);
    const std::vector<int64_t> ids(input.begin(), input.end());
    lstm::ModelForwardArgs forward;
    forward.seq_len = seq_len;
    forward.batch = batch;
    if (tokens)
      forward.tokens = ids.data();
    else
      forward.input = input.data();
    forward.lengths = lengths.data();
    forward.output = output.data();
    model.zero_grad();
    model.forward(Mode::training, forward);

    float value;
    if (loss.kind == lstm::LossKind::cross_entropy) {
      const std::vector<int64_t> classes = at_step(ref.integers("target"), steps, s);
      value = lstm::cross_entropy_loss(output, out, classes, grad_output);
    } else {
      const std::vector<float> target = at_step(ref.floats("target"), steps, s);
      std::vector<float> mask;  // [T, B]: every_step rows past a sequence's end weigh 0
      for (int64_t t = 0; every_step && t < seq_len; ++t)
        for (int64_t b = 0; b < batch; ++b) mask.push_back(t < lengths[b] ? 1.0f : 0.0f);
      value = lstm::regression_loss(loss, output, target, grad_output, mask);
    }
    EXPECT_NEAR(value, ref.floats("loss")[s], kTolerance * std::max(1.0f, std::abs(value)))
        << "step " << s;
    model.backward({.grad_output = grad_output.data()});
    if (s == 0) {
      for (const lstm::ParameterView& view : model.parameters())
        EXPECT_TRUE(compare_tensors("grad." + view.name, ref.floats("grad." + view.name), view.grad,
                                    kTolerance));
    }
    const double norm = lstm::clip_grad_norm(model.gradients(), max_norm);
    EXPECT_NEAR(norm, ref.floats("grad_norm")[s], kTolerance * std::max(1.0, norm)) << "step " << s;
    optimizer.step(model.parameters(), training.at("lr"));
  }
  for (const lstm::ParameterView& view : model.parameters())
    EXPECT_TRUE(compare_tensors("final." + view.name, ref.floats("final." + view.name), view.value,
                                kTolerance));
}

TEST(TrainModel, LstmRegressionCurveMatchesPyTorch) {
  check_curve("lstm_mse_adam");
}
TEST(TrainModel, CharLanguageModelCurveMatchesPyTorch) {
  check_curve("charlm_ce_adamw");
}
TEST(TrainModel, GruEveryStepCurveMatchesPyTorch) {
  check_curve("gru_huber_sgd");
}
TEST(TrainModel, BidirectionalLastStepCurveMatchesPyTorch) {
  check_curve("rnn_mae_sgd");
}

lstm::SequenceModelConfig small_config(HeadMode mode, int64_t vocab) {
  lstm::SequenceModelConfig config;
  config.rnn.cell = lstm::CellType::lstm;
  config.rnn.input_size = 3;
  config.rnn.hidden_size = 4;
  config.rnn.num_layers = 2;
  config.rnn.bidirectional = true;
  config.vocab_size = vocab;
  config.output_size = 2;
  config.head_mode = mode;
  return config;
}

TEST(TrainModel, ParametersAreNamedAsPyTorchModules) {
  SequenceModel model(small_config(HeadMode::every_step, 5));
  model.init(1);
  const std::vector<lstm::ParameterView> views = model.parameters();
  ASSERT_EQ(views.size(), 1u + 16u + 2u);
  EXPECT_EQ(views.front().name, "embedding.weight");
  EXPECT_EQ(views.front().shape, (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(views[1].name, "rnn.weight_ih_l0");
  EXPECT_EQ(views[views.size() - 2].name, "head.weight");
  EXPECT_EQ(views[views.size() - 2].shape, (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(views.back().name, "head.bias");
  // The gradients are one flat buffer, in this order.
  size_t total = 0;
  for (const lstm::ParameterView& view : views) {
    EXPECT_EQ(view.grad.data(), model.gradients().data() + total) << view.name;
    EXPECT_EQ(view.value.size(), count(view.shape));
    total += view.grad.size();
  }
  EXPECT_EQ(total, static_cast<size_t>(model.num_parameters()));
  EXPECT_EQ(model.parameter("head.bias").data(), views.back().value.data());
  EXPECT_THROW(model.parameter("head.nothing"), lstm::Error);
}

TEST(TrainModel, LastStepIsTheEveryStepOutputAtEachSequencesEnd) {
  lstm::SequenceModelConfig config = small_config(HeadMode::every_step, 0);
  config.rnn.bidirectional = false;
  SequenceModel every(config);
  every.init(5);
  config.head_mode = HeadMode::last_step;
  SequenceModel last(config);
  for (const lstm::ParameterView& view : every.parameters())
    std::ranges::copy(view.value, last.parameter(view.name).begin());
  const int64_t T = 4, B = 3;
  std::vector<float> input(T * B * 3);
  for (size_t k = 0; k < input.size(); ++k) input[k] = std::sin(0.7f * static_cast<float>(k));
  const std::vector<int64_t> lengths = {4, 1, 3};
  std::vector<float> all(T * B * 2), final_only(B * 2);
  every.forward(Mode::inference, {.seq_len = T,
                                  .batch = B,
                                  .input = input.data(),
                                  .lengths = lengths.data(),
                                  .output = all.data()});
  last.forward(Mode::inference, {.seq_len = T,
                                 .batch = B,
                                 .input = input.data(),
                                 .lengths = lengths.data(),
                                 .output = final_only.data()});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t o = 0; o < 2; ++o)
      EXPECT_FLOAT_EQ(final_only[b * 2 + o], all[((lengths[b] - 1) * B + b) * 2 + o]);
}

TEST(TrainModel, SaveAndLoadRoundTrip) {
  test_util::TempDir dir;
  for (HeadMode mode : {HeadMode::every_step, HeadMode::last_step}) {
    SequenceModel model(small_config(mode, mode == HeadMode::every_step ? 6 : 0));
    model.init(9);
    model.set_forget_bias(1.0f);
    model.metadata()["vocabulary"] = "[\"a\",\"b\"]";
    const std::string path = dir.file("model.safetensors");
    lstm::save_sequence_model(path, model);
    const SequenceModel loaded = lstm::load_sequence_model(path);
    EXPECT_EQ(loaded.config().head_mode, mode);
    EXPECT_EQ(loaded.config().vocab_size, model.config().vocab_size);
    EXPECT_EQ(loaded.config().rnn.describe(), model.config().rnn.describe());
    EXPECT_EQ(loaded.metadata(), model.metadata());
    const auto want = model.tensors(), got = loaded.tensors();
    ASSERT_EQ(want.size(), got.size());
    for (size_t k = 0; k < want.size(); ++k) {
      EXPECT_EQ(want[k].first, got[k].first);
      EXPECT_EQ(want[k].second.shape, got[k].second.shape);
      EXPECT_EQ(0, std::memcmp(want[k].second.data.data(), got[k].second.data.data(),
                               want[k].second.data.size() * 4));
    }
    // The recurrent core alone reads with lstm::load_network.
    EXPECT_EQ(lstm::load_network(path).num_parameters(), model.network().num_parameters());
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}),
            1);  // no temporary left
}

TEST(TrainModel, ForgetBiasIsSetInEveryLayerAndDirection) {
  SequenceModel model(small_config(HeadMode::every_step, 0));
  model.init(2);
  model.set_forget_bias(1.0f);
  for (const char* suffix : {"0", "0_reverse", "1", "1_reverse"}) {
    const auto ih = model.network().parameter(std::string("bias_ih_l") + suffix);
    const auto hh = model.network().parameter(std::string("bias_hh_l") + suffix);
    for (size_t k = 4; k < 8; ++k) {
      EXPECT_EQ(ih[k], 1.0f);
      EXPECT_EQ(hh[k], 0.0f);
    }
    EXPECT_NE(ih[0], 1.0f);
  }
}

// Coupled gates (f, g, o): the forget gate is the first block, and there is no input gate.
TEST(TrainModel, ForgetBiasOfCoupledGatesIsTheFirstBlock) {
  lstm::SequenceModelConfig config = small_config(HeadMode::every_step, 0);
  config.rnn.coupled_gates = true;
  SequenceModel model(config);
  model.init(2);
  model.set_forget_bias(2.0f);
  for (const char* suffix : {"0", "0_reverse", "1", "1_reverse"}) {
    const auto ih = model.network().parameter(std::string("bias_ih_l") + suffix);
    const auto hh = model.network().parameter(std::string("bias_hh_l") + suffix);
    ASSERT_EQ(ih.size(), 12u);
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_EQ(ih[k], 2.0f);
      EXPECT_EQ(hh[k], 0.0f);
    }
    for (size_t k = 4; k < 12; ++k) EXPECT_NE(ih[k], 2.0f);
  }
}

// Chrono initialisation (Tallec & Ollivier 2018) for sequences of T steps: every layer and
// direction gets forget biases log(u), u in [1, T - 1], spread over that range, the input gate
// the negative (none with coupled gates), bias_hh 0, every other parameter unchanged.
TEST(TrainModel, ChronoForgetBiasInEveryLayerAndDirection) {
  const int64_t T = 50;
  for (const bool coupled : {false, true}) {
    SCOPED_TRACE(coupled ? "coupled gates" : "lstm");
    lstm::SequenceModelConfig config = small_config(HeadMode::every_step, 0);
    config.rnn.coupled_gates = coupled;
    config.rnn.hidden_size = 64;
    SequenceModel model(config);
    model.init(3);
    const std::vector<float> before(model.network().parameters().begin(), model.network().parameters().end());
    model.set_chrono_forget_bias(T, 9);
    const size_t H = 64, forget = coupled ? 0 : H;
    std::vector<float> first_forget;
    size_t changed = 0;
    for (const char* suffix : {"0", "0_reverse", "1", "1_reverse"}) {
      const auto ih = model.network().parameter(std::string("bias_ih_l") + suffix);
      const auto hh = model.network().parameter(std::string("bias_hh_l") + suffix);
      float low = 1e9f, high = -1e9f;
      for (size_t h = 0; h < H; ++h) {
        const float b = ih[forget + h];
        EXPECT_GE(b, 0.0f);
        EXPECT_LE(b, std::log(float(T - 1)) + 1e-6f);
        low = std::min(low, b), high = std::max(high, b);
        EXPECT_EQ(hh[forget + h], 0.0f);
        if (!coupled) {
          EXPECT_EQ(ih[h], -b);
          EXPECT_EQ(hh[h], 0.0f);
        }
      }
      EXPECT_LT(low, 1.0f);   // spread: short and long memories
      EXPECT_GT(high, 3.0f);  // log(49) = 3.9
      std::vector<float> forget_biases(ih.begin() + static_cast<long>(forget), ih.begin() + static_cast<long>(forget + H));
      if (first_forget.empty()) first_forget = forget_biases;
      else EXPECT_NE(forget_biases, first_forget);  // each layer and direction its own draws
    }
    const auto after = model.network().parameters();
    for (size_t k = 0; k < before.size(); ++k) changed += before[k] != after[k];
    EXPECT_LE(changed, 4 * (coupled ? 2 : 4) * H);  // bias_ih and bias_hh rows of f (and i) only
  }
  lstm::SequenceModelConfig gru = small_config(HeadMode::every_step, 0);
  gru.rnn.cell = lstm::CellType::gru;
  SequenceModel not_lstm(gru);
  train_test::expect_error([&] { not_lstm.set_chrono_forget_bias(T, 1); }, {"needs an LSTM with bias tensors"});
}

// Writes a model's tensors with one change and expects loading to fail with `message`.
void expect_load_error(const std::string& name,
                       const std::function<void(lstm::SafetensorsContents&)>& edit,
                       const std::string& message) {
  SCOPED_TRACE(name);
  test_util::TempDir dir;
  SequenceModel model(small_config(HeadMode::every_step, 4));
  lstm::SafetensorsContents contents{model.tensors(), model.file_metadata()};
  edit(contents);
  const std::string path = dir.file("bad.safetensors");
  lstm::write_safetensors(path, contents.tensors, contents.metadata);
  train_test::expect_error([&] { lstm::load_sequence_model(path); }, {path, message});
}

lstm::HostTensor* tensor_named(lstm::SafetensorsContents& contents, const std::string& name) {
  for (auto& [tensor_name, tensor] : contents.tensors)
    if (tensor_name == name) return &tensor;
  return nullptr;
}

TEST(TrainModel, BadModelFilesAreErrors) {
  expect_load_error(
      "extra tensor",
      [](auto& c) {
        c.tensors.emplace_back("decoder.weight", lstm::HostTensor{{1}, {0}});
      },
      "unexpected tensor 'decoder.weight'");
  expect_load_error(
      "no head",
      [](auto& c) { std::erase_if(c.tensors, [](auto& t) { return t.first == "head.bias"; }); },
      "missing tensor 'head.bias'");
  expect_load_error(
      "head width",
      [](auto& c) {
        *tensor_named(c, "head.weight") = lstm::HostTensor{{2, 5}, std::vector<float>(10)};
      },
      "'head.weight' has shape [2, 5], expected [2, 8]");
  expect_load_error(
      "embedding width",
      [](auto& c) {
        *tensor_named(c, "embedding.weight") = lstm::HostTensor{{4, 2}, std::vector<float>(8)};
      },
      "'embedding.weight' has shape [4, 2], expected [4, 3]");
  expect_load_error(
      "non-finite", [](auto& c) { tensor_named(c, "head.bias")->data[1] = NAN; },
      "non-finite value at flat index 1");
  expect_load_error(
      "head mode", [](auto& c) { c.metadata["sequence_model"] = "{\"head_mode\":\"middle\"}"; },
      "middle");
}

TEST(TrainModel, BadCallsAreErrors) {
  SequenceModel model(small_config(HeadMode::every_step, 4));
  std::vector<float> input(2 * 3), output(2 * 2);
  const std::vector<int64_t> ids = {0, 7};
  EXPECT_THROW(model.backward({.grad_output = output.data()}), lstm::Error);  // no forward yet
  EXPECT_THROW(
      model.forward(Mode::training,
                    {.seq_len = 2, .batch = 1, .input = input.data(), .output = output.data()}),
      lstm::Error);  // float input to an embedding model
  EXPECT_THROW(
      model.forward(Mode::training,
                    {.seq_len = 2, .batch = 1, .tokens = ids.data(), .output = output.data()}),
      lstm::Error);  // id 7 outside the vocabulary of 4
  model.metadata()["config"] = "{}";
  EXPECT_THROW(model.file_metadata(), lstm::Error);  // reserved key
  lstm::SequenceModelConfig gru = small_config(HeadMode::every_step, 0);
  gru.rnn.cell = lstm::CellType::gru;
  EXPECT_THROW(SequenceModel(gru).set_forget_bias(1.0f), lstm::Error);
  gru.output_size = 0;
  EXPECT_THROW(SequenceModel{gru}, lstm::Error);
}

}  // namespace
