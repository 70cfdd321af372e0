#include "snapbus/runtime_state.h"

#include <gtest/gtest.h>

namespace snapbus::lambda {
namespace {

const RuntimeCall kAll[] = {RuntimeCall::kNext,      RuntimeCall::kResponse,    RuntimeCall::kError,
                            RuntimeCall::kInitError, RuntimeCall::kRestoreNext, RuntimeCall::kRestoreError};

void expect_only(const RuntimeStateMachine& sm, std::initializer_list<RuntimeCall> allowed) {
  for (RuntimeCall call : kAll) {
    const bool expected = std::find(allowed.begin(), allowed.end(), call) != allowed.end();
    EXPECT_EQ(!sm.check(call).has_value(), expected) << to_string(call) << " in state " << to_string(sm.state());
  }
}

TEST(RuntimeState, OnDemandCycle) {
  RuntimeStateMachine sm(false);
  expect_only(sm, {RuntimeCall::kNext, RuntimeCall::kInitError});
  sm.apply(RuntimeCall::kNext);
  EXPECT_EQ(sm.state(), RuntimeState::kIdle);
  expect_only(sm, {});
  sm.event_delivered();
  EXPECT_EQ(sm.state(), RuntimeState::kInvoking);
  expect_only(sm, {RuntimeCall::kResponse, RuntimeCall::kError});
  sm.apply(RuntimeCall::kResponse);
  EXPECT_EQ(sm.state(), RuntimeState::kResponded);
  expect_only(sm, {RuntimeCall::kNext});
  sm.apply(RuntimeCall::kNext);
  sm.event_delivered();
  sm.apply(RuntimeCall::kError);
  EXPECT_EQ(sm.state(), RuntimeState::kResponded);
}

TEST(RuntimeState, AbandonedNextReturnsToTheStateItWasCalledFrom) {
  RuntimeStateMachine sm(false);
  sm.apply(RuntimeCall::kNext);
  sm.next_abandoned();
  EXPECT_EQ(sm.state(), RuntimeState::kStarting);
  sm.apply(RuntimeCall::kNext);
  sm.event_delivered();
  sm.apply(RuntimeCall::kResponse);
  sm.apply(RuntimeCall::kNext);
  sm.event_delivered();  // handed to a connection that was already gone
  sm.next_abandoned();
  EXPECT_EQ(sm.state(), RuntimeState::kResponded);
  expect_only(sm, {RuntimeCall::kNext});
}

TEST(RuntimeState, RestoreNextOnlyWithSnapStart) {
  RuntimeStateMachine sm(false);
  auto error = sm.check(RuntimeCall::kRestoreNext);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("snap-start"), std::string::npos);
}

TEST(RuntimeState, SnapStartCycle) {
  RuntimeStateMachine sm(true);
  expect_only(sm, {RuntimeCall::kNext, RuntimeCall::kInitError, RuntimeCall::kRestoreNext});
  sm.apply(RuntimeCall::kRestoreNext);
  EXPECT_EQ(sm.state(), RuntimeState::kRestoreWaiting);
  EXPECT_TRUE(sm.called_restore_next());
  expect_only(sm, {});
  sm.restore_released();
  EXPECT_EQ(sm.state(), RuntimeState::kRestoring);
  expect_only(sm, {RuntimeCall::kNext, RuntimeCall::kRestoreError});
  sm.apply(RuntimeCall::kRestoreError);
  EXPECT_EQ(sm.state(), RuntimeState::kFailed);
  expect_only(sm, {});
}

TEST(RuntimeState, WrongCallLeavesStateAndNamesBoth) {
  RuntimeStateMachine sm(true);
  auto error = sm.check(RuntimeCall::kResponse);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("Starting"), std::string::npos);
  EXPECT_NE(error->find("invocation/response"), std::string::npos);
  EXPECT_EQ(sm.state(), RuntimeState::kStarting);
  sm.event_delivered();  // not idle: ignored
  EXPECT_EQ(sm.state(), RuntimeState::kStarting);
}

}  // namespace
}  // namespace snapbus::lambda
