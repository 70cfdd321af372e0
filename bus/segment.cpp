#include "snapbus/segment.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "clock.h"
#include "guarded_mapping.h"
#include "snapbus/unique_fd.h"

namespace snapbus {
namespace {

constexpr std::uint64_t kHeaderSize = sizeof(SegmentHeader);

std::string quoted(const std::filesystem::path& path) { return "segment " + path.string(); }

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Gives a file its blocks now, so no later store into its mapping can fail for want of space
// (a sparse file on a full filesystem raises SIGBUS on the first write to a hole). Filesystems
// without fallocate keep the file as it is: that is the best they offer.
void reserve_blocks(int fd, std::uint64_t size, const std::filesystem::path& path) {
  if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) == 0) return;
  const int err = errno;
  if (err == EOPNOTSUPP || err == ENOSYS) {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw_system_error(errno, "size " + quoted(path));
    return;
  }
  if (err == ENOSPC || err == EDQUOT) {
    throw Error(Errc::system,
                "no space left on the filesystem of " + path.string() + " for the " + std::to_string(size) +
                    "-byte segment; nothing was published",
                err);
  }
  throw_system_error(err, "reserve " + std::to_string(size) + " bytes for " + quoted(path));
}

// Reads a header field out of raw bytes without assuming alignment.
template <typename T>
T field(std::span<const std::byte> bytes, std::size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

bool in_group(gid_t group) {
  if (getegid() == group) return true;
  const int count = getgroups(0, nullptr);
  if (count <= 0) return false;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  const int got = getgroups(count, groups.data());
  return got > 0 && std::find(groups.begin(), groups.begin() + got, group) != groups.begin() + got;
}

}  // namespace

std::optional<Error> check_header(std::span<const std::byte> bytes, std::uint64_t file_size) {
  if (bytes.size() < kHeaderSize || file_size < kHeaderSize) {
    return Error(Errc::invalid_segment, "truncated: " + std::to_string(file_size) + " bytes, less than the " +
                                            std::to_string(kHeaderSize) + "-byte header");
  }
  const auto magic = field<std::uint64_t>(bytes, offsetof(SegmentHeader, magic));
  if (magic == 0) {
    return Error(Errc::invalid_segment, "header not initialised (magic is zero): not a finished segment");
  }
  if (magic != kMagic) {
    char text[40];
    std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(magic));
    return Error(Errc::invalid_segment, std::string("not a snapbus segment (magic ") + text + ")");
  }
  const auto version = field<std::uint32_t>(bytes, offsetof(SegmentHeader, layout_version));
  if (version != kLayoutVersion) {
    return Error(Errc::version_mismatch, "layout version " + std::to_string(version) + ", this build reads version " +
                                             std::to_string(kLayoutVersion));
  }
  const std::uint64_t header_bytes = field<std::uint32_t>(bytes, offsetof(SegmentHeader, header_bytes));
  const std::uint64_t state_offset = field<std::uint32_t>(bytes, offsetof(SegmentHeader, state_offset));
  const std::uint64_t state_bytes = field<std::uint32_t>(bytes, offsetof(SegmentHeader, state_bytes));
  const std::uint64_t slots_offset = field<std::uint32_t>(bytes, offsetof(SegmentHeader, slots_offset));
  const std::uint64_t slot_bytes = field<std::uint32_t>(bytes, offsetof(SegmentHeader, slot_bytes));
  const std::uint64_t slot_count = field<std::uint32_t>(bytes, offsetof(SegmentHeader, slot_count));
  const std::uint64_t segment_bytes = field<std::uint64_t>(bytes, offsetof(SegmentHeader, segment_bytes));
  auto bad = [](const std::string& what) { return Error(Errc::invalid_segment, "corrupt header: " + what); };
  // All arithmetic below is on u64 values that started as u32, so no sum or product can overflow.
  if (header_bytes != kHeaderSize) return bad("header size " + std::to_string(header_bytes));
  if (state_offset < header_bytes || state_offset % 8 != 0) {
    return bad("state offset " + std::to_string(state_offset));
  }
  if (state_bytes < sizeof(StateRecord)) return bad("state size " + std::to_string(state_bytes));
  if (slots_offset % kPageBytes != 0 || slots_offset < state_offset + state_bytes) {
    return bad("slot table offset " + std::to_string(slots_offset));
  }
  if (slot_bytes != kSlotBytes) return bad("slot size " + std::to_string(slot_bytes));
  if (slot_count == 0 || slot_count > kMaxSlotCount) return bad("slot count " + std::to_string(slot_count));
  const std::uint64_t needed = slots_offset + slot_count * slot_bytes;
  if (segment_bytes != needed) {
    return bad("recorded size " + std::to_string(segment_bytes) + " but the layout needs " + std::to_string(needed));
  }
  if (file_size < needed) {
    return Error(Errc::invalid_segment,
                 "truncated: " + std::to_string(file_size) + " bytes, the header describes " + std::to_string(needed));
  }
  return std::nullopt;
}

std::optional<Error> check_segment_file_name(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  if (name.empty() || name == "." || name == "..") {
    return Error(Errc::invalid_argument, quoted(path) + " names a directory, not a segment file");
  }
  if (name.size() > kMaxSegmentFileName) {
    return Error(Errc::invalid_argument, quoted(path) + ": its file name is " + std::to_string(name.size()) +
                                             " bytes long; at most " + std::to_string(kMaxSegmentFileName) +
                                             " fit, leaving room for the files snapbus creates beside it (<name>.lock "
                                             "and <name>.tmp.<pid>.<16 hex digits>, within 255 bytes)");
  }
  return std::nullopt;
}

std::optional<Error> check_segment_directory(const std::filesystem::path& path) {
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(directory, error);
  if (std::filesystem::is_directory(status)) return std::nullopt;
  if (std::filesystem::exists(status)) {
    return Error(Errc::system, "no segment at " + path.string() + ": " + directory.string() + " is not a directory",
                 ENOTDIR);
  }
  return Error(Errc::not_found, "no segment at " + path.string() + ": its directory " + directory.string() +
                                    " does not exist, and no publisher creates it (is the path right?)");
}

Error symbolic_link_error(const std::filesystem::path& path, const std::string& what) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) == 0 && S_ISLNK(status.st_mode)) {
    return Error(Errc::permission_denied, what + " is a symbolic link; snapbus opens only the file itself", ELOOP);
  }
  return Error(Errc::system, "open " + what + ": a directory on the way to it loops through symbolic links", ELOOP);
}

std::optional<Error> check_file_status(const struct stat& status, const std::filesystem::path& path,
                                       std::optional<gid_t> group) {
  if (S_ISDIR(status.st_mode)) {
    return Error(Errc::invalid_segment, quoted(path) + " is a directory, not a segment file");
  }
  if (!S_ISREG(status.st_mode)) {
    return Error(Errc::invalid_segment, quoted(path) + " is not a regular file");
  }
  // With SNAPBUS_SEGMENT_GROUP, a process of another user in that group may open the segment its
  // publisher created for the group; otherwise only the owner may.
  const bool shared_with_our_group = group && status.st_gid == *group && in_group(*group);
  if (status.st_uid != geteuid() && !shared_with_our_group) {
    return Error(Errc::permission_denied, quoted(path) + " is owned by uid " + std::to_string(status.st_uid) +
                                              ", not by this user (uid " + std::to_string(geteuid()) + ")");
  }
  if ((status.st_mode & S_IRWXO) != 0) {
    return Error(Errc::permission_denied, quoted(path) + " has mode " + octal_mode(status.st_mode) +
                                              ", open to other users; expected 0600 (or 0660 with " +
                                              "SNAPBUS_SEGMENT_GROUP)");
  }
  if ((status.st_mode & S_IRWXG) != 0 && !(group && *group == status.st_gid)) {
    return Error(Errc::permission_denied, quoted(path) + " has mode " + octal_mode(status.st_mode) + " open to group " +
                                              std::to_string(status.st_gid) +
                                              ", which SNAPBUS_SEGMENT_GROUP does not name");
  }
  return std::nullopt;
}

struct Segment::Mapping {
  std::filesystem::path path;
  SegmentAccess access = SegmentAccess::observe;
  dev_t device = 0;
  ino_t inode = 0;
  std::uint64_t segment_bytes = 0;
  std::uint32_t slot_count = 0;
  std::uint32_t state_offset = 0;
  std::uint32_t slots_offset = 0;
  // Kept open for the mapping's lifetime: subscribers hold their slot locks through it, and
  // intact() asks it for the file's size. O_CLOEXEC, so an exec drops the locks with it.
  UniqueFd fd;
  GuardedMapping head;   // header and state
  GuardedMapping slots;  // the slot table, page-aligned

  std::byte* head_base() const { return static_cast<std::byte*>(head.address()); }
  std::byte* slot_base() const { return static_cast<std::byte*>(slots.address()); }
};

namespace {

int open_flags(SegmentAccess access) {
  // O_NONBLOCK: a FIFO (or device) planted at the path must not block the open; fstat then refuses
  // it at once. It changes nothing for a regular file.
  return (access == SegmentAccess::observe ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
}

// Opens `path` itself (never through a symlink) and checks it before anything is mapped.
UniqueFd open_checked(const std::filesystem::path& path, SegmentAccess access, std::optional<gid_t> group,
                      struct stat& status) {
  if (auto problem = check_segment_file_name(path)) throw *problem;
  UniqueFd fd(::open(path.c_str(), open_flags(access)));
  if (!fd) {
    const int err = errno;
    if (err == ELOOP) throw symbolic_link_error(path, quoted(path));
    if (err == EISDIR) throw Error(Errc::invalid_segment, quoted(path) + " is a directory, not a segment file", err);
    throw_system_error(err, "open " + quoted(path));
  }
  if (::fstat(fd.get(), &status) != 0) throw_system_error(errno, "fstat " + quoted(path));
  if (auto problem = check_file_status(status, path, group)) throw *problem;
  return fd;
}

}  // namespace

Segment Segment::open(const std::filesystem::path& path, SegmentAccess access, std::optional<gid_t> group) {
  struct stat status {};
  UniqueFd fd = open_checked(path, access, group, status);

  std::array<std::byte, kHeaderSize> header{};
  const ssize_t got = ::pread(fd.get(), header.data(), header.size(), 0);
  if (got < 0) throw_system_error(errno, "read header of " + quoted(path));
  const auto file_size = static_cast<std::uint64_t>(status.st_size);
  if (auto problem = check_header(std::span(header.data(), static_cast<std::size_t>(got)), file_size)) {
    throw Error(problem->code(), quoted(path) + ": " + problem->what());
  }

  auto mapping = std::make_unique<Mapping>();
  mapping->path = path;
  mapping->access = access;
  mapping->device = status.st_dev;
  mapping->inode = status.st_ino;
  mapping->segment_bytes = field<std::uint64_t>(header, offsetof(SegmentHeader, segment_bytes));
  mapping->slot_count = field<std::uint32_t>(header, offsetof(SegmentHeader, slot_count));
  mapping->state_offset = field<std::uint32_t>(header, offsetof(SegmentHeader, state_offset));
  mapping->slots_offset = field<std::uint32_t>(header, offsetof(SegmentHeader, slots_offset));
  const std::size_t slots_size = std::size_t{mapping->slot_count} * kSlotBytes;

  // The publisher writes every page; a segment made sparse (by an older build) gets its blocks now
  // rather than a SIGBUS later. The size was checked above against the header.
  if (access == SegmentAccess::publish) reserve_blocks(fd.get(), mapping->segment_bytes, path);
  const int head_protection = access == SegmentAccess::publish ? PROT_READ | PROT_WRITE : PROT_READ;
  const int slot_protection = access == SegmentAccess::observe ? PROT_READ : PROT_READ | PROT_WRITE;
  try {
    mapping->head = GuardedMapping(fd.get(), 0, mapping->slots_offset, head_protection);
    mapping->slots = GuardedMapping(fd.get(), mapping->slots_offset, slots_size, slot_protection);
  } catch (const Error& e) {
    throw Error(e.code(), "map " + quoted(path) + ": " + e.what(), e.sys_errno());
  }
  mapping->fd = std::move(fd);
  return Segment(std::move(mapping));
}

Segment Segment::create(const std::filesystem::path& path, const SegmentCreateOptions& options) {
  SNAPBUS_REQUIRE(options.slot_count >= 1 && options.slot_count <= kMaxSlotCount,
                  "slot count must be from 1 to " + std::to_string(kMaxSlotCount));
  if (auto problem = check_segment_file_name(path)) throw *problem;
  std::uint64_t nonce = 0;
  if (::getrandom(&nonce, sizeof nonce, 0) != sizeof nonce) throw_system_error(errno, "getrandom");
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, ".tmp.%d.%016llx", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(nonce));
  const std::filesystem::path temp = path.string() + suffix;

  const mode_t mode = options.group ? 0660 : 0600;
  const UniqueFd fd(::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) throw_system_error(errno, "create " + quoted(temp));
  struct Unlinker {
    const std::filesystem::path& file;
    bool armed = true;
    ~Unlinker() {
      if (armed) ::unlink(file.c_str());
    }
  } unlink_on_failure{temp};

  // The umask may have cleared bits of `mode`; set them exactly, then the group.
  if (options.group && ::fchown(fd.get(), static_cast<uid_t>(-1), *options.group) != 0) {
    throw_system_error(errno, "chown " + quoted(temp) + " to group " + std::to_string(*options.group));
  }
  if (::fchmod(fd.get(), mode) != 0) throw_system_error(errno, "chmod " + quoted(temp));

  const std::uint32_t state_offset = static_cast<std::uint32_t>(kHeaderSize);
  const std::uint32_t slots_offset = kPageBytes;
  const std::uint64_t total = std::uint64_t{slots_offset} + std::uint64_t{options.slot_count} * kSlotBytes;
  // Every block now, or a clear error before anything is written: no page of a segment can raise
  // SIGBUS for want of space later, in the publisher or in any subscriber.
  reserve_blocks(fd.get(), total, path);

  {
    // Map the temporary file, fill the header with the magic last, then let go before the rename.
    GuardedMapping region(fd.get(), 0, kPageBytes, PROT_READ | PROT_WRITE);
    auto* header = static_cast<SegmentHeader*>(region.address());
    header->layout_version = kLayoutVersion;
    header->header_bytes = static_cast<std::uint32_t>(kHeaderSize);
    header->state_offset = state_offset;
    header->state_bytes = sizeof(StateRecord);
    header->slots_offset = slots_offset;
    header->slot_bytes = kSlotBytes;
    header->slot_count = options.slot_count;
    header->segment_bytes = total;
    header->created_wall_ns = clock_ns(CLOCK_REALTIME);
    // Release: a reader that sees the magic sees every field above.
    header->magic.store(kMagic, std::memory_order_release);
    if (region.broken()) throw Error(Errc::system, quoted(temp) + " could not be written (SIGBUS)");
  }
  // Atomic replacement: the path names either the old file or the finished new one, never a
  // half-made segment.
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    throw_system_error(errno, "rename " + quoted(temp) + " to " + path.string());
  }
  unlink_on_failure.armed = false;
  return open(path, SegmentAccess::publish, options.group);
}

Segment::Segment(std::unique_ptr<Mapping> mapping) : mapping_(std::move(mapping)) {}
Segment::Segment(Segment&&) noexcept = default;
Segment& Segment::operator=(Segment&&) noexcept = default;
Segment::~Segment() = default;

const std::filesystem::path& Segment::path() const noexcept { return mapping_->path; }
SegmentAccess Segment::access() const noexcept { return mapping_->access; }
std::uint32_t Segment::slot_count() const noexcept { return mapping_->slot_count; }
dev_t Segment::device() const noexcept { return mapping_->device; }
ino_t Segment::inode() const noexcept { return mapping_->inode; }
int Segment::descriptor() const noexcept { return mapping_->fd.get(); }

void Segment::reopen_descriptor() {
  // /proc/self/fd/N opens the very file behind N (even unlinked) as a new open file description.
  const std::string self_link = "/proc/self/fd/" + std::to_string(mapping_->fd.get());
  // The link is followed on purpose here (no O_NOFOLLOW): it is the kernel's own name for our file.
  UniqueFd fd(::open(self_link.c_str(), open_flags(mapping_->access) & ~O_NOFOLLOW));
  if (!fd) throw_system_error(errno, "reopen " + quoted(mapping_->path));
  // The views too: a mapping keeps the description it was made through alive, and so the locks
  // taken through it (the old owner's slot lock) for as long as the mapping lives.
  mapping_->head.rebind(fd.get());
  mapping_->slots.rebind(fd.get());
  mapping_->fd = std::move(fd);
}

void Segment::forget_file() noexcept {
  mapping_->head.forget_file();
  mapping_->slots.forget_file();
  mapping_->fd.reset();
}

std::optional<Error> Segment::damage() const {
  struct stat status {};
  if (::fstat(mapping_->fd.get(), &status) != 0) return Error(Errc::system, "fstat " + quoted(mapping_->path), errno);
  if (static_cast<std::uint64_t>(status.st_size) < mapping_->segment_bytes) {
    // Zero pages over both views before anything touches a page past the new end of the file.
    mapping_->head.abandon();
    mapping_->slots.abandon();
    return Error(Errc::invalid_segment, quoted(mapping_->path) + " was truncated to " + std::to_string(status.st_size) +
                                            " bytes under this process (" + std::to_string(mapping_->segment_bytes) +
                                            " expected)");
  }
  if (mapping_->head.broken() || mapping_->slots.broken()) {
    return Error(Errc::invalid_segment, quoted(mapping_->path) +
                                            " could not be read or written (SIGBUS: a block of this sparse "
                                            "file could not be allocated; is its filesystem full?)");
  }
  return std::nullopt;
}

const SegmentHeader& Segment::header() const noexcept {
  return *reinterpret_cast<const SegmentHeader*>(mapping_->head_base());
}

const StateRecord& Segment::state() const noexcept {
  return *reinterpret_cast<const StateRecord*>(mapping_->head_base() + mapping_->state_offset);
}

const SlotRecord& Segment::slot(std::uint32_t index) const {
  SNAPBUS_REQUIRE(index < mapping_->slot_count, "slot index " + std::to_string(index) + " out of range");
  return reinterpret_cast<const SlotRecord*>(mapping_->slot_base())[index];
}

SegmentHeader& Segment::mutable_header() {
  SNAPBUS_REQUIRE(mapping_->access == SegmentAccess::publish, "only the publisher writes the header");
  return *reinterpret_cast<SegmentHeader*>(mapping_->head_base());
}

StateRecord& Segment::mutable_state() {
  SNAPBUS_REQUIRE(mapping_->access == SegmentAccess::publish, "only the publisher writes the state");
  return *reinterpret_cast<StateRecord*>(mapping_->head_base() + mapping_->state_offset);
}

SlotRecord& Segment::mutable_slot(std::uint32_t index) {
  SNAPBUS_REQUIRE(mapping_->access != SegmentAccess::observe, "an observer writes no slot");
  SNAPBUS_REQUIRE(index < mapping_->slot_count, "slot index " + std::to_string(index) + " out of range");
  return reinterpret_cast<SlotRecord*>(mapping_->slot_base())[index];
}

bool wait_until_segment_exists(const std::filesystem::path& path, FutexDeadline deadline) {
  const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
  const UniqueFd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (inotify.get() < 0) throw_system_error(errno, "inotify_init1");
  // Watch first, then look: a segment created between the two is still seen.
  // IN_ONLYDIR: a regular file in the directory's place is ENOTDIR here, not a wait for ever.
  if (::inotify_add_watch(inotify.get(), directory.c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
    throw_system_error(errno, "watch directory " + directory.string());
  }
  for (;;) {
    struct stat status {};
    if (::lstat(path.c_str(), &status) == 0) return true;
    int timeout_ms = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - FutexClock::now()).count();
      if (left <= 0) return false;
      timeout_ms = left > 60'000 ? 60'000 : static_cast<int>(left);
    }
    pollfd pfd{inotify.get(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) throw_system_error(errno, "poll inotify");
    if (ready > 0) {
      // Drain the events; whichever file they name, the lstat above decides.
      alignas(inotify_event) char buffer[4096];
      while (::read(inotify.get(), buffer, sizeof buffer) > 0) {
      }
    }
  }
}

}  // namespace snapbus
