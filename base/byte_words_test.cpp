#include "snapbus/byte_words.h"

#include <cstdint>

#include <gtest/gtest.h>

namespace snapbus {
namespace {

// A word of `filler` bytes with `byte` at `position`.
std::uint64_t word_with(std::uint8_t filler, std::uint8_t byte, unsigned position) {
  std::uint64_t word = kEachByte * filler;
  word &= ~(std::uint64_t{0xff} << (8 * position));
  return word | (std::uint64_t{byte} << (8 * position));
}

// Every byte value at every position, among fillers on both sides of the limits: the answers are
// exact, never a false alarm from a neighbour's borrow.
TEST(ByteWords, EveryByteAtEveryPositionIsFoundExactly) {
  for (const std::uint8_t filler : {std::uint8_t{'a'}, std::uint8_t{0x20}, std::uint8_t{0x7e}}) {
    for (unsigned position = 0; position < 8; ++position) {
      for (int value = 0; value < 256; ++value) {
        const auto byte = static_cast<std::uint8_t>(value);
        const std::uint64_t word = word_with(filler, byte, position);
        ASSERT_EQ(has_byte_below(word, 0x20), byte < 0x20) << value << " at " << position;
        ASSERT_EQ(has_byte(word, '"'), byte == '"' || filler == '"') << value << " at " << position;
        ASSERT_EQ(has_byte(word, 0x7f), byte == 0x7f) << value << " at " << position;
        ASSERT_EQ(has_high_byte(word), byte >= 0x80) << value << " at " << position;
      }
    }
  }
}

}  // namespace
}  // namespace snapbus
