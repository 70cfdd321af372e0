#include "snapbus/publisher.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "clock.h"

namespace snapbus {
namespace {

// The publisher lock: flock on "<segment>.lock", held for the publisher's lifetime. The kernel
// drops it when the process dies, however it dies, which is what makes take-over safe.
int lock_publisher_role(const std::filesystem::path& segment_path, std::optional<gid_t> group) {
  const std::filesystem::path lock_path = segment_path.string() + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, group ? 0660 : 0600);
  if (fd < 0) {
    if (errno == ELOOP) {
      throw Error(Errc::permission_denied, "lock file " + lock_path.string() + " is a symbolic link", ELOOP);
    }
    throw_system_error(errno, "open lock file " + lock_path.string());
  }
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    const int err = errno;
    ::close(fd);
    throw_system_error(err, "fstat " + lock_path.string());
  }
  // A new lock file gets the group and mode exactly (the umask may have cleared bits).
  if (group && status.st_uid == ::geteuid() && (::fchown(fd, static_cast<uid_t>(-1), *group) != 0 ||
                                                ::fchmod(fd, 0660) != 0 || ::fstat(fd, &status) != 0)) {
    const int err = errno;
    ::close(fd);
    throw_system_error(err, "give lock file " + lock_path.string() + " to group " + std::to_string(*group));
  }
  if (auto problem = check_file_status(status, lock_path, group)) {
    ::close(fd);
    throw Error(problem->code(), std::string("lock file: ") + problem->what());
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK) throw_system_error(err, "lock " + lock_path.string());
    std::string owner = "another process";
    try {
      const auto segment = Segment::open(segment_path, SegmentAccess::observe, group);
      owner = "pid " + std::to_string(segment.header().publisher_pid.load(std::memory_order_acquire));
    } catch (const Error&) {
      // The holder may not have created the segment yet; the generic name will do.
    }
    throw Error(Errc::busy, "segment " + segment_path.string() + " is owned by a live publisher (" + owner +
                                "); only one publisher may write it",
                err);
  }
  return fd;
}

// Opens the existing segment to take it over, or creates one. A segment of another layout version
// is replaced (its publisher is gone: we hold the lock); anything that is not a snapbus segment is
// left alone and refused, since it may be someone else's file.
Segment open_or_create(const PublisherOptions& options, bool& took_over) {
  try {
    Segment segment = Segment::open(options.path, SegmentAccess::publish, options.group);
    took_over = true;
    return segment;
  } catch (const Error& e) {
    if (e.code() != Errc::not_found && e.code() != Errc::version_mismatch) throw;
  }
  took_over = false;
  return Segment::create(options.path, {.slot_count = options.slot_count, .group = options.group});
}

}  // namespace

std::string ack_status_name(AckStatus status) {
  switch (status) {
    case AckStatus::acked: return "acked";
    case AckStatus::failed: return "failed";
    case AckStatus::missing: return "missing";
    case AckStatus::died: return "died";
    case AckStatus::left: return "left";
  }
  return "unknown";
}

bool AckReport::all_ok() const noexcept {
  return std::all_of(entries.begin(), entries.end(),
                     [](const AckEntry& e) { return e.status == AckStatus::acked || e.status == AckStatus::left; });
}

std::vector<std::string> AckReport::problems() const {
  std::vector<std::string> lines;
  for (const AckEntry& e : entries) {
    if (e.status == AckStatus::acked || e.status == AckStatus::left) continue;
    std::string line = "pid " + std::to_string(e.slot.owner.pid) + " (" + e.slot.name + "): " +
                       ack_status_name(e.status);
    if (e.status == AckStatus::failed && !e.slot.message.empty()) line += ": " + e.slot.message;
    if (e.status == AckStatus::missing) line += ": no acknowledgement before the deadline";
    if (e.status == AckStatus::died) line += " before acknowledging; slot reaped";
    lines.push_back(std::move(line));
  }
  return lines;
}

struct Publisher::Impl {
  int lock_fd = -1;
  Segment segment;
  bool took_over = false;
  TransitionSource source = TransitionSource::manual;
  std::uint32_t pid = 0;

  Impl(int fd, Segment s, bool over, TransitionSource src)
      : lock_fd(fd), segment(std::move(s)), took_over(over), source(src) {}
  ~Impl() {
    if (lock_fd >= 0) ::close(lock_fd);
  }
};

Publisher Publisher::acquire(const PublisherOptions& options) {
  SNAPBUS_REQUIRE(!options.path.empty(), "publisher needs a segment path");
  const int lock_fd = lock_publisher_role(options.path, options.group);
  std::unique_ptr<Impl> impl;
  try {
    bool took_over = false;
    Segment segment = open_or_create(options, took_over);
    impl = std::make_unique<Impl>(lock_fd, std::move(segment), took_over, options.source);
  } catch (...) {
    ::close(lock_fd);
    throw;
  }
  const ProcessIdentity self = current_process();
  SegmentHeader& header = impl->segment.mutable_header();
  header.publisher_start_time.store(self.start_time, std::memory_order_relaxed);
  header.publisher_pid.store(static_cast<std::uint32_t>(self.pid), std::memory_order_release);

  impl->pid = static_cast<std::uint32_t>(self.pid);

  StateRecord& state = impl->segment.mutable_state();
  // A predecessor that died mid-write left seq odd; finish its write and wake the readers it left
  // waiting. Its fields may be half-written: the next transition rewrites every one of them.
  const std::uint32_t seq_before = state.seq.load(std::memory_order_relaxed);
  if (repair_seq(state) != seq_before) futex_wake_all(&state.seq);
  if (!impl->took_over) {
    StateSnapshot now = read_state(state);
    now.publisher_pid = impl->pid;
    now.init_type = options.init_type;
    write_state(state, now);
    futex_wake_all(&state.seq);
  }
  // On take-over the state keeps the old publisher pid until the next transition: rewriting it now
  // would be a state change with no phase change, waking every subscriber for nothing. The header
  // names the live publisher at once.
  return Publisher(std::move(impl));
}

Publisher::Publisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Publisher::Publisher(Publisher&&) noexcept = default;
Publisher& Publisher::operator=(Publisher&&) noexcept = default;
Publisher::~Publisher() = default;

bool Publisher::took_over() const noexcept { return impl_->took_over; }
const Segment& Publisher::segment() const noexcept { return impl_->segment; }
StateSnapshot Publisher::state() const { return read_state(impl_->segment.state()); }

StateSnapshot Publisher::transition(Phase phase) {
  StateRecord& record = impl_->segment.mutable_state();
  StateSnapshot next = read_state(record);
  next.phase = phase;
  next.source = impl_->source;
  next.publisher_pid = impl_->pid;
  next.changed_wall_ns = clock_ns(CLOCK_REALTIME);
  if (phase == Phase::before_snapshot) {
    next.snapshot_wall_ns = next.changed_wall_ns;
    next.snapshot_mono_ns = clock_ns(CLOCK_MONOTONIC);
  }
  if (phase == Phase::after_restore) {
    std::uint64_t id[2] = {};
    // Every restored copy starts from the same memory, so the id must come from the kernel, whose RNG
    // is reseeded from the VM generation id on resume, never from a user-space generator.
    if (::getrandom(id, sizeof id, 0) != static_cast<ssize_t>(sizeof id)) throw_system_error(errno, "getrandom");
    next.generation += 1;
    next.restore_id_high = id[0];
    next.restore_id_low = id[1];
    next.restore_wall_ns = next.changed_wall_ns;
    next.restore_mono_ns = clock_ns(CLOCK_MONOTONIC);
  }
  next.seq = write_state(record, next);
  futex_wake_all(&record.seq);
  return next;
}

AckReport Publisher::wait_for_acks(std::uint32_t seq, FutexClock::time_point deadline) {
  return wait_for_acks(seq, deadline, std::chrono::milliseconds::zero(), nullptr);
}

AckReport Publisher::wait_for_acks(std::uint32_t seq, FutexClock::time_point deadline,
                                   std::chrono::milliseconds progress_interval,
                                   const AckProgressCallback& on_progress) {
  // How often liveness is re-checked while waiting: a process killed mid-hook never wakes us, so
  // this bounds how long a dead subscriber can hold the wait up. Liveness reads /proc (stat and
  // maps, tens of microseconds a slot), so it is checked only at this interval, never on a wake:
  // acks that come within the first interval cost no /proc read at all.
  constexpr auto kLivenessInterval = std::chrono::milliseconds(20);
  Segment& segment = impl_->segment;
  std::map<std::uint32_t, AckEntry> settled;  // by slot index; a reaped slot stays reported
  auto next_liveness_check = FutexClock::now() + kLivenessInterval;
  SNAPBUS_REQUIRE(!on_progress || progress_interval > std::chrono::milliseconds::zero(),
                  "a progress callback needs a positive interval");
  auto next_progress = on_progress ? FutexClock::now() + progress_interval : FutexClock::time_point::max();
  for (;;) {
    const auto now = FutexClock::now();
    const bool check_liveness = now >= next_liveness_check;
    if (check_liveness) next_liveness_check = now + kLivenessInterval;
    std::vector<SlotInfo> pending;
    for (SlotInfo& slot : read_slots(segment, Liveness::skip)) {
      if (!slot.wait_for_ack || settled.count(slot.index) != 0) continue;
      if (static_cast<std::int32_t>(slot.acked_seq - seq) >= 0) {
        const AckStatus status = slot.outcome == AckOutcome::failed ? AckStatus::failed : AckStatus::acked;
        settled[slot.index] = {std::move(slot), status};
      } else if (check_liveness && !process_alive(slot.owner)) {
        slot.alive = false;
        reap_dead_slots(segment);
        settled[slot.index] = {std::move(slot), AckStatus::died};
      } else if (check_liveness && !still_maps(segment, slot.owner.pid)) {
        slot.alive = false;
        reap_dead_slots(segment);
        settled[slot.index] = {std::move(slot), AckStatus::left};
      } else {
        pending.push_back(std::move(slot));
      }
    }
    if (pending.empty() || now >= deadline) {
      AckReport report;
      report.seq = seq;
      for (auto& [index, entry] : settled) report.entries.push_back(std::move(entry));
      for (SlotInfo& slot : pending) report.entries.push_back({std::move(slot), AckStatus::missing});
      std::sort(report.entries.begin(), report.entries.end(),
                [](const AckEntry& a, const AckEntry& b) { return a.slot.index < b.slot.index; });
      return report;
    }
    if (now >= next_progress) {
      next_progress = now + progress_interval;
      AckProgress progress{.seq = seq, .settled = {}, .pending = pending};
      for (const auto& [index, entry] : settled) progress.settled.push_back(entry);
      on_progress(progress);
    }
    const SlotRecord& first = segment.slot(pending.front().index);
    futex_wait(&first.acked_seq, pending.front().acked_seq,
               std::min({deadline, next_liveness_check, next_progress}));
  }
}

}  // namespace snapbus
