// What `lstm train --report` shows: the loss curves of the run, and the task's own section
// (a forecaster's forecasts against the actual values and its metrics next to the baselines).
#pragma once

#include <string>
#include <vector>

#include "apps/charlm.hpp"
#include "apps/forecast.hpp"
#include "apps/report.hpp"
#include "apps/trainer.hpp"

namespace lstm::apps {

// Training and validation loss by epoch; each loss is multiplied by `scale` and shown in `unit`
// (e.g. ln-loss × 1/ln 2 in bits per character).
void add_loss_curves(report::Document& document, const std::vector<EpochReport>& epochs,
                     const std::string& unit, double scale = 1.0);

// The validation part: actual values and the model's forecasts one step ahead (a direct model:
// its first horizon), then the forecast after the last row (`future` rows; a direct model: its
// H), and the metrics table (`report`), titled `errors_title` (empty: the validation errors of
// a training run, MASE scaled on the training part).
void add_forecast_section(report::Document& document, SequenceModel& model,
                          const ForecastInfo& info, const Series& series, int64_t split,
                          const ForecastReport& report, int64_t future,
                          const std::string& errors_title = "");

// A language model on the start of its validation text: a sample continuing it, and the gates
// and states of every step over `window` characters of it.
void add_text_sections(report::Document& document, SequenceModel& model, const CharLmData& data,
                       int64_t window);

}  // namespace lstm::apps
