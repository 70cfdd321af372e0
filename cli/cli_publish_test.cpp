#include "cli_publish.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace snapbus::cli {
namespace {

PublishRequest parse_publish(std::vector<std::string> words) {
  Config config;
  config.segment_path = "/tmp/configured.seg";
  config.ack_timeout = std::chrono::milliseconds(1234);
  return parse_publish_command(words, config);
}

TEST(CliPublishTest, EachStepByItsName) {
  EXPECT_EQ(parse_publish({"starting"}).step, lifecycle::Step::starting);
  EXPECT_EQ(parse_publish({"before-snapshot"}).step, lifecycle::Step::before_snapshot);
  EXPECT_EQ(parse_publish({"restore"}).step, lifecycle::Step::restore);
  EXPECT_EQ(parse_publish({"running"}).step, lifecycle::Step::running);
  EXPECT_EQ(parse_publish({"shutdown"}).step, lifecycle::Step::shutdown);
}

TEST(CliPublishTest, OptionsAndTheirDefaults) {
  const PublishRequest plain = parse_publish({"restore"});
  EXPECT_EQ(plain.segment_path, std::filesystem::path("/tmp/configured.seg"));
  EXPECT_EQ(plain.timeout, std::chrono::milliseconds(1234));
  EXPECT_EQ(plain.expect_subscribers, std::nullopt);
  EXPECT_EQ(plain.format, OutputFormat::text);
  EXPECT_FALSE(plain.fresh);
  EXPECT_TRUE(parse_publish({"starting", "--fresh"}).fresh);

  const PublishRequest full = parse_publish(
      {"--json", "before-snapshot", "--expect-subscribers=2", "--timeout-ms", "300", "--segment", "/tmp/s"});
  EXPECT_EQ(full.step, lifecycle::Step::before_snapshot);
  EXPECT_EQ(full.format, OutputFormat::json);
  EXPECT_EQ(full.expect_subscribers, 2U);
  EXPECT_EQ(full.timeout, std::chrono::milliseconds(300));
  EXPECT_EQ(full.segment_path, std::filesystem::path("/tmp/s"));
}

TEST(CliPublishTest, MistakesAreUsageErrors) {
  EXPECT_THROW(parse_publish({}), UsageError);
  EXPECT_THROW(parse_publish({"after-restore"}), UsageError);
  EXPECT_THROW(parse_publish({"restore", "running"}), UsageError);
  EXPECT_THROW(parse_publish({"restore", "--timeout-ms", "soon"}), UsageError);
  EXPECT_THROW(parse_publish({"before-snapshot", "--fresh"}), UsageError);
  try {
    parse_publish({"after-restore"});
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("unknown phase 'after-restore'"), std::string::npos) << error.what();
  }
}

TEST(CliPublishTest, HelpNamesEveryStepAndExitCode) {
  try {
    parse_publish({"--help"});
    FAIL() << "no help";
  } catch (const HelpRequested& help) {
    const std::string& text = help.text();
    EXPECT_EQ(text.rfind("usage: snapbus publish <starting|before-snapshot|restore|running|shutdown>", 0), 0U) << text;
    for (const char* word : {"--timeout-ms N", "--segment PATH", "--expect-subscribers N", "--fresh", "--json",
                             "before-snapshot  enter before-snapshot", "exit codes: 0 all acked ok"}) {
      EXPECT_NE(text.find(word), std::string::npos) << word << "\n" << text;
    }
  }
}

}  // namespace
}  // namespace snapbus::cli
