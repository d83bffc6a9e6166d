// Texts: UTF-8 validation (every kind of invalid sequence, with its byte and line), character and
// byte vocabularies, encoding and decoding, metadata round trips, and the KJV sample.
#include <gtest/gtest.h>

#include "io_test_util.hpp"
#include "lstm/data.hpp"

namespace {

using lstm::Vocabulary;
using lstm::VocabularyKind;
using lstm_test::read_bytes;
using lstm_test::TempDir;
using lstm_test::throws_error;
using lstm_test::write_bytes;

std::string kjv_path() {
  return std::string(LSTM_TEST_DATA_DIR) + "/../../data/kjv_genesis.txt";
}

::testing::AssertionResult invalid(const std::string& bytes,
                                   const std::vector<std::string>& fragments) {
  return throws_error([&] { lstm::validate_utf8("t.txt", bytes); }, fragments);
}

TEST(Text, AcceptsValidUtf8) {
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\n";  // a é € 😀
  EXPECT_NO_THROW(lstm::validate_utf8("t.txt", text));
  EXPECT_EQ(lstm::decode_utf8("t.txt", text),
            (std::vector<char32_t>{'a', 0xE9, 0x20AC, 0x1F600, '\n'}));
  std::string round_trip;
  for (char32_t c :
       {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFFu, 0x10000u, 0x10FFFFu})
    lstm::append_utf8(round_trip, c);
  EXPECT_EQ(lstm::decode_utf8("t", round_trip),
            (std::vector<char32_t>{0x0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000,
                                   0x10FFFF}));
  std::string out;
  EXPECT_TRUE(throws_error([&] { lstm::append_utf8(out, 0xD800); }, {"U+D800 is not a character"}));
}

TEST(Text, RejectsEveryKindOfInvalidUtf8WithItsByteAndLine) {
  EXPECT_TRUE(invalid(
      "ab\n\x80",
      {"t.txt: invalid UTF-8 at byte 3 (line 2): continuation byte 0x80 without a lead byte; "
       "not a UTF-8 text"}));
  EXPECT_TRUE(
      invalid("\xC3(", {"at byte 0 (line 1): a 2-byte sequence is cut short by byte 0x28"}));
  EXPECT_TRUE(
      invalid("x\xE2\x82(", {"at byte 1 (line 1): a 3-byte sequence is cut short by byte 0x28"}));
  EXPECT_TRUE(invalid("\xC0\xAF", {"at byte 0 (line 1): overlong encoding (lead byte 0xc0)"}));
  EXPECT_TRUE(invalid("\xE0\x80\xAF", {"overlong encoding of U+002F"}));
  EXPECT_TRUE(invalid("\xF0\x80\x80\xAF", {"overlong encoding of U+002F"}));
  EXPECT_TRUE(invalid("\xED\xA0\x80", {"encoded surrogate U+D800"}));
  EXPECT_TRUE(invalid("\xF4\x90\x80\x80", {"value above U+10FFFF"}));
  EXPECT_TRUE(invalid("ok\xFF", {"at byte 2 (line 1): byte 0xff never occurs in UTF-8"}));
  EXPECT_TRUE(
      invalid("\n\nab\xE2\x82", {"at byte 4 (line 3): a 3-byte sequence is truncated at the end"}));
  EXPECT_TRUE(invalid("\xF0\x9F\x98", {"a 4-byte sequence is truncated at the end"}));
}

TEST(Text, ReadsTextFiles) {
  TempDir dir;
  write_bytes(dir.file("bom.txt"), "\xEF\xBB\xBFhi\n");
  EXPECT_EQ(lstm::read_text(dir.file("bom.txt")), "hi\n");  // the byte-order mark is dropped
  EXPECT_EQ(lstm::read_text(dir.file("bom.txt"), VocabularyKind::bytes), "\xEF\xBB\xBFhi\n");
  write_bytes(dir.file("latin1.txt"), "caf\xE9\n");
  EXPECT_TRUE(throws_error([&] { lstm::read_text(dir.file("latin1.txt")); },
                           {dir.file("latin1.txt") + ": invalid UTF-8 at byte 3 (line 1): ",
                            "not a UTF-8 text (a byte-level vocabulary accepts any bytes)"}));
  EXPECT_EQ(lstm::read_text(dir.file("latin1.txt"), VocabularyKind::bytes), "caf\xE9\n");
  write_bytes(dir.file("empty.txt"), "");
  EXPECT_TRUE(throws_error([&] { lstm::read_text(dir.file("empty.txt")); },
                           {dir.file("empty.txt") + ": empty file"}));
  EXPECT_TRUE(throws_error([&] { lstm::read_text(dir.file("absent.txt")); },
                           {dir.file("absent.txt") + ": cannot open for reading"}));
}

TEST(Text, BuildsACharacterVocabularyAndRoundTrips) {
  const std::string text = "h\xC3\xA9llo w\xC3\xB6rld\n";  // héllo wörld
  const Vocabulary vocabulary = Vocabulary::from_text("t.txt", text, VocabularyKind::chars);
  EXPECT_EQ(vocabulary.kind(), VocabularyKind::chars);
  EXPECT_EQ(vocabulary.symbols(),
            (std::vector<char32_t>{'\n', ' ', 'd', 'h', 'l', 'o', 'r', 'w', 0xE9, 0xF6}));
  EXPECT_EQ(vocabulary.size(), 10);
  EXPECT_EQ(vocabulary.id_of('h'), 3);
  EXPECT_EQ(vocabulary.id_of(0xF6), 9);
  EXPECT_EQ(vocabulary.id_of('x'), std::nullopt);
  EXPECT_EQ(vocabulary.id_of(0x20AC), std::nullopt);
  const std::vector<int32_t> ids = vocabulary.encode("t.txt", text);
  EXPECT_EQ(ids, (std::vector<int32_t>{3, 8, 4, 4, 5, 1, 7, 9, 6, 4, 2, 0}));
  EXPECT_EQ(vocabulary.decode(ids), text);
}

TEST(Text, BuildsByteVocabulariesForAnyBytes) {
  const std::string bytes("\x00\xFF\xC3(\x00z", 6);  // not UTF-8
  const Vocabulary seen = Vocabulary::from_text("b.bin", bytes, VocabularyKind::bytes);
  EXPECT_EQ(seen.symbols(), (std::vector<char32_t>{0x00, 0x28, 0x7A, 0xC3, 0xFF}));
  EXPECT_EQ(seen.encode("b.bin", bytes), (std::vector<int32_t>{0, 4, 3, 1, 0, 2}));
  EXPECT_EQ(seen.decode(seen.encode("b.bin", bytes)), bytes);
  const Vocabulary all = Vocabulary::all_bytes();
  EXPECT_EQ(all.size(), 256);
  EXPECT_EQ(all.encode("b", bytes), (std::vector<int32_t>{0, 255, 0xC3, 0x28, 0, 'z'}));
  EXPECT_EQ(all.decode(all.encode("b", bytes)), bytes);
  EXPECT_TRUE(throws_error([] { Vocabulary::from_text("t", "a\x80", VocabularyKind::chars); },
                           {"t: invalid UTF-8 at byte 1 (line 1)"}));
}

TEST(Text, NamesUnknownCharactersAndBadIds) {
  const Vocabulary vocabulary = Vocabulary::from_text("t", "abc\n", VocabularyKind::chars);
  EXPECT_TRUE(throws_error(
      [&] { vocabulary.encode("prompt", "ab\xC3\xA9z\tz"); },
      {"prompt: 3 characters not in the vocabulary of 4 (first at byte 2): U+00E9 'é' 'z' '\\t'"}));
  const Vocabulary bytes = Vocabulary::from_text("t", "ab", VocabularyKind::bytes);
  EXPECT_TRUE(throws_error(
      [&] { bytes.encode("prompt", "a\x01"); },
      {"prompt: 1 character not in the vocabulary of 2 (first at byte 1): byte 0x01"}));
  EXPECT_TRUE(throws_error(
      [&] {
        vocabulary.decode(std::vector<int32_t>{0, 4});
      },
      {"decode: id 4 at position 1 is outside the vocabulary (0..3)"}));
  EXPECT_TRUE(throws_error([&] { vocabulary.decode(std::vector<int32_t>{-1}); },
                           {"decode: id -1 at position 0"}));
  EXPECT_TRUE(throws_error([] { Vocabulary::from_text("t", "", VocabularyKind::chars); },
                           {"t: no text to build a vocabulary from"}));
}

TEST(Text, SerialisesVocabulariesForMetadata) {
  const Vocabulary chars = Vocabulary::from_text("t", "ba\n", VocabularyKind::chars);
  EXPECT_EQ(chars.to_json(), R"({"kind":"char","symbols":[10,97,98]})");
  const Vocabulary loaded = Vocabulary::from_json("m.safetensors", chars.to_json());
  EXPECT_EQ(loaded.kind(), VocabularyKind::chars);
  EXPECT_EQ(loaded.symbols(), chars.symbols());
  EXPECT_EQ(loaded.encode("t", "ab"), (std::vector<int32_t>{1, 2}));
  const Vocabulary bytes = Vocabulary::from_json("m", Vocabulary::all_bytes().to_json());
  EXPECT_EQ(bytes.kind(), VocabularyKind::bytes);
  EXPECT_EQ(bytes.size(), 256);
  const Vocabulary wide = Vocabulary::from_json("m", R"({"kind":"char","symbols":[65,1114111]})");
  EXPECT_EQ(wide.decode(std::vector<int32_t>{1, 0}),
            "\xF4\x8F\xBF\xBF"
            "A");
}

TEST(Text, RejectsBadVocabularyMetadataNamingTheField) {
  const auto rejects = [](const std::string& json, const std::string& message) {
    return throws_error([&] { Vocabulary::from_json("m.safetensors", json); },
                        {"m.safetensors: vocabulary: " + message});
  };
  EXPECT_TRUE(rejects("{\"kind\":", "not valid JSON"));
  EXPECT_TRUE(rejects("[]", "not a JSON object"));
  EXPECT_TRUE(rejects(R"({"symbols":[1]})", "'kind' is missing or not a string"));
  EXPECT_TRUE(
      rejects(R"({"kind":"word","symbols":[1]})", "'kind' is 'word', expected 'char' or 'byte'"));
  EXPECT_TRUE(rejects(R"({"kind":"char","symbols":"abc"})", "'symbols' is missing or not a list"));
  EXPECT_TRUE(rejects(R"({"kind":"char","symbols":[]})", "'symbols' is empty"));
  EXPECT_TRUE(
      rejects(R"({"kind":"char","symbols":[97,"b"]})", "'symbols'[1] is not a code point: \"b\""));
  EXPECT_TRUE(
      rejects(R"({"kind":"char","symbols":[97,1.5]})", "'symbols'[1] is not a code point: 1.5"));
  EXPECT_TRUE(rejects(R"({"kind":"char","symbols":[-1]})", "'symbols'[0] is not a code point: -1"));
  EXPECT_TRUE(rejects(R"({"kind":"char","symbols":[1114112]})",
                      "'symbols'[0] is not a code point: 1114112"));
  EXPECT_TRUE(
      rejects(R"({"kind":"char","symbols":[55296]})", "'symbols'[0] = 55296 is not a character"));
  EXPECT_TRUE(
      rejects(R"({"kind":"byte","symbols":[0,256]})", "'symbols'[1] = 256 is not a byte value"));
  EXPECT_TRUE(rejects(R"({"kind":"char","symbols":[98,97]})",
                      "'symbols'[1] = 97 is not above the one before"));
  EXPECT_TRUE(rejects(R"({"kind":"char","symbols":[97,97]})",
                      "'symbols'[1] = 97 is not above the one before"));
  EXPECT_TRUE(rejects(R"({"kind":"char","symbols":[97],"extra":1})", "unexpected key 'extra'"));
}

TEST(Text, EncodesAndDecodesTheKjvSampleExactly) {
  const std::string text = lstm::read_text(kjv_path());
  EXPECT_EQ(text, read_bytes(kjv_path()));
  EXPECT_EQ(text.size(), 200000u);
  const Vocabulary vocabulary = Vocabulary::from_text(kjv_path(), text, VocabularyKind::chars);
  EXPECT_EQ(vocabulary.size(), 70);
  const std::vector<int32_t> ids = vocabulary.encode(kjv_path(), text);
  EXPECT_EQ(ids.size(), text.size());  // ASCII: one id per byte
  EXPECT_EQ(vocabulary.decode(ids), text);
  const Vocabulary reloaded = Vocabulary::from_json("m", vocabulary.to_json());
  EXPECT_EQ(reloaded.decode(ids), text);
  const int64_t split = lstm::split_point(static_cast<int64_t>(ids.size()), 0.1);
  EXPECT_EQ(split, 180000);
}

}  // namespace
