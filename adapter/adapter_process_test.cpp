#include "adapter_process.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "snapbus/error.h"
#include "testing/scratch_directory.h"

namespace snapbus::adapter {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A step aside that only waits: for its stop flag, or for the test's patience to run out.
lifecycle::StepResult wait_until_stopped(const std::atomic<bool>* stop, std::atomic<bool>& saw_stop) {
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!stop->load() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  saw_stop = stop->load();
  return {};
}

class AdapterProcessTest : public ::testing::Test {
 protected:
  AdapterProcessTest() {
    config.runtime_api = "127.0.0.1:9";  // never called: no extension name, and the modes below call nothing
    bus_config.segment_path = dir.path() / "bus.seg";
  }

  testing::ScratchDirectory dir;
  AdapterConfig config;
  Config bus_config;
  LaunchOptions launch;
};

// A signal while a step runs aside is heard at once: the step is told to stop, and the shutdown
// (shutting-down published) follows only once it has returned and its caller has gone on.
TEST_F(AdapterProcessTest, ASignalStopsAStepRunningAsideAndTheShutdownFollowsIt) {
  AdapterProcess process(config, bus_config, launch, TransitionSource::runtime_api);
  std::atomic<bool> saw_stop{false};
  std::atomic<bool> step_returned{false};
  std::atomic<bool> resumed_after_shutdown{false};
  std::jthread signaller;
  const int code = process.run([&](AdapterProcess& p) -> asio::awaitable<void> {
    signaller = std::jthread([] {
      std::this_thread::sleep_for(100ms);
      ::kill(::getpid(), SIGTERM);
    });
    co_await p.run_step_aside([&](const std::atomic<bool>* stop) {
      auto result = wait_until_stopped(stop, saw_stop);
      step_returned = true;
      return result;
    });
    // Back on the event loop, before the shutdown, which was left for after the step.
    resumed_after_shutdown = p.stopping() && p.publisher().state().phase != Phase::shutting_down;
  });
  EXPECT_EQ(code, kExitShutdown);
  EXPECT_TRUE(saw_stop);
  EXPECT_TRUE(step_returned);
  EXPECT_TRUE(resumed_after_shutdown);
  EXPECT_EQ(process.publisher().state().phase, Phase::shutting_down);
}

// What the step throws reaches the caller, on the event loop's thread.
TEST_F(AdapterProcessTest, WhatAStepAsideThrowsIsRethrownToItsCaller) {
  AdapterProcess process(config, bus_config, launch, TransitionSource::runtime_api);
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::atomic<bool> ran_elsewhere{false};
  bool caught_on_loop = false;
  const int code = process.run([&](AdapterProcess& p) -> asio::awaitable<void> {
    try {
      co_await p.run_step_aside([&](const std::atomic<bool>*) -> lifecycle::StepResult {
        ran_elsewhere = std::this_thread::get_id() != loop_thread;
        throw Error(Errc::invalid_segment, "the segment went away");
      });
    } catch (const Error& error) {
      caught_on_loop = std::this_thread::get_id() == loop_thread && error.code() == Errc::invalid_segment;
    }
    p.finish(kExitRuntimeApiError, "done");
  });
  EXPECT_EQ(code, kExitRuntimeApiError);
  EXPECT_TRUE(ran_elsewhere);
  EXPECT_TRUE(caught_on_loop);
}

}  // namespace
}  // namespace snapbus::adapter
