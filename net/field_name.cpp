#include "snapbus/field_name.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "snapbus/byte_words.h"

namespace snapbus::net {
namespace {

// RFC 9110's token bytes as a table made when compiled, one load per byte: spelled out rather than
// std::isalnum, which follows the C locale's idea of a letter.
constexpr std::array<bool, 256> kTokenBytes = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (const char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

// Through a lambda, which inlines, where the function's address went through a call per byte.
bool all_field_value_chars(const char* begin, const char* end) {
  return std::all_of(begin, end, [](char c) { return is_field_value_char(c); });
}

// Whether no byte of `word` may need a look of its own: a control byte (a tab is allowed) or DEL.
constexpr bool plain_value_word(std::uint64_t word) { return !has_byte_below(word, 0x20) && !has_byte(word, 0x7f); }

}  // namespace

bool is_field_name(std::string_view name) {
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](char c) { return kTokenBytes[static_cast<unsigned char>(c)]; });
}

bool is_field_value(std::string_view value) {
  const char* at = value.data();
  const char* const end = at + value.size();
  for (std::uint64_t word = 0; end - at >= static_cast<std::ptrdiff_t>(sizeof word); at += sizeof word) {
    std::memcpy(&word, at, sizeof word);
    // A control byte or DEL among the eight: they are looked at one by one, since a tab is allowed.
    if (!plain_value_word(word) && !all_field_value_chars(at, at + sizeof word)) return false;
  }
  if (at == end) return true;
  // The last few bytes in one more word, padded with spaces (which a value may hold).
  std::uint64_t word = kEachByte * ' ';
  std::memcpy(&word, at, static_cast<std::size_t>(end - at));
  return plain_value_word(word) || all_field_value_chars(at, end);
}

}  // namespace snapbus::net
