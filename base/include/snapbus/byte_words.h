// Eight bytes of text looked at as one 64-bit word, for the scans on a hot path that look for a few
// byte values (a JSON string's escapes, a header value's control bytes, bytes beyond ASCII): a word
// with none of them is passed over at once, and only a word that may hold one is looked at closer.
//
//   std::uint64_t word = 0;
//   std::memcpy(&word, text.data() + at, sizeof word);
//   if (snapbus::has_byte_below(word, 0x20) || snapbus::has_byte(word, '"')) look_closer(at);
#pragma once

#include <cstdint>

namespace snapbus {

inline constexpr std::uint64_t kEachByte = 0x0101010101010101U;
inline constexpr std::uint64_t kHighBits = 0x8080808080808080U;

// Whether a byte of `word` is below `limit` (at most 0x80): Bit Twiddling Hacks' "hasless", exact.
constexpr bool has_byte_below(std::uint64_t word, std::uint8_t limit) {
  return ((word - kEachByte * limit) & ~word & kHighBits) != 0;
}

// Whether a byte of `word` is `value`.
constexpr bool has_byte(std::uint64_t word, std::uint8_t value) {
  return has_byte_below(word ^ (kEachByte * value), 1);
}

// Whether a byte of `word` is 0x80 or above: not ASCII.
constexpr bool has_high_byte(std::uint64_t word) { return (word & kHighBits) != 0; }

}  // namespace snapbus
