#include "base64.h"

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

TEST(Base64, RoundTripsAllLengths) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  for (std::size_t n = 0; n < binary.size(); ++n) {
    EXPECT_EQ(base64_decode(base64_encode(binary.substr(0, n))), binary.substr(0, n));
  }
}

TEST(Base64, RejectsGarbage) {
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_FALSE(base64_decode("ab!="));
  EXPECT_FALSE(base64_decode("a=bc"));
}

}  // namespace
}  // namespace snapbus::emulator
