// JSON text to and from nlohmann::json, compiled once (json_text.cpp). nlohmann's parser and
// serializer are large templates: instantiated in every file that read or wrote JSON, they cost
// each such file about 6 s of compile time under the sanitizers. Not part of the public API.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace lstm::json_text {

// The value `text` holds; throws nlohmann::json::parse_error if it is not one JSON value.
nlohmann::json parse(std::string_view text);
// The same, passing every parse event to `callback` (which may also drop values).
nlohmann::json parse(std::string_view text, const nlohmann::json::parser_callback_t& callback);
// `value` as JSON text: on one line, or indented by `indent` spaces a level. An ordered_json
// keeps its keys in the order they were inserted (a json sorts them).
std::string dump(const nlohmann::json& value, int indent = -1);
std::string dump(const nlohmann::ordered_json& value, int indent = -1);

}  // namespace lstm::json_text
