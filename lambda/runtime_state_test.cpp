#include "snapbus/runtime_state.h"

#include <gtest/gtest.h>

namespace snapbus::lambda {
namespace {

const RuntimeCall kAll[] = {RuntimeCall::next,       RuntimeCall::response,     RuntimeCall::error,
                            RuntimeCall::init_error, RuntimeCall::restore_next, RuntimeCall::restore_error};

void expect_only(const RuntimeStateMachine& sm, std::initializer_list<RuntimeCall> allowed) {
  for (RuntimeCall call : kAll) {
    const bool expected = std::find(allowed.begin(), allowed.end(), call) != allowed.end();
    EXPECT_EQ(!sm.check(call).has_value(), expected) << to_string(call) << " in state " << to_string(sm.state());
  }
}

TEST(RuntimeState, OnDemandCycle) {
  RuntimeStateMachine sm(false);
  expect_only(sm, {RuntimeCall::next, RuntimeCall::init_error});
  sm.apply(RuntimeCall::next);
  EXPECT_EQ(sm.state(), RuntimeState::idle);
  expect_only(sm, {RuntimeCall::next});  // another call waits behind it
  sm.event_delivered();
  EXPECT_EQ(sm.state(), RuntimeState::invoking);
  expect_only(sm, {RuntimeCall::next, RuntimeCall::response, RuntimeCall::error});
  sm.apply(RuntimeCall::response);
  EXPECT_EQ(sm.state(), RuntimeState::responded);
  expect_only(sm, {RuntimeCall::next});
  sm.apply(RuntimeCall::next);
  sm.event_delivered();
  sm.apply(RuntimeCall::error);
  EXPECT_EQ(sm.state(), RuntimeState::responded);
}

TEST(RuntimeState, AbandonedNextReturnsToTheStateItWasCalledFrom) {
  RuntimeStateMachine sm(false);
  sm.apply(RuntimeCall::next);
  sm.poll_abandoned();
  EXPECT_EQ(sm.state(), RuntimeState::starting);
  sm.apply(RuntimeCall::next);
  sm.event_delivered();
  sm.apply(RuntimeCall::response);
  sm.apply(RuntimeCall::next);
  sm.event_delivered();
  sm.delivery_abandoned();  // handed to a connection that was already gone
  EXPECT_EQ(sm.state(), RuntimeState::responded);
  expect_only(sm, {RuntimeCall::next});
}

TEST(RuntimeState, CallsThatWaitInTurnAreCounted) {
  RuntimeStateMachine sm(false);
  sm.apply(RuntimeCall::next);
  sm.apply(RuntimeCall::next);
  EXPECT_EQ(sm.polls_waiting(), 2);
  sm.event_delivered();
  EXPECT_EQ(sm.polls_waiting(), 1);
  sm.apply(RuntimeCall::next);  // during the invocation
  EXPECT_EQ(sm.state(), RuntimeState::invoking);
  sm.apply(RuntimeCall::response);
  EXPECT_EQ(sm.state(), RuntimeState::idle);  // calls still wait
  sm.event_delivered();
  sm.delivery_abandoned();  // one call still waits
  EXPECT_EQ(sm.state(), RuntimeState::idle);
  sm.poll_abandoned();
  EXPECT_EQ(sm.state(), RuntimeState::responded);  // where the first of them was made
  EXPECT_EQ(sm.polls_waiting(), 0);
}

TEST(RuntimeState, RestoreNextOnlyWithSnapStart) {
  RuntimeStateMachine sm(false);
  expect_only(sm, {RuntimeCall::next, RuntimeCall::init_error});
  auto error = sm.check(RuntimeCall::restore_next);
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "State transition from Starting on restore/next is not allowed");
}

TEST(RuntimeState, SnapStartCycle) {
  RuntimeStateMachine sm(true);
  expect_only(sm, {RuntimeCall::next, RuntimeCall::init_error, RuntimeCall::restore_next});
  sm.apply(RuntimeCall::restore_next);
  EXPECT_EQ(sm.state(), RuntimeState::restore_waiting);
  EXPECT_TRUE(sm.called_restore_next());
  expect_only(sm, {});
  sm.restore_released();
  EXPECT_EQ(sm.state(), RuntimeState::restoring);
  expect_only(sm, {RuntimeCall::next, RuntimeCall::restore_error});
  sm.apply(RuntimeCall::restore_error);
  EXPECT_EQ(sm.state(), RuntimeState::failed);
  expect_only(sm, {});
}

TEST(RuntimeState, WrongCallLeavesStateAndNamesBoth) {
  RuntimeStateMachine sm(true);
  auto error = sm.check(RuntimeCall::response);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("Starting"), std::string::npos);
  EXPECT_NE(error->find("invocation/response"), std::string::npos);
  EXPECT_EQ(sm.state(), RuntimeState::starting);
  sm.event_delivered();  // not idle: ignored
  EXPECT_EQ(sm.state(), RuntimeState::starting);
}

}  // namespace
}  // namespace snapbus::lambda
