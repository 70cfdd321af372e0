#include "cli_publish.h"

#include <gtest/gtest.h>

#include "cli_arguments.h"

namespace snapbus::cli {
namespace {

TEST(CliPublishTest, EachRequestHasItsPhaseAndFollowUp) {
  EXPECT_EQ(publish_plan("before-snapshot").phase, Phase::before_snapshot);
  EXPECT_EQ(publish_plan("before-snapshot").after_all_acked, Phase::snapshot_ready);
  EXPECT_EQ(publish_plan("restore").phase, Phase::after_restore);
  EXPECT_EQ(publish_plan("restore").after_all_acked, Phase::running);
  EXPECT_EQ(publish_plan("running").phase, Phase::running);
  EXPECT_EQ(publish_plan("running").after_all_acked, std::nullopt);
  EXPECT_EQ(publish_plan("shutdown").phase, Phase::shutting_down);
  EXPECT_EQ(publish_plan("shutdown").after_all_acked, std::nullopt);
}

TEST(CliPublishTest, UnknownRequestIsAUsageError) {
  EXPECT_THROW(publish_plan("after-restore"), UsageError);
  EXPECT_THROW(publish_plan(""), UsageError);
}

}  // namespace
}  // namespace snapbus::cli
