// Parsing of the small JSON objects that task data (vocabulary, normalisation) keeps in a model
// file's metadata. Not part of the public API.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "data/io_detail.hpp"
#include "data/json_text.hpp"

namespace lstm::detail {

// The JSON object in `text`; throws "<name>: <what>: ..." if it is not valid JSON, not an object,
// or has a key other than `keys`.
inline nlohmann::json parse_metadata_object(std::string_view name, std::string_view text,
                                            const std::string& what,
                                            std::initializer_list<std::string_view> keys) {
  nlohmann::json value;
  try {
    value = json_text::parse(text);
  } catch (const nlohmann::json::exception&) {
    fail(name, what + ": not valid JSON");
  }
  if (!value.is_object()) fail(name, what + ": not a JSON object");
  for (const auto& item : value.items())
    if (std::find(keys.begin(), keys.end(), item.key()) == keys.end())
      fail(name, what + ": unexpected key " + quote_name(item.key()));
  return value;
}

}  // namespace lstm::detail
