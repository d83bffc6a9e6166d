// R's answers for the classical forecasting tests: tests/data/<directory>/r_reference.json, each
// written by the make_reference.R beside it, read once per test program.
#pragma once

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/arima.hpp"

namespace test_util {

inline const nlohmann::json& r_reference(const std::string& directory) {
  static std::map<std::string, nlohmann::json> loaded;
  auto [entry, inserted] = loaded.try_emplace(directory);
  if (inserted) {
    std::ifstream file(std::string(LSTM_TEST_DATA_DIR) + "/" + directory + "/r_reference.json");
    entry->second = nlohmann::json::parse(file);
  }
  return entry->second;
}

inline std::vector<double> numbers(const nlohmann::json& value) { return value.get<std::vector<double>>(); }

// The order of a reference ARIMA model: "order" [p, d, q, P, D, Q], "period", "constant_included".
inline lstm::apps::ArimaOrder order_of(const nlohmann::json& model) {
  const std::vector<double> o = numbers(model["order"]);
  auto i = [&](size_t k) { return static_cast<int>(o[k]); };
  return {i(0), i(1), i(2), i(3), i(4), i(5), model["period"].get<int64_t>(),
          model["constant_included"].get<bool>()};
}

}  // namespace test_util
