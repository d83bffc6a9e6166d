// Helpers shared by the training tests: reading tests/data/train references (written by
// scripts/gen_train_reference.py) and their JSON settings.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "core/random.hpp"

#include "data/json_text.hpp"
#include "lstm/io.hpp"
#include "lstm/train.hpp"
#include "test_util.hpp"

namespace train_test {

inline std::string reference_path(const std::string& file) {
  return std::string(LSTM_TEST_DATA_DIR) + "/train/" + file;
}

// A reference file with its path, for messages.
struct Reference {
  std::string path;
  lstm::SafetensorsContents contents;

  explicit Reference(const std::string& file)
      : path(reference_path(file)), contents(lstm::read_safetensors(path)) {}
  const lstm::HostTensor& tensor(const std::string& name) const {
    return test_util::require_tensor(contents, name, path);
  }
  const std::vector<float>& floats(const std::string& name) const { return tensor(name).data; }
  // Integers stored as F32 (exact for the small values used).
  std::vector<int64_t> integers(const std::string& name) const {
    const std::vector<float>& values = floats(name);
    return {values.begin(), values.end()};
  }
  nlohmann::json json(const std::string& key) const {
    return lstm::json_text::parse(contents.metadata.at(key));
  }
};

// An OptimizerConfig from the generator's settings, e.g. {"kind": "sgd", "momentum": 0.9}.
inline lstm::OptimizerConfig optimizer_config(const nlohmann::json& settings) {
  lstm::OptimizerConfig config;
  config.kind = lstm::parse_optimizer(settings.at("kind").get<std::string>());
  config.weight_decay = settings.value("weight_decay", 0.0);
  config.momentum = settings.value("momentum", 0.0);
  config.dampening = settings.value("dampening", 0.0);
  config.nesterov = settings.value("nesterov", false);
  config.beta1 = settings.value("beta1", 0.9);
  config.beta2 = settings.value("beta2", 0.999);
  config.eps = settings.value("eps", 1e-8);
  return config;
}

// `count` values uniform in [-scale, scale), deterministic in seed.
inline std::vector<double> random_values(uint64_t seed, size_t count, double scale = 1.0) {
  std::vector<double> values(count);
  for (size_t k = 0; k < count; ++k) values[k] = (2.0 * lstm::uniform01(seed, k) - 1.0) * scale;
  return values;
}

// Central differences of `loss` (which reads *x) with respect to every element of *x, against
// `analytic`, within `tol` scaled by max(1, max |analytic|).
inline void expect_gradient_matches(const std::string& name, std::vector<double>* x,
                                    const std::function<double()>& loss,
                                    const std::vector<double>& analytic, double tol) {
  const double step = 1e-6;
  std::vector<double> numeric(x->size());
  for (size_t k = 0; k < x->size(); ++k) {
    const double saved = (*x)[k];
    (*x)[k] = saved + step;
    const double up = loss();
    (*x)[k] = saved - step;
    const double down = loss();
    (*x)[k] = saved;
    numeric[k] = (up - down) / (2 * step);
  }
  EXPECT_TRUE(test_util::compare_tensors(name, std::span<const double>(analytic),
                                         std::span<const double>(numeric), tol));
}

// Expects `call` to throw lstm::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& call,
                         std::initializer_list<std::string> parts) {
  try {
    call();
    ADD_FAILURE() << "no exception";
  } catch (const lstm::Error& error) {
    const std::string what = error.what();
    for (const std::string& part : parts)
      EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' not in: " << what;
  }
}

// Every kind's name parses back to it, and `bad` does not parse.
template <typename Kind>
void expect_names_round_trip(std::initializer_list<Kind> kinds, std::string_view (*name)(Kind),
                             Kind (*parse)(std::string_view), std::string_view bad) {
  for (Kind kind : kinds) EXPECT_EQ(parse(name(kind)), kind) << name(kind);
  EXPECT_THROW(parse(bad), lstm::Error);
}

}  // namespace train_test
