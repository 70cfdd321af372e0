#include "snapbus/emulate_config.h"

#include <gtest/gtest.h>

namespace snapbus::emulator {
namespace {

TEST(EmulateConfig, EnvFileParsing) {
  auto vars = parse_env_file("# comment\n\nexport A=1\nB = \"two words\"\nC='x=y'\n", "test");
  EXPECT_EQ(vars.at("A"), "1");
  EXPECT_EQ(vars.at("B"), "two words");
  EXPECT_EQ(vars.at("C"), "x=y");
  EXPECT_THROW(parse_env_file("no equals\n", "test"), ConfigError);
}

TEST(EmulateConfig, EnvFileQuotesMustClose) {
  auto vars = parse_env_file("A=\"quoted # not a comment\"  # a comment\nB=plain # kept, as docker keeps it\n", "f");
  EXPECT_EQ(vars.at("A"), "quoted # not a comment");
  EXPECT_EQ(vars.at("B"), "plain # kept, as docker keeps it");
  try {
    parse_env_file("\nX=\"unterminated\n", "f");
    FAIL();
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(), "f:2: the value of X opens a quote it never closes");
  }
  try {
    parse_env_file("Y='a' b\n", "f");
    FAIL();
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(), "f:1: 'b' follows the quoted value of Y (quote the whole value)");
  }
}

}  // namespace
}  // namespace snapbus::emulator
