// The publisher core: the single writer of the lifecycle state.
//
//   auto publisher = snapbus::Publisher::acquire({.path = "/tmp/snapbus.seg"});
//   snapbus::StateSnapshot now = publisher.transition(snapbus::Phase::after_restore);
//   snapbus::AckReport report =
//       publisher.wait_for_acks(now.seq, snapbus::FutexClock::now() + std::chrono::seconds(5));
//   if (!report.all_ok()) { /* restore/error, naming report.problems() */ }
//
// Exclusive by flock on "<path>.lock": the kernel drops it when the holder dies, so a new
// publisher takes a dead one's segment over in place (same inode), and subscribers that already
// mapped it carry on. A live holder makes acquire() fail with Errc::busy naming the pid that holds
// the lock (publisher_lock_holder), never a pid merely recorded in the segment.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "snapbus/futex.h"
#include "snapbus/layout.h"
#include "snapbus/segment.h"
#include "snapbus/seqlock.h"
#include "snapbus/slot_table.h"

namespace snapbus {

struct PublisherOptions {
  std::filesystem::path path;
  std::uint32_t slot_count = kDefaultSlotCount;  // used only when the segment is created
  std::optional<gid_t> group;
  InitType init_type = InitType::unknown;  // recorded when the segment is created
  TransitionSource source = TransitionSource::manual;
  // Start a new segment even when one is at the path (replacing it in one rename), instead of
  // taking it over with its generation, slots and init type. For an environment's first publisher,
  // the adapter at Init: Lambda gives each environment an empty /tmp, so a file there was left by
  // an earlier local run. Processes still attached to it move to the new one (they watch the path).
  bool fresh = false;
};

enum class AckStatus {
  acked,    // acked the seq with outcome ok
  failed,   // acked the seq with outcome failed; message says which hooks and why
  missing,  // alive, but did not ack before the deadline
  died,     // the process died after the change and before acking; its slot was reaped
  left,     // the process runs on without its slot lock (it exec'd another program after fork):
            // not a subscriber any more, so not a failure; its slot was reaped
  ended,    // the process ended after the change, before it started a hook (a pool worker done with
            // its last task): it ran none and serves nothing, so not a failure, as one gone before
            // the change is not; its slot was reaped
};
std::string ack_status_name(AckStatus status);

struct AckEntry {
  SlotInfo slot;
  AckStatus status = AckStatus::missing;
};

struct AckReport {
  std::uint32_t seq = 0;
  std::vector<AckEntry> entries;  // one per slot that was waited for
  // The wait ended early on AckWaitOptions::stop; the slots still pending then are listed as missing.
  bool stopped = false;

  bool all_ok() const noexcept;  // every entry acked or left
  // One line per entry that is not acked: "pid 123 (worker): failed: after_restore db: boom".
  std::vector<std::string> problems() const;
};

// What an unfinished wait_for_acks has seen so far, for a caller that shows progress ("still
// waiting for pid 12 (api)"). Settled entries stay listed even after their slot is freed (a
// subscriber that acked and exited, or died and was reaped).
struct AckProgress {
  std::uint32_t seq = 0;
  std::vector<AckEntry> settled;  // acked, failed, died or left so far, by slot index
  std::vector<SlotInfo> pending;  // still waited for
};
using AckProgressCallback = std::function<void(const AckProgress&)>;

// For a wait that a person watches: progress on the way, and a way to end it early.
struct AckWaitOptions {
  // When set, called every progress_interval (which must then be positive) while a slot is pending.
  std::chrono::milliseconds progress_interval{0};
  AckProgressCallback on_progress;
  // When set and it becomes true (a signal handler's flag, say), the wait ends within 20 ms and
  // reports what it has, as at the deadline: `snapbus publish` interrupted still says who acked.
  const std::atomic<bool>* stop = nullptr;
};

// The pid holding the publisher lock of the segment at `segment_path`, or nullopt when no
// process holds it (no publisher is running). Asks the kernel (F_OFD_GETLK on "<path>.lock"), so
// it holds across a checkpoint/restore that keeps locks, whatever /proc says of start times.
std::optional<pid_t> publisher_lock_holder(const std::filesystem::path& segment_path);

class Publisher {
 public:
  static Publisher acquire(const PublisherOptions& options);

  Publisher(Publisher&&) noexcept;
  Publisher& operator=(Publisher&&) noexcept;
  ~Publisher();  // releases the lock; the segment stays for the subscribers

  // True when acquire() took over an existing segment rather than creating one.
  bool took_over() const noexcept;
  // True when acquire() created a new segment in place of one at the path: one of another layout
  // version, or any one with PublisherOptions::fresh. A log can then say what became of it.
  bool replaced() const noexcept;
  const Segment& segment() const noexcept;
  StateSnapshot state() const;

  // Frees the slots of processes that are gone (their slot locks are free). transition() to a phase
  // that runs hooks calls it just after the wake, so a process that exited before the change is never
  // waited for or reported.
  std::vector<SlotInfo> reap_departed();

  // Moves to `phase` and wakes the waiters (every one, or for a quiet phase every one but the hook
  // runners: layout.h, wake_mask_for). Entering a phase that runs hooks also reaps the slots of
  // departed processes, once the subscribers are woken; one found to have died inside a hook is
  // reported as died by the wait for this change. Entering after_restore
  // increments the generation, draws a fresh 128-bit restore id (getrandom) and stamps the restore times; entering
  // before_snapshot stamps the snapshot times. Any phase may follow any other: the caller (CLI,
  // adapter) owns the order. Throws Error(invalid_segment) when the segment was truncated under this
  // publisher, or its path or its lock file's no longer names the file it holds (deleted, replaced).
  StateSnapshot transition(Phase phase);

  // Waits until every live slot that asked to be waited for has acked `seq`, a process dies, or
  // the deadline passes. Dead processes are reaped, never waited on; one that died after the
  // change without acking is reported as died, by name. Slots claimed during the wait (a process
  // that catches up on this change) are waited for too. Entries are in slot order. Throws as
  // transition() does, before reporting and while waiting, rather than report acks nobody gave.
  AckReport wait_for_acks(std::uint32_t seq, FutexClock::time_point deadline);
  // The same wait, with progress and an early end. One wait keeps every settled entry to the end, so
  // a caller showing progress needs no slices.
  AckReport wait_for_acks(std::uint32_t seq, FutexClock::time_point deadline, const AckWaitOptions& options);

 private:
  struct Impl;
  explicit Publisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace snapbus
