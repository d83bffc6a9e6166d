// R's answers for the classical forecasting tests: tests/data/<directory>/r_reference.json, each
// written by the make_reference.R beside it, read once per test program.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "apps/arima.hpp"
#include "data/json_text.hpp"
#include "test_util.hpp"

namespace test_util {

inline const nlohmann::json& r_reference(const std::string& directory) {
  static std::map<std::string, nlohmann::json> loaded;
  auto [entry, inserted] = loaded.try_emplace(directory);
  if (inserted) {
    entry->second = lstm::json_text::parse(
        read_file(std::string(LSTM_TEST_DATA_DIR) + "/" + directory + "/r_reference.json"));
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

// R's coefficients of a reference model ("ar", "ma", "sar", "sma", "constant" beside its order)
// in our layout.
inline lstm::apps::ArimaFit coefficients_of(const nlohmann::json& model) {
  lstm::apps::ArimaFit fit;
  fit.order = order_of(model);
  fit.ar = numbers(model["ar"]);
  fit.ma = numbers(model["ma"]);
  fit.seasonal_ar = numbers(model["sar"]);
  fit.seasonal_ma = numbers(model["sma"]);
  fit.constant = model["constant"];
  return fit;
}

// Every coefficient of `ours` within `tolerance` of R's (the constant relative to max(1, |c|)).
inline void expect_coefficients_near(const lstm::apps::ArimaFit& ours,
                                     const lstm::apps::ArimaFit& r, double tolerance,
                                     const std::string& label) {
  auto expect = [&](const std::vector<double>& a, const std::vector<double>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size()) << label << " " << what;
    for (size_t k = 0; k < a.size(); ++k)
      EXPECT_NEAR(a[k], b[k], tolerance) << label << " " << what << k + 1;
  };
  expect(ours.ar, r.ar, "ar");
  expect(ours.ma, r.ma, "ma");
  expect(ours.seasonal_ar, r.seasonal_ar, "sar");
  expect(ours.seasonal_ma, r.seasonal_ma, "sma");
  EXPECT_NEAR(ours.constant, r.constant, tolerance * std::max(1.0, std::fabs(r.constant))) << label;
}

}  // namespace test_util
