#include "snapbus/subscriber.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>

#include "clock.h"
#include "segment_monitor.h"
#include "snapbus/publisher.h"

namespace snapbus {
namespace {

std::string process_comm() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// Whether `ack` says nothing the slot does not already hold: no hook ran or failed, no message, no
// generation handled beyond the slot's, and the slot holds an earlier ack's outcome (a slot just
// claimed holds none, and its first ack says ok).
// A note_running_hook() line: every ack replaces it, or it would name a hook long finished, and the
// publisher would take a later death of this process for a death inside that hook.
bool holds_running_hook_note(const SlotRecord& slot) {
  return load_text(slot.message, std::size(slot.message)).starts_with(kRunningHookPrefix);
}

bool reports_nothing(const Acknowledgement& ack, const SlotRecord& slot) {
  return ack.outcome == AckOutcome::ok && ack.hooks_run == 0 && ack.hooks_failed == 0 && ack.message.empty() &&
         ack.handled_generation == slot.handled_generation.load(std::memory_order_relaxed) &&
         slot.outcome.load(std::memory_order_relaxed) != static_cast<std::uint16_t>(AckOutcome::none) &&
         !holds_running_hook_note(slot);
}

// Whether change `seq` is to a phase that runs no hooks. Known only while it is the current change
// and the state reads whole at the first try: otherwise the answer is no, and the ack is written
// whole, as any other.
bool acks_quiet_phase(const StateRecord& state, std::uint32_t seq) {
  const std::optional<StateSnapshot> now = try_read_state(state);
  return now && now->seq == seq && !runs_hooks(now->phase);
}

}  // namespace

struct Subscriber::Impl {
  Segment segment;
  ProcessIdentity self;
  SubscriberOptions options;
  StateSnapshot joined;
  std::uint64_t baseline_generation = 0;
  std::uint32_t slot = 0;
  std::string notice;
  // Set once, by the monitor thread, when the path no longer names this segment or the segment
  // was truncated: kFine -> kRecording (the reason is written) -> kLost (released). No mutex: a
  // fork while the monitor held one would leave it locked in the child for ever.
  static constexpr int kFine = 0;
  static constexpr int kRecording = 1;
  static constexpr int kLost = 2;
  std::atomic<int> lost{kFine};
  std::string lost_reason;
  std::unique_ptr<SegmentMonitor> monitor;

  Impl(Segment s, ProcessIdentity who, SubscriberOptions o, StateSnapshot j, std::uint64_t baseline)
      : segment(std::move(s)), self(who), options(std::move(o)), joined(j), baseline_generation(baseline) {}

  bool is_lost() const noexcept { return lost.load(std::memory_order_acquire) == kLost; }

  // Called by the monitor thread on every event that names our file, and by a wait that found
  // the word unmapped.
  void look_at_path() noexcept {
    if (lost.load(std::memory_order_acquire) != kFine) return;
    std::string reason;
    struct stat status {};
    const std::string path = segment.path().string();
    if (::lstat(segment.path().c_str(), &status) != 0) {
      reason = "segment " + path + " was deleted";
    } else if (status.st_dev != segment.device() || status.st_ino != segment.inode()) {
      reason = "segment " + path + " was replaced by another file";
    } else {
      try {
        if (auto damage = segment.damage()) reason = damage->what();
      } catch (...) {
        reason = "segment " + path + " cannot be checked any more";
      }
    }
    if (reason.empty()) return;
    int expected = kFine;
    if (!lost.compare_exchange_strong(expected, kRecording, std::memory_order_acq_rel)) return;
    lost_reason = std::move(reason);
    lost.store(kLost, std::memory_order_release);
    // Wake this process's waiter (and, harmlessly, any other on the old file) so it re-attaches.
    // A truncated segment's word is no longer the file's: then the waiter's slice bounds the wait.
    try {
      futex_wake_all(&segment.state().seq);
    } catch (const Error&) {
    }
  }
};

namespace {

// A forked child that never claimed its own slot still carries its parent's identity; it must not
// free the parent's slot on its way out.
void release_own_slot(Subscriber::Impl& impl) noexcept {
  if (impl.self.pid == ::getpid()) release_slot(impl.segment, impl.slot, impl.self);
}

}  // namespace

Subscriber Subscriber::open(const std::filesystem::path& path, const SubscriberOptions& options) {
  // The first look comes before the state is read, so the baseline is never above it.
  static_cast<void>(first_look(path, options.group));
  Segment segment = Segment::open(path, SegmentAccess::subscribe, options.group);
  if (auto damage = segment.damage()) throw *damage;
  const StateSnapshot now = read_state(segment.state());
  const std::uint64_t baseline = catch_up_baseline(path, identity_of(segment), options.handled, options.group);
  auto impl = std::make_unique<Impl>(std::move(segment), current_process(), options, now, baseline);
  if (impl->options.name.empty()) impl->options.name = process_comm();
  // The monitor first: claiming the slot is the last step, so a publisher that sees the slot
  // sees a subscriber that is fully there.
  Impl* raw = impl.get();
  try {
    impl->monitor = std::make_unique<SegmentMonitor>(path, [raw] { raw->look_at_path(); });
  } catch (const Error& error) {
    // Out of inotify instances (a per-user limit): the bus still works; only a deleted or
    // replaced segment goes unnoticed until the client next looks.
    impl->notice = std::string("cannot watch for the segment being replaced: ") + error.what();
  }
  // With restores to catch up on, the slot starts one seq behind, so a publisher waiting for the
  // current seq waits for this process's hooks too.
  const std::uint32_t acked = baseline < now.generation ? now.seq - 1 : now.seq;
  impl->slot = claim_slot(impl->segment, impl->self, {impl->options.name, impl->options.wait_for_ack},
                          {.acked_seq = acked, .handled_generation = baseline});
  // Writing the slot is the first write to its page: on a sparse file on a full filesystem that
  // write faulted (caught; see GuardedMapping) and the segment is useless.
  if (auto damage = impl->segment.damage()) {
    impl->monitor.reset();
    release_own_slot(*impl);
    throw *damage;
  }
  return Subscriber(std::move(impl));
}

Subscriber::Subscriber(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), generation_(&impl_->segment.state().generation), seq_(&impl_->segment.state().seq) {}

Subscriber::Subscriber(Subscriber&&) noexcept = default;
Subscriber& Subscriber::operator=(Subscriber&& other) noexcept {
  if (this != &other) {
    if (impl_) {
      impl_->monitor.reset();
      release_own_slot(*impl_);
    }
    impl_ = std::move(other.impl_);
    generation_ = other.generation_;
    seq_ = other.seq_;
  }
  return *this;
}

Subscriber::~Subscriber() {
  if (impl_) {
    impl_->monitor.reset();  // its thread calls into impl_: stop it first
    release_own_slot(*impl_);
  }
}

void Subscriber::retire() noexcept {
  impl_->monitor.reset();
  release_own_slot(*impl_);
  impl_->segment.forget_file();
}

StateSnapshot Subscriber::state() const { return read_state(impl_->segment.state()); }
const StateSnapshot& Subscriber::joined_state() const noexcept { return impl_->joined; }
std::uint64_t Subscriber::baseline_generation() const noexcept { return impl_->baseline_generation; }
SegmentIdentity Subscriber::identity() const { return identity_of(impl_->segment); }
std::uint32_t Subscriber::slot_index() const noexcept { return impl_->slot; }
const Segment& Subscriber::segment() const noexcept { return impl_->segment; }

std::optional<std::string> Subscriber::lost() const {
  if (!impl_->is_lost()) return std::nullopt;
  return impl_->lost_reason;
}

const char* Subscriber::lost_reason_text() const noexcept {
  return impl_->is_lost() ? impl_->lost_reason.c_str() : nullptr;
}

FutexResult Subscriber::wait_for_change(std::uint32_t seen_seq, FutexDeadline deadline, WakeOn wake_on) const {
  if (impl_->is_lost()) return FutexResult::interrupted;
  // A file truncated a moment ago, before the monitor thread looked, is found here instead: the
  // segment is lost, as the monitor would have found.
  auto lost_now = [this] {
    impl_->look_at_path();
    return impl_->lost.load(std::memory_order_acquire) != Impl::kFine;
  };
  const FutexMask mask = wake_on == WakeOn::hook_phases ? kWakeHookPhasesOnly : kFutexEveryWake;
  FutexResult result = FutexResult::timed_out;
  try {
    // In slices: a file truncated under the wait has its pages replaced by zero pages (the SIGBUS
    // guard), so the monitor's wake reaches that new page, never the file's word this thread
    // sleeps on. A slice later, the wait sees the loss itself (one lstat and fstat a second).
    for (;;) {
      const WaitSlice slice = next_wait_slice(deadline, kLossCheckSlice);
      result = futex_wait(seq_, seen_seq, slice.until, mask);
      if (result != FutexResult::timed_out || slice.last) break;
      if (impl_->is_lost() || lost_now()) return FutexResult::interrupted;
    }
  } catch (const Error&) {
    // EFAULT: the word's page now lies past the end of the file.
    if (lost_now()) return FutexResult::interrupted;
    throw;
  }
  // Zeros where seq was: the file now ends inside the word's page, which stays mapped. (A seq that
  // is really 0 again comes only after 2^31 changes.)
  if (result != FutexResult::timed_out && seq_->load(std::memory_order_relaxed) == 0 && lost_now()) {
    return FutexResult::interrupted;
  }
  return result;
}

void Subscriber::wake_waiters() const {
  if (!impl_->is_lost()) futex_wake_all(seq_);
}

std::optional<std::string> Subscriber::acknowledge(const Acknowledgement& ack) {
  std::optional<std::string> notice;
  if (impl_->self.pid != ::getpid()) {
    claim_after_fork();
    notice = "pid " + std::to_string(::getpid()) + " was forked and had no slot of its own: claimed slot " +
             std::to_string(impl_->slot);
  } else if (impl_->segment.slot(impl_->slot).pid.load(std::memory_order_acquire) !=
             static_cast<std::uint32_t>(impl_->self.pid)) {
    // A slot that reads as zeros may be a truncated file under the zero pages the SIGBUS guard put
    // there, not a freed slot: that is an error to report, never a slot to claim again.
    if (auto damage = impl_->segment.damage()) throw *damage;
    // Our slot was freed while we live: the lock was lost (a checkpoint/restore tool that did not
    // restore file locks) or someone cleared the slot. Claim one again, as having handled what
    // this ack says, and carry on.
    const std::uint32_t old_slot = impl_->slot;
    impl_->slot = claim_slot(impl_->segment, impl_->self, {impl_->options.name, impl_->options.wait_for_ack},
                             {.acked_seq = ack.seq - 1, .handled_generation = ack.handled_generation});
    notice = "slot " + std::to_string(old_slot) + " of " + impl_->segment.path().string() + " was freed while pid " +
             std::to_string(impl_->self.pid) +
             " was alive (its slot lock was lost, e.g. a restore without file locks): claimed slot " +
             std::to_string(impl_->slot) + " again";
  }
  SlotRecord& slot = impl_->segment.mutable_slot(impl_->slot);
  constexpr auto relaxed = std::memory_order_relaxed;
  // An ack older than the slot's last one (a thread whose hooks ended after a newer change was
  // acknowledged): the newer ack already counts for every change up to it. Written, it would move
  // acked_seq back, and a publisher waiting for the newer change would wait for this process again.
  if (const std::uint32_t acked = slot.acked_seq.load(relaxed); static_cast<std::int32_t>(ack.seq - acked) < 0) {
    std::string dropped = "the ack for seq " + std::to_string(ack.seq) + " came after this slot's ack for seq " +
                          std::to_string(acked) + " and was dropped";
    notice = notice ? *notice + "; " + dropped : std::move(dropped);
    impl_->notice = *notice;
    return notice;
  }
  const bool keeps_hook_record = reports_nothing(ack, slot) && acks_quiet_phase(impl_->segment.state(), ack.seq);
  {
    const SlotRecordWrite write(slot);
    slot.handled_generation.store(ack.handled_generation, relaxed);
    slot.ack_wall_ns.store(clock_ns(CLOCK_REALTIME), relaxed);
    if (!keeps_hook_record) {
      slot.outcome.store(static_cast<std::uint16_t>(ack.outcome), relaxed);
      slot.hooks_run.store(ack.hooks_run, relaxed);
      slot.hooks_failed.store(ack.hooks_failed, relaxed);
      store_text(slot.message, std::size(slot.message), ack.message);
    }
    // Release: a reader that acquires acked_seq alone (the futex word) sees the fields above too.
    slot.acked_seq.store(ack.seq, std::memory_order_release);
  }
  futex_wake_all(&slot.acked_seq);
  impl_->notice = notice.value_or("");
  return notice;
}

const std::string& Subscriber::last_notice() const noexcept { return impl_->notice; }

void Subscriber::note_running_hook(std::string_view phase, std::string_view hook) {
  if (impl_->self.pid != ::getpid()) return;
  SlotRecord& slot = impl_->segment.mutable_slot(impl_->slot);
  if (slot.pid.load(std::memory_order_acquire) != static_cast<std::uint32_t>(impl_->self.pid)) return;
  std::string text(kRunningHookPrefix);
  text.append(phase).append(" hook '").append(hook).append("'");
  const SlotRecordWrite write(slot);
  store_text(slot.message, std::size(slot.message), text);
}

void Subscriber::claim_after_fork() {
  if (impl_->self.pid == ::getpid()) return;
  const SlotRecord& parent = impl_->segment.slot(impl_->slot);
  claim_child_slot({.acked_seq = parent.acked_seq.load(std::memory_order_acquire),
                    .handled_generation = parent.handled_generation.load(std::memory_order_relaxed)});
}

void Subscriber::claim_after_fork_within_change(std::uint32_t seq, std::uint64_t handled_generation) {
  if (impl_->self.pid == ::getpid()) return;
  claim_child_slot({.acked_seq = seq, .handled_generation = handled_generation, .outcome = AckOutcome::ok});
}

void Subscriber::claim_child_slot(const SlotBaseline& baseline) {
  // Our own open file description: the inherited one is the parent's, and so is its slot lock
  // (closing our copy leaves the parent's lock alone; the parent still holds the description).
  impl_->segment.reopen_descriptor();
  // Into locals first: if the claim fails (a full table), the next call must try again.
  const ProcessIdentity child = current_process();
  impl_->slot = claim_slot(impl_->segment, child, {impl_->options.name, impl_->options.wait_for_ack}, baseline);
  impl_->self = child;
  if (impl_->monitor) {
    try {
      impl_->monitor->restart();
    } catch (const std::exception& error) {
      // An Error, or std::system_error from a thread that cannot be started (a process or thread
      // limit): this runs in a fork handler, which nothing may leave by an exception.
      impl_->monitor.reset();
      impl_->notice = std::string("cannot watch for the segment being replaced: ") + error.what();
    }
  }
}

bool Subscriber::publisher_alive() const { return publisher_lock_holder(impl_->segment.path()).has_value(); }

}  // namespace snapbus
