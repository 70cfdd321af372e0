// A thread of the emulator's own that process-directed signals are never delivered to.
//
//   std::thread walker = thread_without_signals([&] { walk(); });
//   walker.join();
//
// SIGCHLD, SIGTERM and SIGINT are the event loop's (an asio::signal_set): the kernel gives such a
// signal to any thread that does not block it, and on a helper thread it would interrupt that
// thread's system calls, or, under ThreadSanitizer, whose handlers run only when the receiving thread
// next calls an intercepted function, wait unhandled while that thread sleeps (the emulator did not
// hear a SIGTERM while its /proc walker waited for work). Signals that a thread raises on itself
// (SIGPIPE from a write to a closed pipe, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) stay deliverable.
#pragma once

#include <functional>
#include <thread>

namespace snapbus::emulator {

// `body` on a new thread that blocks every other signal from its first instruction on (the mask is
// set before the thread is made, which inherits it, and the caller's is put back).
std::thread thread_without_signals(std::function<void()> body);

}  // namespace snapbus::emulator
