// Texts for language models: UTF-8 validation and decoding, character and byte vocabularies,
// encoding and decoding ids, and the vocabulary's JSON form for a model file's metadata.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include "data/io_detail.hpp"
#include "data/json_text.hpp"
#include "data/metadata_json.hpp"
#include "lstm/data.hpp"
#include "lstm/error.hpp"
#include "lstm/memory.hpp"

namespace lstm {
namespace {

using detail::fail;
using nlohmann::json;

std::string hex_byte(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", byte);
  return text;
}

std::string code_point_name(char32_t symbol) {
  char text[16];
  std::snprintf(text, sizeof text, "U+%04X", static_cast<unsigned>(symbol));
  return text;
}

bool is_code_point(char32_t symbol) {
  return symbol <= 0x10FFFF && (symbol < 0xD800 || symbol > 0xDFFF);
}

struct Utf8Step {
  char32_t code_point = 0;
  size_t length = 0;   // bytes consumed; 0 when invalid
  std::string reason;  // why it is invalid
};

// Decodes the sequence starting at bytes[pos].
Utf8Step decode_one(std::string_view bytes, size_t pos) {
  const auto lead = static_cast<unsigned char>(bytes[pos]);
  Utf8Step step;
  if (lead < 0x80) return {lead, 1, {}};
  size_t length;
  char32_t minimum;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, minimum = 0x80, step.code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, minimum = 0x800, step.code_point = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, minimum = 0x10000, step.code_point = lead & 0x07;
  } else if (lead >= 0x80 && lead <= 0xBF) {
    step.reason = "continuation byte " + hex_byte(lead) + " without a lead byte";
    return step;
  } else if (lead == 0xC0 || lead == 0xC1) {
    step.reason = "overlong encoding (lead byte " + hex_byte(lead) + ")";
    return step;
  } else {
    step.reason = "byte " + hex_byte(lead) + " never occurs in UTF-8";
    return step;
  }
  for (size_t k = 1; k < length; ++k) {
    if (pos + k >= bytes.size()) {
      step.reason = "a " + std::to_string(length) + "-byte sequence is truncated at the end";
      return step;
    }
    const auto next = static_cast<unsigned char>(bytes[pos + k]);
    if ((next & 0xC0) != 0x80) {
      step.reason =
          "a " + std::to_string(length) + "-byte sequence is cut short by byte " + hex_byte(next);
      return step;
    }
    step.code_point = (step.code_point << 6) | (next & 0x3F);
  }
  if (step.code_point < minimum) {
    step.reason = "overlong encoding of " + code_point_name(step.code_point);
  } else if (step.code_point >= 0xD800 && step.code_point <= 0xDFFF) {
    step.reason = "encoded surrogate " + code_point_name(step.code_point);
  } else if (step.code_point > 0x10FFFF) {
    step.reason = "value above U+10FFFF";
  } else {
    step.length = length;
  }
  return step;
}

// Walks every sequence, calling visit(code_point, offset); throws at the first invalid one.
template <typename Visit>
void walk_utf8(std::string_view name, std::string_view bytes, std::string_view advice,
               Visit visit) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const Utf8Step step = decode_one(bytes, pos);
    if (step.length == 0) {
      const auto line =
          std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(pos), '\n') + 1;
      std::string what =
          "invalid UTF-8 at byte " + std::to_string(pos) + " (line " + std::to_string(line);
      what += "): " + step.reason + "; not a UTF-8 text";
      what += advice;
      fail(name, what);
    }
    visit(step.code_point, pos);
    pos += step.length;
  }
}

constexpr std::string_view kind_name(VocabularyKind kind) {
  return kind == VocabularyKind::chars ? "char" : "byte";
}

}  // namespace

void validate_utf8(std::string_view name, std::string_view bytes, std::string_view advice) {
  walk_utf8(name, bytes, advice, [](char32_t, size_t) {});
}

std::vector<char32_t> decode_utf8(std::string_view name, std::string_view bytes) {
  std::vector<char32_t> code_points;
  code_points.reserve(bytes.size());
  walk_utf8(name, bytes, "",
            [&](char32_t code_point, size_t) { code_points.push_back(code_point); });
  return code_points;
}

void append_utf8(std::string& out, char32_t code_point) {
  if (!is_code_point(code_point))
    throw Error("append_utf8: " + code_point_name(code_point) + " is not a character");
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
    return;
  }
  const int length = code_point < 0x800 ? 2 : code_point < 0x10000 ? 3 : 4;
  static constexpr unsigned char lead_bits[5] = {0, 0, 0xC0, 0xE0, 0xF0};
  out += static_cast<char>(lead_bits[length] | (code_point >> (6 * (length - 1))));
  for (int k = length - 2; k >= 0; --k)
    out += static_cast<char>(0x80 | ((code_point >> (6 * k)) & 0x3F));
}

std::string read_text(const std::string& path, VocabularyKind kind) {
  // The bytes, the text, its code points and ids, and the windows' ids: about 10 bytes a byte.
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode))
    require_memory(static_cast<uint64_t>(info.st_size) * 10,
                   path + ": a text of " + byte_size_text(static_cast<uint64_t>(info.st_size)));
  const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
  std::string text(bytes.begin(), bytes.end());
  if (text.empty()) fail(path, "empty file: no text to read");
  if (kind == VocabularyKind::chars) {
    validate_utf8(path, text, " (a byte-level vocabulary accepts any bytes)");
    if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
    if (text.empty()) fail(path, "no text after the byte-order mark");
  }
  return text;
}

Vocabulary Vocabulary::from_symbols(std::string_view name, VocabularyKind kind,
                                    std::vector<char32_t> symbols) {
  if (symbols.empty()) fail(name, "vocabulary: 'symbols' is empty");
  const char32_t limit = kind == VocabularyKind::chars ? 0x10FFFF : 0xFF;
  for (size_t k = 0; k < symbols.size(); ++k) {
    const std::string where =
        "vocabulary: 'symbols'[" + std::to_string(k) + "] = " + std::to_string(symbols[k]);
    if (symbols[k] > limit || (kind == VocabularyKind::chars && !is_code_point(symbols[k])))
      fail(name, where + (kind == VocabularyKind::chars ? " is not a character"
                                                        : " is not a byte value"));
    if (k > 0 && symbols[k] <= symbols[k - 1])
      fail(name, where + " is not above the one before (symbols must be sorted and distinct)");
  }
  Vocabulary vocabulary;
  vocabulary.kind_ = kind;
  vocabulary.symbols_ = std::move(symbols);
  vocabulary.small_ids_.assign(256, -1);
  for (size_t k = 0; k < vocabulary.symbols_.size() && vocabulary.symbols_[k] < 256; ++k)
    vocabulary.small_ids_[vocabulary.symbols_[k]] = static_cast<int32_t>(k);
  return vocabulary;
}

Vocabulary Vocabulary::from_text(std::string_view name, std::string_view text,
                                 VocabularyKind kind) {
  std::vector<char32_t> symbols;
  if (kind == VocabularyKind::bytes) {
    bool seen[256] = {};
    for (char c : text) seen[static_cast<unsigned char>(c)] = true;
    for (char32_t b = 0; b < 256; ++b)
      if (seen[b]) symbols.push_back(b);
  } else {
    symbols = decode_utf8(name, text);
    std::sort(symbols.begin(), symbols.end());
    symbols.erase(std::unique(symbols.begin(), symbols.end()), symbols.end());
  }
  if (symbols.empty()) fail(name, "no text to build a vocabulary from");
  return from_symbols(name, kind, std::move(symbols));
}

Vocabulary Vocabulary::all_bytes() {
  std::vector<char32_t> symbols(256);
  for (char32_t b = 0; b < 256; ++b) symbols[b] = b;
  return from_symbols("all_bytes", VocabularyKind::bytes, std::move(symbols));
}

std::optional<int32_t> Vocabulary::id_of(char32_t symbol) const {
  if (symbol < 256) {
    if (small_ids_.empty() || small_ids_[symbol] < 0) return std::nullopt;
    return small_ids_[symbol];
  }
  const auto found = std::lower_bound(symbols_.begin(), symbols_.end(), symbol);
  if (found == symbols_.end() || *found != symbol) return std::nullopt;
  return static_cast<int32_t>(found - symbols_.begin());
}

std::string Vocabulary::describe(char32_t symbol) const {
  const bool byte = kind_ == VocabularyKind::bytes;
  if (symbol == '\n') return "'\\n'";
  if (symbol == '\t') return "'\\t'";
  if (symbol == '\r') return "'\\r'";
  if (symbol >= 0x20 && symbol < 0x7F) return std::string("'") + static_cast<char>(symbol) + "'";
  if (byte || symbol < 0x20 || symbol == 0x7F || !is_code_point(symbol))
    return byte ? "byte " + hex_byte(static_cast<unsigned char>(symbol)) : code_point_name(symbol);
  std::string text = code_point_name(symbol) + " '";
  append_utf8(text, symbol);
  return text + "'";
}

std::vector<int32_t> Vocabulary::encode(std::string_view name, std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  std::vector<char32_t> unknown;
  size_t first_unknown = 0;
  const auto add = [&](char32_t symbol, size_t offset) {
    if (const auto id = id_of(symbol)) {
      ids.push_back(*id);
    } else {
      if (unknown.empty()) first_unknown = offset;
      if (std::find(unknown.begin(), unknown.end(), symbol) == unknown.end())
        unknown.push_back(symbol);
    }
  };
  if (kind_ == VocabularyKind::bytes) {
    for (size_t k = 0; k < text.size(); ++k) add(static_cast<unsigned char>(text[k]), k);
  } else {
    walk_utf8(name, text, "", add);
  }
  if (!unknown.empty()) {
    std::string what =
        std::to_string(unknown.size()) + (unknown.size() == 1 ? " character" : " characters");
    what += " not in the vocabulary of " + std::to_string(symbols_.size()) + " (first at byte ";
    what += std::to_string(first_unknown) + "):";
    for (size_t k = 0; k < unknown.size() && k < 20; ++k)
      what.append(" ").append(describe(unknown[k]));
    if (unknown.size() > 20) what += " ...";
    fail(name, what);
  }
  return ids;
}

std::string Vocabulary::decode(std::span<const int32_t> ids) const {
  std::string text;
  text.reserve(ids.size());
  for (size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] < 0 || ids[k] >= size())
      throw Error("decode: id " + std::to_string(ids[k]) + " at position " + std::to_string(k) +
                  " is outside the vocabulary (0.." + std::to_string(size() - 1) + ")");
    const char32_t symbol = symbols_[static_cast<size_t>(ids[k])];
    if (kind_ == VocabularyKind::bytes) {
      text += static_cast<char>(symbol);
    } else {
      append_utf8(text, symbol);
    }
  }
  return text;
}

std::string Vocabulary::to_json() const {
  json value = json::object();
  value["kind"] = kind_name(kind_);
  json symbols = json::array();
  for (char32_t symbol : symbols_) symbols.push_back(static_cast<uint32_t>(symbol));
  value["symbols"] = std::move(symbols);
  return json_text::dump(value);
}

Vocabulary Vocabulary::from_json(std::string_view name, std::string_view text) {
  const json value = detail::parse_metadata_object(name, text, "vocabulary", {"kind", "symbols"});
  if (!value.contains("kind") || !value["kind"].is_string())
    fail(name, "vocabulary: 'kind' is missing or not a string");
  const std::string kind = value["kind"].get<std::string>();
  if (kind != "char" && kind != "byte")
    fail(name, "vocabulary: 'kind' is " + detail::quote_name(kind) + ", expected 'char' or 'byte'");
  if (!value.contains("symbols") || !value["symbols"].is_array())
    fail(name, "vocabulary: 'symbols' is missing or not a list");
  std::vector<char32_t> symbols;
  for (const json& symbol : value["symbols"]) {
    if (!symbol.is_number_integer() || symbol.get<int64_t>() < 0 ||
        symbol.get<int64_t>() > 0x10FFFF)
      fail(name, "vocabulary: 'symbols'[" + std::to_string(symbols.size()) +
                     "] is not a code point: " + json_text::dump(symbol));
    symbols.push_back(static_cast<char32_t>(symbol.get<int64_t>()));
  }
  return from_symbols(name, kind == "char" ? VocabularyKind::chars : VocabularyKind::bytes,
                      std::move(symbols));
}

}  // namespace lstm
