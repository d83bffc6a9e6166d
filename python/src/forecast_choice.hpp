// What `lstm forecast` writes, for lstm.Forecaster: the network and the classical methods
// validated from rolling origins, the chosen forecast (--model-choice) with its conformal
// interval (--interval), and the validation as a Python dict.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/forecast.hpp"
#include "apps/model_choice.hpp"

namespace lstm_python {

struct ChoiceForecast {
  std::vector<double> values, lower, upper;          // [steps]; bounds NaN without an interval
  std::string model = "lstm";                        // the CLI's `model` column
  std::optional<lstm::apps::ChosenForecast> chosen;  // absent: too short to validate
  std::vector<std::string> warnings;                 // the CLI's stderr warnings
};

// As `lstm forecast --steps steps --model-choice choice --interval level` on `series`
// (`data_name` names it in warnings). No Python calls: may run without the GIL.
ChoiceForecast forecast_by_choice(lstm::SequenceModel& model, const lstm::apps::ForecastInfo& info,
                                  const lstm::Series& series, int64_t steps,
                                  lstm::apps::ModelChoice choice, double level,
                                  const std::string& data_name);

// {"horizon", "origins", "first_origin", "last_origin", "models": {name: {"mase", "smape",
// "rmse", "mae"}}, "skipped", "best", "chosen", "members", "lstm_beaten", "lstm_validated",
// "interval", "interval_coverage"}; the same numbers as `lstm eval`'s "rolling". Needs the GIL.
pybind11::dict rolling_dict(const lstm::apps::ChosenForecast& chosen);

}  // namespace lstm_python
