#include "snapbus/segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <fstream>
#include <thread>

#include "testing/child_process.h"
#include "testing/scratch_directory.h"

namespace snapbus {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Expects `body` to throw Error with `code` and a message containing `words`.
template <typename Body>
void expect_error(Errc code, const std::string& words, Body&& body) {
  try {
    body();
    ADD_FAILURE() << "no error; expected " << errc_name(code);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

std::vector<char> file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const fs::path& path, const std::vector<char>& bytes, mode_t mode = 0600) {
  fs::remove(path);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, mode);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::fchmod(fd, mode);
  ::close(fd);
}

class SegmentTest : public ::testing::Test {
 protected:
  testing::ScratchDirectory dir;
  fs::path path = dir.path() / "bus.seg";

  // A good segment's bytes with one header field overwritten.
  template <typename T>
  void write_patched(std::size_t offset, T value) {
    fs::path good = dir.path() / "good.seg";
    Segment::create(good, {.slot_count = 4});
    auto bytes = file_bytes(good);
    std::memcpy(bytes.data() + offset, &value, sizeof value);
    write_bytes(path, bytes);
  }
};

TEST_F(SegmentTest, CreateThenOpenAsEveryRole) {
  auto created = Segment::create(path, {.slot_count = 8});
  EXPECT_EQ(created.slot_count(), 8U);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), kPageBytes + 8ULL * kSlotBytes);
  for (auto access : {SegmentAccess::observe, SegmentAccess::subscribe, SegmentAccess::publish}) {
    auto opened = Segment::open(path, access);
    EXPECT_EQ(opened.header().magic.load(), kMagic);
    EXPECT_EQ(opened.inode(), created.inode());
  }
  // No temporary file is left behind by the create-and-rename.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST_F(SegmentTest, PublisherWritesAreSeenThroughAnotherMapping) {
  auto publisher = Segment::create(path, {.slot_count = 2});
  auto subscriber = Segment::open(path, SegmentAccess::subscribe);
  publisher.mutable_state().generation.store(41);
  EXPECT_EQ(subscriber.state().generation.load(), 41U);
  subscriber.mutable_slot(1).pid.store(77);
  EXPECT_EQ(publisher.slot(1).pid.load(), 77U);
}

constexpr int kFaulted = 77;
void exit_on_fault(int) { ::_exit(kFaulted); }

TEST_F(SegmentTest, SubscriberCannotWriteTheState) {
  Segment::create(path, {.slot_count = 2});
  auto child = testing::fork_child([&] {
    auto subscriber = Segment::open(path, SegmentAccess::subscribe);
    // Our own handler, so the fault is reported the same way with or without AddressSanitizer.
    struct sigaction action {};
    action.sa_handler = exit_on_fault;
    sigaction(SIGSEGV, &action, nullptr);
    // The state is mapped PROT_READ: this store must fault, whatever the type system says.
    const_cast<StateRecord&>(subscriber.state()).generation.store(99);
    return 0;
  });
  EXPECT_EQ(child.wait_exit_code(5s), kFaulted);
  EXPECT_THROW(Segment::open(path, SegmentAccess::subscribe).mutable_state(), Error);
}

TEST_F(SegmentTest, MissingFileIsNotFound) {
  expect_error(Errc::not_found, "No such file", [&] { Segment::open(path, SegmentAccess::observe); });
}

TEST_F(SegmentTest, AMissingDirectoryIsToldApartFromAMissingFile) {
  EXPECT_FALSE(check_segment_directory(path)) << "the directory exists; only the file is missing";
  const auto missing = check_segment_directory(dir.path() / "nope" / "bus.seg");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->code(), Errc::not_found);
  EXPECT_NE(std::string(missing->what()).find("nope does not exist"), std::string::npos) << missing->what();
  // A file where the directory should be is no missing directory.
  write_bytes(dir.path() / "plain", std::vector<char>(1, 'x'));
  const auto file = check_segment_directory(dir.path() / "plain" / "bus.seg");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->code(), Errc::system);
  EXPECT_EQ(file->sys_errno(), ENOTDIR);
  EXPECT_NE(std::string(file->what()).find("plain is not a directory"), std::string::npos) << file->what();
}

TEST_F(SegmentTest, TruncatedFiles) {
  write_bytes(path, std::vector<char>(10, 'x'));
  expect_error(Errc::invalid_segment, "truncated", [&] { Segment::open(path, SegmentAccess::observe); });
  write_bytes(path, {});
  expect_error(Errc::invalid_segment, "truncated", [&] { Segment::open(path, SegmentAccess::observe); });
  // A whole header but the slot table cut off.
  Segment::create(dir.path() / "good.seg", {.slot_count = 4});
  auto bytes = file_bytes(dir.path() / "good.seg");
  bytes.resize(kPageBytes + 100);
  write_bytes(path, bytes);
  expect_error(Errc::invalid_segment, "truncated", [&] { Segment::open(path, SegmentAccess::observe); });
}

TEST_F(SegmentTest, ForeignMagic) {
  write_patched<std::uint64_t>(0, 0x4c45464f5250ULL);
  expect_error(Errc::invalid_segment, "not a snapbus segment", [&] { Segment::open(path, SegmentAccess::observe); });
}

TEST_F(SegmentTest, UnfinishedHeaderHasNoMagic) {
  write_patched<std::uint64_t>(0, 0);
  expect_error(Errc::invalid_segment, "not initialised", [&] { Segment::open(path, SegmentAccess::observe); });
}

TEST_F(SegmentTest, WrongLayoutVersion) {
  write_patched<std::uint32_t>(offsetof(SegmentHeader, layout_version), 2);
  expect_error(Errc::version_mismatch, "layout version 2", [&] { Segment::open(path, SegmentAccess::observe); });
}

TEST_F(SegmentTest, OffsetsAndSizesOutsideTheFile) {
  write_patched<std::uint32_t>(offsetof(SegmentHeader, slot_count), 1000);
  expect_error(Errc::invalid_segment, "corrupt header", [&] { Segment::open(path, SegmentAccess::observe); });
  write_patched<std::uint32_t>(offsetof(SegmentHeader, slots_offset), 0x7ffff000);
  expect_error(Errc::invalid_segment, "corrupt header", [&] { Segment::open(path, SegmentAccess::observe); });
  write_patched<std::uint32_t>(offsetof(SegmentHeader, slots_offset), 100);
  expect_error(Errc::invalid_segment, "slot table offset", [&] { Segment::open(path, SegmentAccess::observe); });
  write_patched<std::uint32_t>(offsetof(SegmentHeader, state_offset), 4040);
  expect_error(Errc::invalid_segment, "slot table offset", [&] { Segment::open(path, SegmentAccess::observe); });
  write_patched<std::uint32_t>(offsetof(SegmentHeader, state_bytes), 8);
  expect_error(Errc::invalid_segment, "state size", [&] { Segment::open(path, SegmentAccess::observe); });
  write_patched<std::uint32_t>(offsetof(SegmentHeader, slot_bytes), 64);
  expect_error(Errc::invalid_segment, "slot size", [&] { Segment::open(path, SegmentAccess::observe); });
  write_patched<std::uint32_t>(offsetof(SegmentHeader, slot_count), 0);
  expect_error(Errc::invalid_segment, "slot count", [&] { Segment::open(path, SegmentAccess::observe); });
  write_patched<std::uint64_t>(offsetof(SegmentHeader, segment_bytes), ~0ULL);
  expect_error(Errc::invalid_segment, "recorded size", [&] { Segment::open(path, SegmentAccess::observe); });
}

TEST_F(SegmentTest, OwnedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  Segment::create(path, {.slot_count = 2});
  ASSERT_EQ(::chown(path.c_str(), 12345, 12345), 0);
  expect_error(Errc::permission_denied, "owned by uid 12345", [&] { Segment::open(path, SegmentAccess::observe); });
}

TEST_F(SegmentTest, AnotherUsersSegmentSharedWithOurGroupOpens) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  const gid_t group = ::getegid();
  Segment::create(path, {.slot_count = 2, .group = group});
  ASSERT_EQ(::chown(path.c_str(), 12345, group), 0);
  EXPECT_NO_THROW(Segment::open(path, SegmentAccess::subscribe, group));
  expect_error(Errc::permission_denied, "owned by uid 12345", [&] { Segment::open(path, SegmentAccess::observe); });
  expect_error(Errc::permission_denied, "owned by uid 12345",
               [&] { Segment::open(path, SegmentAccess::observe, group + 1); });
}

TEST_F(SegmentTest, LoosePermissions) {
  Segment::create(path, {.slot_count = 2});
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  expect_error(Errc::permission_denied, "mode 0644", [&] { Segment::open(path, SegmentAccess::observe); });
  ASSERT_EQ(::chmod(path.c_str(), 0660), 0);
  expect_error(Errc::permission_denied, "SNAPBUS_SEGMENT_GROUP", [&] { Segment::open(path, SegmentAccess::observe); });
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_NO_THROW(Segment::open(path, SegmentAccess::observe, st.st_gid)) << "the named group may open it";
}

TEST_F(SegmentTest, GroupModeOnCreate) {
  const gid_t group = ::getegid();
  Segment::create(path, {.slot_count = 2, .group = group});
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660U);
  EXPECT_NO_THROW(Segment::open(path, SegmentAccess::subscribe, group));
}

TEST_F(SegmentTest, SymlinkIsRefused) {
  Segment::create(dir.path() / "real.seg", {.slot_count = 2});
  fs::create_symlink(dir.path() / "real.seg", path);
  expect_error(Errc::permission_denied, "symbolic link", [&] { Segment::open(path, SegmentAccess::observe); });
}

// A directory on the way that loops is not the file being a symbolic link: say which it is.
TEST_F(SegmentTest, ADirectoryThatLoopsIsNamedAsSuch) {
  fs::create_symlink(dir.path() / "loop", dir.path() / "loop");
  expect_error(Errc::system, "a directory on the way to it loops through symbolic links",
               [&] { Segment::open(dir.path() / "loop" / "bus.seg", SegmentAccess::observe); });
}

TEST_F(SegmentTest, DirectoryIsRefused) {
  fs::create_directory(path);
  ::chmod(path.c_str(), 0700);
  expect_error(Errc::invalid_segment, "directory", [&] { Segment::open(path, SegmentAccess::observe); });
  expect_error(Errc::invalid_segment, "directory", [&] { Segment::open(path, SegmentAccess::subscribe); });
}

// A FIFO planted at the path would block a plain open() until a writer came: refused at once.
TEST_F(SegmentTest, FifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const auto started = std::chrono::steady_clock::now();
  expect_error(Errc::invalid_segment, "not a regular file", [&] { Segment::open(path, SegmentAccess::observe); });
  expect_error(Errc::invalid_segment, "not a regular file", [&] { Segment::open(path, SegmentAccess::subscribe); });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

// Truncated under a live mapping: reads see zeros instead of SIGBUS, and damage() says why.
TEST_F(SegmentTest, TruncatedUnderALiveMappingReadsZerosAndReportsTheDamage) {
  auto publisher = Segment::create(path, {.slot_count = 4});
  publisher.mutable_state().generation.store(7);
  auto observer = Segment::open(path, SegmentAccess::observe);
  EXPECT_FALSE(observer.damage().has_value());
  EXPECT_EQ(observer.state().generation.load(), 7U);
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  EXPECT_EQ(observer.state().generation.load(), 0U) << "the page past the end of the file read as zero";
  EXPECT_EQ(observer.slot(3).pid.load(), 0U);
  publisher.mutable_slot(2).pid.store(5);  // a write faults too, and is absorbed
  const auto damage = observer.damage();
  ASSERT_TRUE(damage.has_value());
  EXPECT_NE(std::string(damage->what()).find("was truncated to 0 bytes"), std::string::npos) << damage->what();
}

TEST_F(SegmentTest, CreationReservesEveryBlock) {
  auto segment = Segment::create(path, {.slot_count = 64});
  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_GE(static_cast<std::uint64_t>(status.st_blocks) * 512, static_cast<std::uint64_t>(status.st_size))
      << "the segment is sparse: a full filesystem would raise SIGBUS on a later write";
}

TEST_F(SegmentTest, CheckHeaderAcceptsOnlyAGoodHeader) {
  auto segment = Segment::create(path, {.slot_count = 4});
  auto bytes = file_bytes(path);
  auto span = std::as_bytes(std::span(bytes.data(), bytes.size()));
  EXPECT_FALSE(check_header(span, bytes.size()).has_value());
  EXPECT_TRUE(check_header(span.first(63), bytes.size()).has_value());
  EXPECT_TRUE(check_header(span, bytes.size() - 1).has_value());
}

TEST_F(SegmentTest, WaitTimesOutWhenNothingAppears) {
  EXPECT_FALSE(wait_until_segment_exists(path, FutexClock::now() + 30ms));
}

TEST_F(SegmentTest, WaitReturnsWhenTheSegmentIsCreated) {
  std::thread creator([&] {
    std::this_thread::sleep_for(20ms);
    Segment::create(path, {.slot_count = 2});
  });
  const bool appeared = wait_until_segment_exists(path, FutexClock::now() + 5s);
  creator.join();
  EXPECT_TRUE(appeared);
}

TEST_F(SegmentTest, WaitInAMissingDirectoryIsNotFound) {
  expect_error(Errc::not_found, "watch directory",
               [&] { wait_until_segment_exists(dir.path() / "nope" / "bus.seg", FutexClock::now() + 10ms); });
}

TEST_F(SegmentTest, WaitUnderARegularFileIsAnErrorNotAWaitForEver) {
  { std::ofstream file(dir.path() / "plain"); }
  // Without the check this would wait out its deadline and return false.
  expect_error(Errc::system, "Not a directory",
               [&] { wait_until_segment_exists(dir.path() / "plain" / "bus.seg", FutexClock::now() + 5s); });
}

}  // namespace
}  // namespace snapbus
