#include "data/json_text.hpp"

namespace lstm::json_text {

nlohmann::json parse(std::string_view text) {
  return nlohmann::json::parse(text.begin(), text.end());
}

nlohmann::json parse(std::string_view text, const nlohmann::json::parser_callback_t& callback) {
  return nlohmann::json::parse(text.begin(), text.end(), callback);
}

std::string dump(const nlohmann::json& value, int indent) {
  return value.dump(indent);
}

std::string dump(const nlohmann::ordered_json& value, int indent) {
  return value.dump(indent);
}

}  // namespace lstm::json_text
