#include "output_writer.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <future>
#include <string>

#include <gtest/gtest.h>

#include "snapbus/unique_fd.h"

namespace snapbus::emulator {
namespace {

using namespace std::chrono_literals;

struct WriterPipe {
  UniqueFd read;
  UniqueFd write;
};

WriterPipe writer_pipe() {
  std::array<int, 2> ends{};
  EXPECT_EQ(::pipe2(ends.data(), O_CLOEXEC), 0);
  return {UniqueFd(ends[0]), UniqueFd(ends[1])};
}

// Reads from `fd` until `size` bytes came or 10 s passed, so a writer that stalls fails the test
// rather than hanging it.
std::string read_bytes(int fd, std::size_t size) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::array<char, 65536> buffer{};
  while (got.size() < size && std::chrono::steady_clock::now() < deadline) {
    pollfd readable{.fd = fd, .events = POLLIN, .revents = 0};
    if (::poll(&readable, 1, 100) <= 0) continue;
    const ssize_t n = ::read(fd, buffer.data(), std::min(buffer.size(), size - got.size()));
    if (n <= 0) break;
    got.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return got;
}

// A pattern whose every byte says where it is, so a lost, repeated or reordered piece shows.
std::string numbered_bytes(std::size_t size) {
  std::string bytes;
  for (std::size_t i = 0; bytes.size() < size; ++i) bytes += std::to_string(i) + (i % 16 == 15 ? "\n" : " ");
  bytes.resize(size);
  return bytes;
}

TEST(OutputWriter, BothStreamsAreWrittenInTheOrderTheirBytesCame) {
  WriterPipe both = writer_pipe();  // as `snapbus emulate 2>&1 | ...`
  OutputWriter writer(both.write.get(), both.write.get());
  writer.write(OutputStream::out, "START\n");
  writer.write(OutputStream::err, "a warning\n");
  writer.write(OutputStream::out, "hello\n");
  writer.write(OutputStream::out, "END\n");
  ASSERT_TRUE(writer.finish(10s));
  EXPECT_EQ(read_bytes(both.read.get(), 26), "START\na warning\nhello\nEND\n");
}

TEST(OutputWriter, AReaderThatStopsHoldsUpNoCallerAndLosesNothing) {
  WriterPipe out = writer_pipe();
  WriterPipe err = writer_pipe();
  constexpr std::size_t kRoom = std::size_t{256} * 1024;
  OutputWriter writer(out.write.get(), err.write.get(), kRoom);
  // Four times the room and many times what the pipe holds, with nobody reading: every call returns.
  const std::string bytes = numbered_bytes(4 * kRoom);
  auto writes = std::async(std::launch::async, [&] {
    for (std::size_t at = 0; at < bytes.size(); at += 1000) writer.write(OutputStream::out, bytes.substr(at, 1000));
  });
  ASSERT_EQ(writes.wait_for(10s), std::future_status::ready) << "a write waited for the reader";
  EXPECT_FALSE(writer.has_room());
  EXPECT_FALSE(writer.finish(200ms)) << "nothing was read, yet everything was written";

  std::promise<void> room;
  writer.when_room([&room] { room.set_value(); });
  auto room_again = room.get_future();
  EXPECT_EQ(room_again.wait_for(0s), std::future_status::timeout);
  // The reader comes back: it gets every byte, in order, and the writer has room again.
  const std::string got = read_bytes(out.read.get(), bytes.size());
  EXPECT_EQ(got.size(), bytes.size());
  EXPECT_TRUE(got == bytes) << "the bytes came, but not as they were written";
  EXPECT_EQ(room_again.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(writer.finish(10s));
  EXPECT_TRUE(writer.has_room());
}

// A parent may hand the emulator a stdout it made non-blocking (the flag belongs to the shared
// description): a full pipe then answers EAGAIN, which must not cost the bytes.
TEST(OutputWriter, ADescriptorLeftNonBlockingLosesNothing) {
  WriterPipe out = writer_pipe();
  ASSERT_EQ(::fcntl(out.write.get(), F_SETFL, O_NONBLOCK), 0);
  OutputWriter writer(out.write.get(), out.write.get());
  const std::string bytes = numbered_bytes(std::size_t{512} * 1024);
  writer.write(OutputStream::out, bytes);
  const std::string got = read_bytes(out.read.get(), bytes.size());
  EXPECT_EQ(got.size(), bytes.size());
  EXPECT_TRUE(got == bytes) << "the bytes came, but not as they were written";
  EXPECT_TRUE(writer.finish(10s));
}

TEST(OutputWriter, WhenRoomIsCalledAtOnceWhenThereIsRoom) {
  WriterPipe out = writer_pipe();
  OutputWriter writer(out.write.get(), out.write.get(), 1024);
  bool called = false;
  writer.when_room([&called] { called = true; });
  EXPECT_TRUE(called);
}

// Counts SIGPIPEs while it lives; the disposition before it is put back after.
class SigpipeCounter {
 public:
  SigpipeCounter() {
    count = 0;
    struct sigaction counting {};
    counting.sa_handler = [](int) { count = count + 1; };
    ::sigemptyset(&counting.sa_mask);
    ::sigaction(SIGPIPE, &counting, &before_);
  }
  ~SigpipeCounter() { ::sigaction(SIGPIPE, &before_, nullptr); }
  SigpipeCounter(const SigpipeCounter&) = delete;
  SigpipeCounter& operator=(const SigpipeCounter&) = delete;

  static inline volatile std::sig_atomic_t count = 0;

 private:
  struct sigaction before_ {};
};

// `snapbus emulate | head`: once the reader has gone, nothing more is written to that stream, so the
// emulator hears one SIGPIPE (which stops it gracefully: process_supervisor.h), not one per line;
// the other stream goes on.
TEST(OutputWriter, AStreamWhoseReaderWentAwayIsWrittenNoMore) {
  const SigpipeCounter sigpipes;
  WriterPipe out = writer_pipe();
  WriterPipe err = writer_pipe();
  out.read.reset();
  {
    OutputWriter writer(out.write.get(), err.write.get());
    writer.write(OutputStream::out, "INIT_START\n");
    EXPECT_TRUE(writer.finish(10s));
    writer.write(OutputStream::out, "the function's stdout\n");
    writer.write(OutputStream::err, "the function's stderr\n");
    writer.write(OutputStream::out, "END\n");
    EXPECT_TRUE(writer.finish(10s));
  }
  EXPECT_EQ(SigpipeCounter::count, 1);
  EXPECT_EQ(read_bytes(err.read.get(), 22), "the function's stderr\n");
}

TEST(OutputWriter, ADescriptorThatIsNotOpenIsAReaderGone) {
  WriterPipe err = writer_pipe();
  const int closed = writer_pipe().write.get();  // closed with the temporary
  OutputWriter writer(closed, err.write.get());
  writer.write(OutputStream::out, "nowhere\n");
  writer.write(OutputStream::err, "to stderr\n");
  EXPECT_TRUE(writer.finish(10s));
  EXPECT_EQ(read_bytes(err.read.get(), 10), "to stderr\n");
}

}  // namespace
}  // namespace snapbus::emulator
