// Which restores a process still owes its after-restore hooks, however late it attaches.
//
//   snapbus::first_look(path);                       // at process start: pins what "before" means
//   ...
//   std::uint64_t baseline = snapbus::catch_up_baseline(path, attached_identity, handled);
//   // hooks are due when the segment's generation is above `baseline`
//
// The rule (docs/client-semantics.md): a process runs its after-restore hooks for a restore if and
// only if it existed before that restore was published and has not handled it yet. A process
// cannot read its own birth from the segment, so it records its first look instead: the segment
// it found at the path (identity and generation), or that there was none. A first look after a
// restore that followed a snapshot, from a process that started before that restore was published
// (and did not handle it in a program it has since exec'd away from), records the generation before
// it: the process was in the snapshot and loaded the client late. When it later attaches:
//   - to the segment it last handled: everything up to the generation it handled is done;
//   - to the segment of its first look: restores up to the generation it saw then are older than
//     the process (or at least than its interest), the rest are due;
//   - to any other segment: that file was created after the first look (deleted and made again,
//     replaced for a new layout), so every restore published in it came after: all are due.
// A file is identified by device, inode and creation time (an inode number alone is reused).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>

namespace snapbus {

class Segment;

struct SegmentIdentity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t created_wall_ns = 0;
  bool operator==(const SegmentIdentity&) const = default;
};

SegmentIdentity identity_of(const Segment& segment);

// What a process has handled, and in which segment.
struct HandledRestores {
  SegmentIdentity segment;
  std::uint64_t generation = 0;
};

struct SegmentLook {
  SegmentIdentity segment;
  std::uint64_t generation = 0;
};

// The process's first look at `path`: taken (a read-only open, no slot) on the first call for that
// path, then remembered for the process's life, forked children included. nullopt: there was no
// usable segment then. Never throws: a segment it cannot read counts as none.
// `group`: as for Segment::open (SNAPBUS_SEGMENT_GROUP).
std::optional<SegmentLook> first_look(const std::filesystem::path& path, std::optional<gid_t> group = std::nullopt);

// The generation whose after-restore hooks count as run, for a process attaching to `attached` at
// `path`: hooks are due when the segment's generation is above it. `handled`: what the process
// handled last (nullopt: nothing yet). Take the first look before reading the attached segment's
// state, so the baseline is never above it.
std::uint64_t catch_up_baseline(const std::filesystem::path& path, const SegmentIdentity& attached,
                                const std::optional<HandledRestores>& handled,
                                std::optional<gid_t> group = std::nullopt);

}  // namespace snapbus
