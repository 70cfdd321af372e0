// The subscriber core: one process's read-only view of the state plus the one slot it owns.
//
//   auto sub = snapbus::Subscriber::open("/tmp/snapbus.seg", {.name = "worker"});
//   std::uint64_t gen = sub.generation();          // one acquire load
//   std::uint32_t seen = sub.joined_state().seq;   // not seq(): a change may follow the claim at once
//   sub.wait_for_change(seen, deadline);            // woken, or the value had changed already, or timed out
//   snapbus::StateSnapshot now = sub.state();
//   if (now.seq != seen) {                          // whatever ended the wait, seq says if anything changed
//     ... run hooks ...
//     sub.acknowledge({.seq = now.seq, .handled_generation = now.generation,
//                      .outcome = snapbus::AckOutcome::ok});
//   }
//
// The state is mapped read-only: a subscriber can never fake a phase change. It writes only its
// own slot, and holds that slot's lock for as long as it lives (slot_table.h): the publisher's
// proof that it is alive. A background thread watches the segment's path (inotify): when the file
// is deleted, replaced or truncated, lost() says so and wait_for_change() returns at once, so a
// client can re-attach. This is the mechanism; hook registries and watcher threads live in the
// clients.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "snapbus/catch_up.h"
#include "snapbus/futex.h"
#include "snapbus/layout.h"
#include "snapbus/segment.h"
#include "snapbus/seqlock.h"
#include "snapbus/slot_table.h"

namespace snapbus {

// How long a wait_for_change() sleeps at most before it looks whether the segment was lost.
inline constexpr std::chrono::seconds kLossCheckSlice{1};

// Which changes end a wait_for_change(): every one, or only those to a phase that runs hooks.
enum class WakeOn { every_change, hook_phases };

struct SubscriberOptions {
  std::string name;          // shown by `snapbus status`; empty: the process's comm
  bool wait_for_ack = true;  // the publisher waits for this process's acks
  std::optional<gid_t> group;
  // What this process has handled so far (a client re-attaching); nullopt: nothing yet. Decides,
  // with the process's first look (catch_up.h), which restores are still due here.
  std::optional<HandledRestores> handled;
};

struct Acknowledgement {
  std::uint32_t seq = 0;                 // the state seq this ack is for
  std::uint64_t handled_generation = 0;  // generation whose after-restore hooks have run
  AckOutcome outcome = AckOutcome::ok;
  std::uint16_t hooks_run = 0;
  std::uint16_t hooks_failed = 0;
  std::string message;  // failed hooks and their errors; truncated to fit
};

class Subscriber {
 public:
  // Maps the segment and claims a slot. Errc::not_found if there is no segment (see
  // wait_until_segment_exists), Errc::no_free_slot if every slot is taken by a live process.
  // When restores are due (baseline_generation() below the generation), the slot is claimed as
  // not having acked the current seq, so a waiting publisher waits for this process to catch up.
  static Subscriber open(const std::filesystem::path& path, const SubscriberOptions& options);

  Subscriber(Subscriber&&) noexcept;
  Subscriber& operator=(Subscriber&&) noexcept;
  ~Subscriber();  // frees the slot if this process still owns it

  // The hot path: a single acquire load of the generation word.
  std::uint64_t generation() const noexcept { return generation_->load(std::memory_order_acquire); }
  std::uint32_t seq() const noexcept { return seq_->load(std::memory_order_acquire); }
  const std::atomic<std::uint64_t>* generation_word() const noexcept { return generation_; }
  const std::atomic<std::uint32_t>* seq_word() const noexcept { return seq_; }

  StateSnapshot state() const;
  // The state this process's slot was claimed at: a client's baseline. Changes after it show as a
  // seq other than joined_state().seq, so none can slip between joining and a client's first read.
  const StateSnapshot& joined_state() const noexcept;
  // The generation whose after-restore hooks count as run here (catch_up.h): they are due for
  // joined_state() when its generation is above this.
  std::uint64_t baseline_generation() const noexcept;
  SegmentIdentity identity() const;
  std::uint32_t slot_index() const noexcept;
  const Segment& segment() const noexcept;

  // Why this segment is no longer the one at the path (deleted, replaced, truncated); nullopt while
  // it is. Once set, it stays: detach, and attach to whatever the path names now.
  std::optional<std::string> lost() const;
  // The same as a C string (nullptr while not lost), valid until the Subscriber is destroyed.
  const char* lost_reason_text() const noexcept;

  // Sleeps while seq() == seen_seq, until the deadline or a signal. Spurious wakes are possible.
  // Returns (interrupted) once the segment is lost(): at once for a file deleted or replaced, within
  // kLossCheckSlice for one truncated under the wait. With WakeOn::hook_phases a change to
  // a quiet phase (running, ...) lets it sleep on: for a hook runner, which has nothing to do
  // there (layout.h, kWakeHookPhasesOnly).
  FutexResult wait_for_change(std::uint32_t seen_seq, FutexDeadline deadline,
                              WakeOn wake_on = WakeOn::every_change) const;
  // Wakes waiters on seq, in this process and others; they re-read and, seeing no change, sleep
  // again. Used to stop a watcher thread blocked in wait_for_change.
  void wake_waiters() const;

  // Writes the ack into this process's slot, then releases acked_seq and wakes the publisher.
  // A slot lost while this process lives (freed under it, or a fork that never claimed its own)
  // is claimed again first; the returned sentence says so, for the client to log. nullopt
  // otherwise.
  // An ack that has nothing to report (a quiet phase such as running, no hook run or failed, no
  // message, no new generation handled) leaves the slot's outcome, hook counts and message as an
  // earlier ack wrote them (a slot's first ack is written whole, and a note_running_hook() line is
  // always replaced): otherwise `snapbus status` after a restore would show the "hooks 0 run" of the
  // running ack clients send after the after-restore one.
  // An ack for a seq older than the slot's last ack is dropped, with a notice that says so: the
  // newer ack counts for it already.
  std::optional<std::string> acknowledge(const Acknowledgement& ack);
  // Before each hook: "running after-restore hook 'db'" in this process's slot message, so a
  // publisher that stops waiting can say which hook was still running (running_hook_of). The ack
  // replaces it. Does nothing in a forked child that has no slot of its own yet.
  void note_running_hook(std::string_view phase, std::string_view hook);
  // The notice of the last acknowledge() (or open()), "" if none.
  const std::string& last_notice() const noexcept;

  // In a forked child: open the segment file afresh (the inherited descriptor carries the
  // parent's slot lock) and claim a fresh slot for this process (the parent keeps its own).
  // Idempotent in the process that owns the slot.
  void claim_after_fork();
  // In a child forked by the hooks of the change at `seq` (a pool or helper a hook starts): as
  // claim_after_fork(), but the slot is born acknowledging that change (ok, no hooks run). The
  // child is a copy of a process in the middle of those hooks and may be ended before it could
  // acknowledge (a pool ends its workers): a claim and a separate ack would leave a moment in which
  // the publisher sees it as a subscriber that died before acknowledging.
  void claim_after_fork_within_change(std::uint32_t seq, std::uint64_t handled_generation);

  // For a client leaving this segment while another of its threads may still be reading
  // generation_word() or seq_word(): stops watching the path, frees this process's slot and lets go
  // of the file (Segment::forget_file), so those words stay readable (as zeros) and nothing else is
  // held. A client that kept every segment it lost would keep a thread, an inotify instance (a
  // per-user limit), descriptors and SIGBUS-guarded views (256 per process) for each. Afterwards
  // only the word accessors, lost(), slot_index() and wake_waiters() may be called.
  void retire() noexcept;

  // Whether a publisher holds the segment's publisher lock (publisher_lock_holder).
  bool publisher_alive() const;

  struct Impl;

 private:
  explicit Subscriber(std::unique_ptr<Impl> impl);
  void claim_child_slot(const SlotBaseline& baseline);
  std::unique_ptr<Impl> impl_;
  const std::atomic<std::uint64_t>* generation_ = nullptr;
  const std::atomic<std::uint32_t>* seq_ = nullptr;
};

}  // namespace snapbus
