// libFuzzer target: any byte string, as the text of a character (UTF-8) or byte vocabulary, must
// build a vocabulary and round-trip through its ids, or throw lstm::Error; never crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lstm/data.hpp"
#include "lstm/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (lstm::VocabularyKind kind : {lstm::VocabularyKind::chars, lstm::VocabularyKind::bytes}) {
    try {
      const lstm::Vocabulary vocabulary = lstm::Vocabulary::from_text("fuzz.txt", text, kind);
      const std::vector<int32_t> ids = vocabulary.encode("fuzz.txt", text);
      if (vocabulary.decode(ids) != text) __builtin_trap();  // the round trip must be exact
      const lstm::Vocabulary again = lstm::Vocabulary::from_json("fuzz", vocabulary.to_json());
      if (again.size() != vocabulary.size()) __builtin_trap();
    } catch (const lstm::Error&) {
    }
  }
  try {
    (void)lstm::decode_utf8("fuzz.txt", text);
  } catch (const lstm::Error&) {
  }
  return 0;
}
