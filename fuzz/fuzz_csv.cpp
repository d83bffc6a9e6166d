// libFuzzer target: any byte string must parse as a CSV series or throw lstm::Error, never crash;
// a series that parses also goes through the statistics training computes on it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lstm/data.hpp"
#include "lstm/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  lstm::CsvTable table;
  try {
    table = lstm::parse_csv("fuzz.csv", text);
  } catch (const lstm::Error&) {
    return 0;
  }
  if (table.columns.empty()) return 0;
  // The last column as the target, the others (but the first, a possible index) as features.
  std::vector<std::string> features;
  for (size_t k = 1; k + 1 < table.columns.size(); ++k) features.push_back(table.columns[k]);
  try {
    const lstm::Series series = lstm::series_from_table(table, table.columns.back(), features);
    const lstm::Normalization normalization =
        lstm::Normalization::fit(series.values, series.features());
    std::vector<double> values = series.values;
    normalization.apply(values);
    (void)lstm::Normalization::from_json("fuzz.csv", normalization.to_json());
    const std::vector<double> target = series.column(0);
    (void)lstm::detect_season(target);
    (void)series.future_index(3);
    if (target.size() >= 4) (void)lstm::evaluate_baselines(target, static_cast<int64_t>(target.size()) - 2, 1, 1);
  } catch (const lstm::Error&) {
  }
  return 0;
}
