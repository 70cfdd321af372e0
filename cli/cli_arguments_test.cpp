#include "cli_arguments.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace snapbus::cli {
namespace {

constexpr FlagSpec kFlags[] = {{"--json", false}, {"--segment", true}, {"--count", true}};

Arguments parse(std::vector<std::string> words) { return parse_arguments(words, kFlags); }

TEST(CliArgumentsTest, FlagsValuesAndOperands) {
  const Arguments args = parse({"restore", "--json", "--segment", "/tmp/a", "--count=3"});
  EXPECT_TRUE(args.has("--json"));
  EXPECT_EQ(args.value("--segment"), "/tmp/a");
  EXPECT_EQ(args.integer("--count"), 3);
  EXPECT_EQ(args.operands(), std::vector<std::string>{"restore"});
  EXPECT_FALSE(args.has("--help"));
  EXPECT_EQ(args.integer("--missing"), std::nullopt);
}

TEST(CliArgumentsTest, DoubleDashEndsOptions) {
  const Arguments args = parse({"--", "--json"});
  EXPECT_FALSE(args.has("--json"));
  EXPECT_EQ(args.operands(), std::vector<std::string>{"--json"});
}

TEST(CliArgumentsTest, MistakesAreUsageErrors) {
  EXPECT_THROW(parse({"--bogus"}), UsageError);
  EXPECT_THROW(parse({"--segment"}), UsageError);
  EXPECT_THROW(parse({"--json=yes"}), UsageError);
  EXPECT_THROW(parse({"--count", "ten"}).integer("--count"), UsageError);
  EXPECT_THROW(parse({"--count", "-1"}).integer("--count"), UsageError);
  EXPECT_THROW(parse({"--count", "5x"}).integer("--count"), UsageError);
}

}  // namespace
}  // namespace snapbus::cli
