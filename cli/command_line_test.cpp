#include "command_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_status.h"
#include "cli_watch.h"

namespace snapbus::cli {
namespace {

struct Parsed {
  OutputFormat format = OutputFormat::text;
  std::optional<std::filesystem::path> segment;
  std::optional<std::int64_t> count;
};

// A command with one option of each kind the CLI uses.
Parsed parse_test_command(std::vector<std::string> words) {
  const auto app = command_app("snapbus test", "A command for tests.", "exit codes: 0 ok, 2 bad usage", 18);
  Parsed parsed;
  add_json_flag(*app, parsed.format, "one JSON object");
  add_segment_option(*app, parsed.segment);
  add_number_option(*app, "--count", parsed.count, "stop after N");
  parse_command_line(*app, words);
  return parsed;
}

TEST(CommandLineTest, FlagsAndValuesBothWays) {
  const Parsed spaced = parse_test_command({"--json", "--segment", "/tmp/a", "--count", "3"});
  EXPECT_EQ(spaced.format, OutputFormat::json);
  EXPECT_EQ(spaced.segment, std::filesystem::path("/tmp/a"));
  EXPECT_EQ(spaced.count, 3);
  const Parsed joined = parse_test_command({"--segment=/tmp/b", "--count=4"});
  EXPECT_EQ(joined.format, OutputFormat::text);
  EXPECT_EQ(joined.segment, std::filesystem::path("/tmp/b"));
  EXPECT_EQ(joined.count, 4);
  EXPECT_EQ(parse_test_command({}).count, std::nullopt);
  // Every process must be given the same absolute path: a relative one is made so, and shown so.
  EXPECT_EQ(parse_test_command({"--segment", "run/../bus.seg"}).segment, std::filesystem::current_path() / "bus.seg");
  EXPECT_EQ(parse_test_command({"--count", "1", "--count", "2"}).count, 2) << "the last value wins";
}

TEST(CommandLineTest, MistakesAreUsageErrorsWithASentence) {
  EXPECT_THROW(parse_test_command({"--bogus"}), UsageError);
  EXPECT_THROW(parse_test_command({"--segment"}), UsageError);
  EXPECT_THROW(parse_test_command({"operand"}), UsageError);
  for (const char* bad : {"ten", "-1", "5x", "", "99999999999999999999"}) {
    try {
      parse_test_command({"--count", bad});
      FAIL() << bad;
    } catch (const UsageError& error) {
      EXPECT_EQ(std::string(error.what()),
                "--count needs a whole number of at least 0 that fits in 64 bits, not '" + std::string(bad) + "'");
    }
  }
  EXPECT_THROW(parse_test_command({"--segment", ""}), UsageError);
}

TEST(CommandLineTest, HelpListsUsageOptionsAndExitCodes) {
  try {
    parse_test_command({"--help"});
    FAIL() << "no help";
  } catch (const HelpRequested& help) {
    EXPECT_EQ(help.text(),
              "usage: snapbus test [--json] [--segment PATH] [--count N]\n"
              "\n"
              "A command for tests.\n"
              "\n"
              "  --json          one JSON object\n"
              "  --segment PATH  the segment file (default: $SNAPBUS_SEGMENT, else /tmp/snapbus.seg; a relative\n"
              "                  PATH is taken from the working directory)\n"
              "  --count N       stop after N\n"
              "  -h,--help       this help\n"
              "\n"
              "exit codes: 0 ok, 2 bad usage\n");
  }
  EXPECT_THROW(parse_test_command({"-h"}), HelpRequested);
}

TEST(CommandLineTest, StatusAndWatchDefaultToTheConfiguredSegment) {
  Config config;
  config.segment_path = "/tmp/configured.seg";
  const std::vector<std::string> none;
  EXPECT_EQ(parse_status_command(none, config).segment_path, config.segment_path);
  const std::vector<std::string> json{"--json", "--segment=/tmp/x"};
  const StatusRequest status = parse_status_command(json, config);
  EXPECT_EQ(status.format, OutputFormat::json);
  EXPECT_EQ(status.segment_path, std::filesystem::path("/tmp/x"));

  const std::vector<std::string> watch_words{"--count", "2", "--timeout-ms=150"};
  const WatchRequest watch = parse_watch_command(watch_words, config);
  EXPECT_EQ(watch.segment_path, config.segment_path);
  EXPECT_EQ(watch.count, 2);
  EXPECT_EQ(watch.timeout, std::chrono::milliseconds(150));
  const std::vector<std::string> many{"--count", "many"};
  EXPECT_THROW(parse_watch_command(many, config), UsageError);
}

}  // namespace
}  // namespace snapbus::cli
