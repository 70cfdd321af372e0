#include "snapbus/json_string.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <boost/json/serializer.hpp>

#include "snapbus/byte_words.h"

namespace snapbus::lambda {

namespace {

// Whether no byte of `word` needs an escape: a control byte, a quote or a backslash in any of the
// eight is found by the same arithmetic.
constexpr bool is_plain_word(std::uint64_t word) {
  return !has_byte_below(word, 0x20) && !has_byte(word, '"') && !has_byte(word, '\\');
}

// Whether no byte of `text` needs an escape, eight bytes at a time. The last few are looked at in
// one more word rather than one by one: the text's last eight bytes (some checked twice), or, in text
// shorter than eight, its bytes padded with spaces, which need no escape.
bool is_plain(std::string_view text) {
  std::size_t at = 0;
  std::uint64_t word = 0;
  for (; at + sizeof word <= text.size(); at += sizeof word) {
    std::memcpy(&word, text.data() + at, sizeof word);
    if (!is_plain_word(word)) return false;
  }
  if (at == text.size()) return true;
  if (text.size() >= sizeof word) {
    std::memcpy(&word, text.data() + text.size() - sizeof word, sizeof word);
  } else {
    word = kEachByte * ' ';
    std::memcpy(&word, text.data(), text.size());
  }
  return is_plain_word(word);
}

// Text up to this size is looked at first: most short strings (a key, an id, a header
// value) need no escape and are copied as they are, where setting up the serializer costs a few
// hundred instructions each time. Longer text goes to the serializer at once, whose scan is faster.
constexpr std::size_t kShortText = 128;

// `before`, then `text` in quotes, then `after` (each char left out when '\0'), with one resize and
// direct writes rather than appends that each check the room left out of line. `text` needs no
// escape (is_plain).
void append_plain_literal(std::string& out, char before, std::string_view text, char after) {
  const std::size_t at = out.size();
  out.resize(at + (before != '\0' ? 1 : 0) + text.size() + 2 + (after != '\0' ? 1 : 0));
  char* literal = out.data() + at;
  if (before != '\0') *literal++ = before;
  *literal++ = '"';
  if (!text.empty()) std::memcpy(literal, text.data(), text.size());
  literal += text.size();
  *literal++ = '"';
  if (after != '\0') *literal = after;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  if (text.size() <= kShortText && is_plain(text)) {
    append_plain_literal(out, '\0', text, '\0');
    return;
  }
  // Boost.JSON's own serializer, reset to a string and read straight into `out`: its escapes and its
  // pace (a fast scan over plain runs), without a json::value built first or a string returned and
  // copied. The literal's size is known only after the escapes, so the room left grows until done.
  boost::json::serializer serializer;
  serializer.reset(boost::json::string_view(text.data(), text.size()));
  std::size_t room = text.size() + 2;
  while (!serializer.done()) {
    const std::size_t start = out.size();
    out.resize(start + room);
    const std::size_t written = serializer.read(out.data() + start, room).size();
    out.resize(start + written);
    room = std::max<std::size_t>(room / 2, 64);
  }
}

void escape_deletes(std::string& json) {
  constexpr std::string_view kEscapedDelete = "\\u007f";
  std::size_t at = json.find('\x7f');
  while (at != std::string::npos) {
    json.replace(at, 1, kEscapedDelete);
    at = json.find('\x7f', at + kEscapedDelete.size());
  }
}

void JsonWriter::key(std::string_view name) {
  if (name.size() <= kShortText && is_plain(name)) {
    // The comma, the literal and the colon in one resize: a result or a context header writes a key
    // for each of its members, most of them short names that need no escape.
    append_plain_literal(out_, first_ ? '\0' : ',', name, ':');
  } else {
    item();
    append_json_string(out_, name);
    out_.push_back(':');
  }
  first_ = true;  // the value that follows takes no comma
}

void JsonWriter::string(std::string_view text) {
  item();
  append_json_string(out_, text);
}

void JsonWriter::member(std::string_view name, std::string_view text) {
  key(name);
  string(text);
}

}  // namespace snapbus::lambda
