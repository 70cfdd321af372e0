// The main of a test program built on the clients: runs its coroutine to an exit code.
//
//   int main(int argc, char** argv) {
//     return run_test_program("client_runtime", run(argv[1]), [] { record("exception"); });
//   }
#pragma once

#include <exception>
#include <iostream>
#include <utility>

#include <boost/asio.hpp>

namespace snapbus::lambda::testing {

// `on_exception` lets the program leave a trace the test reads (its record file) when the
// coroutine throws; whatever escapes is printed, never a terminate without a word. Exit code 1
// then, else the coroutine's own.
template <typename OnException>
int run_test_program(const char* name, boost::asio::awaitable<int> work, OnException on_exception) noexcept {
  try {
    boost::asio::io_context io;
    int code = 1;
    boost::asio::co_spawn(io, std::move(work), [&](const std::exception_ptr& thrown, int result) {
      if (thrown) {
        on_exception();
        return;
      }
      code = result;
    });
    io.run();
    return code;
  } catch (const std::exception& error) {
    std::cerr << name << ": " << error.what() << '\n';
    return 1;
  }
}

}  // namespace snapbus::lambda::testing
