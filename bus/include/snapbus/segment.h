// A mapped, validated segment file: [SegmentHeader | StateRecord | ... | slot table].
//
//   auto segment = snapbus::Segment::open("/tmp/snapbus.seg", snapbus::SegmentAccess::subscribe);
//   std::uint64_t gen = segment.state().generation.load(std::memory_order_acquire);
//
//   // no segment yet? block (inotify, no polling) until a publisher creates it:
//   if (snapbus::wait_until_segment_exists(path, deadline)) { ... }
//
// The file is a regular file mapped MAP_SHARED, never /dev/shm (Lambda has none). Opening never
// blocks (O_NONBLOCK: a FIFO at the path is refused at once) and refuses anything that is not a
// snapbus segment of this layout, owned by us and closed to others: a symlink, a directory, a
// FIFO, another user's file, a mode open to others, a truncated file, a foreign magic, another
// layout version, or offsets outside the file. Each is an Error with a sentence naming the path
// and the problem. The size is checked (fstat) before any page is touched, creation reserves
// every block (a full filesystem is an error, not a later SIGBUS), and a file truncated under a
// live mapping reads as zeros instead of killing the process (see damage()).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>

#include "snapbus/error.h"
#include "snapbus/futex.h"
#include "snapbus/layout.h"

namespace snapbus {

enum class SegmentAccess {
  observe,    // everything read-only: status and watch
  subscribe,  // header and state read-only (a subscriber can never fake a phase), slots read-write
  publish,    // everything read-write
};

struct SegmentCreateOptions {
  std::uint32_t slot_count = kDefaultSlotCount;
  std::optional<gid_t> group;  // also readable and writable by this group (mode 0660)
};

// Checks a header against the size of the file it came from: magic, version, and that every
// offset and size lies inside the file and matches this build's records. `header_bytes` may be
// shorter than a header (a truncated file). Returns the problem, or nullopt when the header is
// good. Pure and allocation-light: the fuzz target drives it with arbitrary bytes.
std::optional<Error> check_header(std::span<const std::byte> header_bytes, std::uint64_t file_size);

// Checks what fstat says of an opened segment file: a regular file, ours, not open to others
// (group bits allowed only when `group` is that file's group).
std::optional<Error> check_file_status(const struct stat& status, const std::filesystem::path& path,
                                       std::optional<gid_t> group);

// The longest segment file name that leaves room for what snapbus creates beside it, within the
// 255 bytes a name may have (NAME_MAX): "<name>.lock" and "<name>.tmp.<pid>.<16 hex digits>".
inline constexpr std::size_t kMaxSegmentFileName = 255 - (sizeof(".tmp.4194304.") - 1) - 16;

// Refuses a path whose file name is empty or longer than kMaxSegmentFileName, before anything is
// created: a longer one would fail half-way, with a name the user never gave in the message.
std::optional<Error> check_segment_file_name(const std::filesystem::path& path);

// For a reader that finds no segment at `path`: the error when its directory does not exist either
// (not_found), or is a file (system, ENOTDIR). A publisher creates the file, never its directory,
// so none will ever appear there.
std::optional<Error> check_segment_directory(const std::filesystem::path& path);

// The error for an open of `path` (described as `what`) that failed with ELOOP: the file itself is
// a symbolic link, which snapbus refuses to follow, or a directory on the way to it loops.
Error symbolic_link_error(const std::filesystem::path& path, const std::string& what);

class Segment {
 public:
  // Maps an existing segment. Errc::not_found when there is none.
  static Segment open(const std::filesystem::path& path, SegmentAccess access,
                      std::optional<gid_t> group = std::nullopt);

  // Builds a fresh segment in a private temporary file beside `path` and renames it into place, so
  // no process can ever map a half-made one. Replaces whatever was at `path`. Publisher only: the
  // caller holds the publisher lock.
  static Segment create(const std::filesystem::path& path, const SegmentCreateOptions& options);

  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;
  ~Segment();

  const std::filesystem::path& path() const noexcept;
  SegmentAccess access() const noexcept;
  std::uint32_t slot_count() const noexcept;
  // Device and inode of the mapped file: a different pair at path() means it was replaced.
  dev_t device() const noexcept;
  ino_t inode() const noexcept;
  // The open file description the mapping was made from, kept open (O_CLOEXEC) while mapped:
  // subscribers hold their slot locks on it (slot_table.h).
  int descriptor() const noexcept;
  // Replaces descriptor() with a new open file description of the same file, and maps the views
  // again through it: a forked child shares its parent's description (through the descriptor and
  // through the mappings), and with it the parent's slot lock, until it calls this.
  void reopen_descriptor();
  // Lets go of the file, for a holder that has left the segment while another of its threads may
  // still read a word of it: the views become private zero pages (GuardedMapping::forget_file) and
  // descriptor() is closed. Only the views may be read afterwards.
  void forget_file() noexcept;
  // Why this mapping can no longer be trusted: an access faulted (SIGBUS caught: the file shrank
  // or a block could not be allocated), or fstat shows the file shorter than the segment. Then
  // both views are already private zero pages, so reading them is safe but meaningless: detach.
  // nullopt while the segment is whole. One fstat.
  std::optional<Error> damage() const;

  const SegmentHeader& header() const noexcept;
  const StateRecord& state() const noexcept;
  const SlotRecord& slot(std::uint32_t index) const;

  // Writable views; each throws Error(invalid_argument) when the access mode does not allow it.
  SegmentHeader& mutable_header();
  StateRecord& mutable_state();
  SlotRecord& mutable_slot(std::uint32_t index);

 private:
  struct Mapping;
  explicit Segment(std::unique_ptr<Mapping> mapping);
  std::unique_ptr<Mapping> mapping_;
};

// Blocks until a file exists at `path` or the deadline passes; true if it exists. Uses inotify on
// the parent directory, so nothing polls. Errc::not_found if the directory itself is missing.
bool wait_until_segment_exists(const std::filesystem::path& path, FutexDeadline deadline);

}  // namespace snapbus
