// Many series for one global model: reading them (wide or long CSV), preparing each with shared
// window/season/differencing and its own normalisation, pooling their windows, and the model's
// metadata (every series' single-series view) written and read back.
#include "apps/multi_series.hpp"
#include "data/json_text.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace lstm::apps {
namespace {

using json = nlohmann::json;
constexpr const char* kMultiSeriesKey = "multi_series";

std::string series_path(const std::string& path, const std::string& name) {
  return path + " (series '" + name + "')";
}

std::string name_list(const std::vector<std::string>& names) {
  std::string text;
  for (size_t k = 0; k < names.size() && k < 10; ++k) text += (k ? ", " : "") + names[k];
  if (names.size() > 10) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

std::vector<Series> load_wide(const CsvTable& table, const SeriesLayout& layout) {
  std::vector<std::string> names = layout.columns;
  if (layout.all_columns) {
    if (!names.empty()) throw Error("--all-columns and a --target list exclude each other");
    if (table.columns.size() < 2)
      throw Error(table.path +
                  ": --all-columns needs a date/index column and at least one series column");
    names.assign(table.columns.begin() + 1, table.columns.end());
  }
  if (names.empty()) throw Error(table.path + ": no series given");
  std::set<std::string> seen;
  for (const std::string& name : names)
    if (name.empty() || !seen.insert(name).second)
      throw Error(table.path + ": series column '" + name + "' is given twice or is empty");
  // The first column is the date/index column unless it is one of the series; each series is
  // read from a table of that column (if any) and its own, so that all share one index.
  const bool indexed = !seen.count(table.columns.front());
  std::vector<Series> result;
  for (const std::string& name : names) {
    const size_t column = table.column_index(name);
    CsvTable part;
    part.path = table.path;
    part.delimiter = table.delimiter;
    part.lines = table.lines;
    if (indexed) part.columns.push_back(table.columns.front());
    part.columns.push_back(name);
    part.rows.reserve(table.rows.size());
    for (const auto& row : table.rows) {
      part.rows.emplace_back();
      if (indexed) part.rows.back().push_back(row.front());
      part.rows.back().push_back(row[column]);
    }
    Series series = series_from_table(part, name);
    series.path = series_path(table.path, name);
    result.push_back(std::move(series));
  }
  return result;
}

std::vector<Series> load_long(const CsvTable& table, const SeriesLayout& layout) {
  const size_t id_column = table.column_index(layout.series_column);
  const size_t value_column = table.column_index(layout.value_column);
  if (id_column == value_column)
    throw Error(table.path + ": the series column and the value column are the same");
  std::optional<size_t> date_column;
  if (!layout.date_column.empty()) {
    date_column = table.column_index(layout.date_column);
    if (*date_column == id_column || *date_column == value_column)
      throw Error(table.path + ": the date column must differ from the series and value columns");
  } else {
    for (size_t c = 0; c < table.columns.size() && !date_column; ++c)
      if (c != id_column && c != value_column) date_column = c;
  }
  std::vector<std::string> order;
  std::map<std::string, CsvTable> groups;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string& id = table.rows[r][id_column];
    if (id.empty())
      throw Error(table.path + ": line " + std::to_string(table.lines[r]) +
                  ": no series id in column '" + layout.series_column + "'");
    auto [entry, fresh] = groups.try_emplace(id);
    CsvTable& group = entry->second;
    if (fresh) {
      order.push_back(id);
      group.path = series_path(table.path, id);
      group.delimiter = table.delimiter;
      if (date_column) group.columns.push_back(table.columns[*date_column]);
      group.columns.push_back(table.columns[value_column]);
    }
    std::vector<std::string> row;
    if (date_column) row.push_back(table.rows[r][*date_column]);
    row.push_back(table.rows[r][value_column]);
    group.rows.push_back(std::move(row));
    group.lines.push_back(table.lines[r]);
  }
  std::vector<Series> result;
  for (const std::string& id : order) {
    Series series = series_from_table(groups.at(id), layout.value_column);
    series.columns[0] = id;
    result.push_back(std::move(series));
  }
  // One frequency for all: the same kind of index and the same step (dates may start and end
  // at different times; each series is modelled from its own rows).
  const SeriesIndex& first = result.front().index;
  for (const Series& series : result) {
    const SeriesIndex& index = series.index;
    if (series.rows < 3 || result.front().rows < 3) continue;  // too short: named later
    if (index.kind != first.kind || index.step_months != first.step_months ||
        index.step_seconds != first.step_seconds || index.step_number != first.step_number)
      throw Error(table.path + ": series '" + series.columns[0] +
                  "' has another step between its dates than series '" + result.front().columns[0] +
                  "'; every series must have the same frequency");
  }
  return result;
}

// The value seen most often (ties: the smallest).
int64_t most_common(const std::vector<int64_t>& values) {
  std::map<int64_t, int64_t> counts;
  for (int64_t v : values) ++counts[v];
  int64_t best = 0, best_count = -1;
  for (const auto& [value, count] : counts)
    if (count > best_count) best = value, best_count = count;
  return best;
}

}  // namespace

std::vector<Series> load_many_series(const std::string& path, const SeriesLayout& layout) {
  const CsvTable table = read_csv(path);
  return layout.is_long() ? load_long(table, layout) : load_wide(table, layout);
}

MultiSeriesData prepare_multi_series(const std::string& path, const SeriesLayout& layout,
                                     ForecastSetup setup) {
  if (!setup.features.empty())
    throw Error(
        "--features is for one series; a global model of several series takes the series only");
  if (!(setup.validation_fraction > 0.0 && setup.validation_fraction < 1.0))
    throw Error("forecast: the validation fraction must be in (0, 1)");
  std::vector<Series> all = load_many_series(path, layout);
  const auto count = static_cast<int64_t>(all.size());
  std::vector<int64_t> splits;
  for (const Series& series : all) {
    if (series.rows < 4)
      throw Error(series.path + ": the series has " + std::to_string(series.rows) +
                  " rows; at least 4 are needed to train and validate");
    splits.push_back(split_point(series.rows, setup.validation_fraction));
  }
  MultiSeriesData data;
  if (setup.season >= 0) {
    data.season = setup.season;
  } else {
    std::vector<int64_t> seasons;
    for (int64_t s = 0; s < count; ++s) {
      const std::vector<double> y = all[s].column(0);
      seasons.push_back(
          detect_season(std::span<const double>(y.data(), static_cast<size_t>(splits[s]))));
    }
    data.season = most_common(seasons);
  }
  if (setup.window > 0) {
    data.window = setup.window;
  } else {
    std::vector<int64_t> sorted = splits;
    std::sort(sorted.begin(), sorted.end());
    const int64_t median_split = sorted[sorted.size() / 2];
    data.window = data.season > 1 ? std::min<int64_t>(2 * data.season, 104) : 52;
    data.window = std::max<int64_t>(2, std::min(data.window, median_split / 2));
  }
  setup.season = data.season;
  setup.window = data.window;
  // Differencing: as given, or as most series' training parts say (each decides first).
  // The horizon: as given, or (0) the one every series takes automatically, else one-step.
  std::vector<ForecastData> prepared;
  int64_t trending = 0;
  for (Series& series : all) {
    prepared.push_back(prepare_forecast_data(std::move(series), setup));
    trending += prepared.back().difference_scale.empty() ? 0 : 1;
  }
  if (setup.horizon == 0) {
    setup.horizon = prepared.front().horizon;
    for (const ForecastData& one : prepared)
      if (one.horizon != setup.horizon) setup.horizon = 1;
  }
  data.horizon = setup.horizon;
  data.differencing = setup.differencing >= 0 ? setup.differencing > 0 : 2 * trending > count;
  setup.differencing = data.differencing ? 1 : 0;
  for (ForecastData& one : prepared)
    if (one.difference_scale.empty() == data.differencing || one.horizon != setup.horizon)
      one = prepare_forecast_data(std::move(one.series), setup);
  data.series = std::move(prepared);
  // Pool the windows: [sum count, W, 1] inputs, [sum count, O] targets.
  auto pool = [](SampleSet& into, const SampleSet& part) {
    into.steps = part.steps;
    into.features = part.features;
    into.outputs = part.outputs;
    into.count += part.count;
    into.inputs.insert(into.inputs.end(), part.inputs.begin(), part.inputs.end());
    into.targets.insert(into.targets.end(), part.targets.begin(), part.targets.end());
  };
  for (const ForecastData& one : data.series) {
    pool(data.train, one.train);
    pool(data.validation, one.validation);
  }
  return data;
}

SequenceModel make_multi_series_model(const MultiSeriesData& data, const ForecastSetup& setup,
                                      const SeriesLayout& layout) {
  SequenceModel model = make_forecast_model(data.series.front(), setup);
  json entries = json::array();
  std::vector<std::string> names;
  for (const ForecastData& one : data.series) {
    // Each series' own metadata, every entry make_forecast_model writes for a model of that
    // series (today 'forecast' and 'normalization'), as text.
    const SequenceModel single = make_forecast_model(one, setup);
    entries.push_back(json(single.metadata()));
    names.push_back(one.series.columns.at(0));
  }
  json value{{"layout", layout.is_long() ? "long" : "wide"},
             {"series_column", layout.series_column},
             {"value_column", layout.value_column},
             {"date_column", layout.date_column},
             {"names", names},
             {"series", entries}};
  model.metadata()[kMultiSeriesKey] = json_text::dump(value);
  return model;
}

bool is_multi_series_model(const SequenceModel& model) {
  return model.metadata().count(kMultiSeriesKey) > 0;
}

MultiSeriesInfo multi_series_info(SequenceModel& model, const std::string& path) {
  auto& metadata = model.metadata();
  const auto entry = metadata.find(kMultiSeriesKey);
  if (entry == metadata.end())
    throw Error(path + ": not a model of several series (no metadata 'multi_series')");
  MultiSeriesInfo info;
  std::vector<std::map<std::string, std::string>> per_series;  // [S] metadata entries
  try {
    const json value = json_text::parse(entry->second);
    const std::string layout = value.at("layout").get<std::string>();
    info.layout.series_column = value.at("series_column").get<std::string>();
    info.layout.value_column = value.at("value_column").get<std::string>();
    info.layout.date_column = value.at("date_column").get<std::string>();
    info.names = value.at("names").get<std::vector<std::string>>();
    for (const json& one : value.at("series"))
      per_series.push_back(one.get<std::map<std::string, std::string>>());
    if ((layout == "long") != info.layout.is_long() || (layout != "long" && layout != "wide"))
      throw Error(path + ": metadata 'multi_series': layout '" + layout + "' is inconsistent");
  } catch (const json::exception& error) {
    throw Error(path + ": metadata 'multi_series' is invalid: " + std::string(error.what()));
  }
  if (info.names.empty() || per_series.size() != info.names.size())
    throw Error(path + ": metadata 'multi_series' is inconsistent (names and series differ)");
  if (!info.layout.is_long()) info.layout.columns = info.names;
  // Each series' view: its metadata in the model's place, read as a single-series model's.
  struct Restore {
    std::map<std::string, std::string>& metadata;
    const std::map<std::string, std::string> saved;
    ~Restore() { metadata = saved; }
  } restore{metadata, metadata};
  for (size_t s = 0; s < per_series.size(); ++s) {
    metadata = restore.saved;
    for (const auto& [key, text] : per_series[s]) metadata[key] = text;
    info.series.push_back(forecast_info(model, series_path(path, info.names[s])));
    if (info.series.back().target != info.names[s] || info.series.back().columns.size() != 1)
      throw Error(series_path(path, info.names[s]) + ": metadata 'multi_series' is inconsistent");
  }
  return info;
}

std::vector<Series> load_model_series(const MultiSeriesInfo& info, const std::string& path) {
  SeriesLayout layout = info.layout;
  std::vector<Series> loaded = load_many_series(path, layout);
  if (!layout.is_long()) return loaded;  // exactly the model's columns, in its order
  std::map<std::string, Series*> by_name;
  for (Series& series : loaded) by_name[series.columns[0]] = &series;
  const std::set<std::string> known(info.names.begin(), info.names.end());
  for (const Series& series : loaded)
    if (!known.count(series.columns[0]))
      throw Error(path + ": series '" + series.columns[0] + "' is not one of the model's (" +
                  name_list(info.names) + ")");
  std::vector<Series> result;
  for (const std::string& name : info.names) {
    const auto found = by_name.find(name);
    if (found == by_name.end())
      throw Error(path + ": the model's series '" + name + "' is missing (column '" +
                  layout.series_column + "')");
    result.push_back(std::move(*found->second));
  }
  return result;
}

}  // namespace lstm::apps
