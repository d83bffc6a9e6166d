// Inputs that fuzzing found to crash (or to reach undefined behaviour), kept as regressions:
// each must now be a clean lstm::Error. tests/data/fuzz_regressions/ holds them as found.
#include <gtest/gtest.h>

#include <string>

#include "apps/charlm.hpp"
#include "apps/forecast.hpp"
#include "lstm/train.hpp"
#include "test_util.hpp"

namespace {

lstm::SequenceModel model_with(const std::string& key, const std::string& value) {
  lstm::SequenceModelConfig config;
  config.rnn.input_size = 1;
  config.rnn.hidden_size = 2;
  config.output_size = 1;
  config.head_mode = lstm::HeadMode::last_step;
  lstm::SequenceModel model(config);
  model.metadata()[key] = value;
  return model;
}

// fuzz_metadata, key "charlm": a window of 922337203685477580810 (parsed as a double) was
// converted to int64 (UBSan: outside the range of representable values).
TEST(FuzzRegression, CharlmWindowBeyondInt64) {
  const std::string found =
      test_util::read_file(std::string(LSTM_TEST_DATA_DIR) +
                           "/fuzz_regressions/metadata_charlm_window_9e20");
  ASSERT_GT(found.size(), 1u);
  ASSERT_EQ(found[0] % 6, 4);  // fuzz_metadata's key index 4: "charlm"
  const lstm::SequenceModel model = model_with("charlm", found.substr(1));
  try {
    (void)lstm::apps::charlm_info(model, "m.safetensors");
    FAIL() << "accepted";
  } catch (const lstm::Error& error) {
    EXPECT_NE(std::string(error.what()).find("'window' is not an integer"), std::string::npos)
        << error.what();
  }
}

TEST(FuzzRegression, ForecastIntegersBeyondInt64) {
  for (const char* key : {"window", "season", "horizon"}) {
    std::string value = R"({"target":"y","columns":["y"],"window":4,"season":0,"horizon":1})";
    value.replace(value.find(std::string("\"") + key + "\":") + std::string(key).size() + 3, 1,
                  "9.2e20");
    const lstm::SequenceModel model = model_with("forecast", value);
    try {
      (void)lstm::apps::forecast_info(model, "m.safetensors");
      FAIL() << "accepted " << value;
    } catch (const lstm::Error& error) {
      EXPECT_NE(std::string(error.what()).find(std::string("'") + key + "' is not an integer"),
                std::string::npos)
          << error.what();
    }
  }
}

}  // namespace
