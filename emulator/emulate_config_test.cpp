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

}  // namespace
}  // namespace snapbus::emulator
