// The report section of a validated forecast: the chosen forecast with its interval and the
// baselines' forecasts after the series on one chart, and the rolling-origin table.
#pragma once

#include "apps/model_choice.hpp"
#include "apps/report.hpp"
#include "lstm/data.hpp"

namespace lstm::apps {

void add_rolling_section(report::Document& document, const Series& series,
                         const ChosenForecast& chosen);

}  // namespace lstm::apps
