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

bool all_field_value_chars(const char* begin, const char* end) { return std::all_of(begin, end, is_field_value_char); }

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
    if ((has_byte_below(word, 0x20) || has_byte(word, 0x7f)) && !all_field_value_chars(at, at + sizeof word)) {
      return false;
    }
  }
  return all_field_value_chars(at, end);
}

}  // namespace snapbus::net
