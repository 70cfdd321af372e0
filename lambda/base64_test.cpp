#include "snapbus/base64.h"

#include <gtest/gtest.h>

namespace snapbus::lambda {
namespace {

TEST(Base64, RoundTripsAllLengths) {
  EXPECT_EQ(encode_base64(""), "");
  EXPECT_EQ(encode_base64("f"), "Zg==");
  EXPECT_EQ(encode_base64("fo"), "Zm8=");
  EXPECT_EQ(encode_base64("foo"), "Zm9v");
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  for (std::size_t n = 0; n < binary.size(); ++n) {
    EXPECT_EQ(decode_base64(encode_base64(binary.substr(0, n))), binary.substr(0, n));
  }
  // No line breaks, however long.
  EXPECT_EQ(encode_base64(std::string(300, 'x')).find('\n'), std::string::npos);
}

TEST(Base64, RejectsGarbage) {
  EXPECT_FALSE(decode_base64("abc"));
  EXPECT_FALSE(decode_base64("ab!="));
  EXPECT_FALSE(decode_base64("a=bc"));
}

// kj alone would accept all of these (it decodes like atob): the strictness is ours.
TEST(Base64, RejectsWhatLenientDecodersAccept) {
  EXPECT_FALSE(decode_base64("aGk"));       // missing padding
  EXPECT_FALSE(decode_base64("aG k="));     // whitespace inside
  EXPECT_FALSE(decode_base64("aGk=\n"));    // trailing newline
  EXPECT_FALSE(decode_base64("a==="));      // three padding characters
  EXPECT_FALSE(decode_base64("aGk=aGk="));  // padding in the middle
  EXPECT_FALSE(decode_base64("aGk-"));      // URL-safe alphabet
  EXPECT_EQ(decode_base64("aGk="), "hi");
}

// Found by base64_fuzz ("AAECACAwakG="): leftover bits set in the last group decoded to the same
// bytes as the canonical text, so encoding what was accepted did not give it back.
TEST(Base64, RejectsLeftoverBitsInTheLastGroup) {
  EXPECT_FALSE(decode_base64("aGl="));  // "hi" is "aGk="
  EXPECT_FALSE(decode_base64("aB=="));  // "h" is "aA=="
  EXPECT_FALSE(decode_base64("AAECACAwakG="));
  EXPECT_EQ(decode_base64("aA=="), "h");
  EXPECT_EQ(decode_base64("AAECACAwakE="), std::string("\0\1\2\0\x20\x30\x6a\x41", 8));
}

}  // namespace
}  // namespace snapbus::lambda
