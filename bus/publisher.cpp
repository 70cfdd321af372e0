#include "snapbus/publisher.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <system_error>

#include "clock.h"
#include "snapbus/unique_fd.h"

namespace snapbus {
namespace {

std::filesystem::path lock_file_path(const std::filesystem::path& segment_path) {
  return segment_path.string() + ".lock";
}

// The lock that names its holder: an OFD write lock on the one byte at offset <pid> of the lock
// file. F_OFD_GETLK reports a conflicting OFD lock's pid as -1, but it does report the lock's
// range, so the range carries the pid. The flock below is the exclusion; this is only the name.
void take_name_lock(int fd, pid_t pid) {
  struct flock range {};
  range.l_type = F_WRLCK;
  range.l_whence = SEEK_SET;
  range.l_start = static_cast<off_t>(pid);
  range.l_len = 1;
  static_cast<void>(::fcntl(fd, F_OFD_SETLK, &range));  // best effort: it only names the holder
}

// The publisher lock: flock on "<segment>.lock", held for the publisher's lifetime. The kernel
// drops it when the process dies, however it dies, which is what makes take-over safe.
UniqueFd lock_publisher_role(const std::filesystem::path& segment_path, std::optional<gid_t> group) {
  const std::filesystem::path lock_path = lock_file_path(segment_path);
  UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, group ? 0660 : 0600));
  if (!fd) {
    const int err = errno;
    if (err == ELOOP) throw symbolic_link_error(lock_path, "lock file " + lock_path.string());
    if (err == ENOENT || err == ENOTDIR) {
      // The publisher creates the segment, not the directories above it: name the one missing, or
      // say that the one there takes no new files (/proc answers ENOENT to a create).
      const std::filesystem::path directory =
          segment_path.has_parent_path() ? segment_path.parent_path() : std::filesystem::path(".");
      struct stat status {};
      const bool is_directory = ::stat(directory.c_str(), &status) == 0 && S_ISDIR(status.st_mode);
      const std::string problem = is_directory ? " takes no new files (creating " + lock_path.string() + ": " +
                                                     std::generic_category().message(err) + ")"
                                  : err == ENOENT ? " does not exist"
                                                  : " is not a directory";
      throw Error(
          Errc::system,
          "cannot create the segment " + segment_path.string() + ": its directory " + directory.string() + problem,
          err);
    }
    throw_system_error(err, "open lock file " + lock_path.string());
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) throw_system_error(errno, "fstat " + lock_path.string());
  // A new lock file gets the group and mode exactly (the umask may have cleared bits).
  if (group && status.st_uid == ::geteuid() &&
      (::fchown(fd.get(), static_cast<uid_t>(-1), *group) != 0 || ::fchmod(fd.get(), 0660) != 0 ||
       ::fstat(fd.get(), &status) != 0)) {
    throw_system_error(errno, "give lock file " + lock_path.string() + " to group " + std::to_string(*group));
  }
  if (auto problem = check_file_status(status, lock_path, group)) {
    throw Error(problem->code(), std::string("lock file: ") + problem->what());
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    fd.reset();  // closed before asking who holds it: our own open description must not answer
    if (err != EWOULDBLOCK) throw_system_error(err, "lock " + lock_path.string());
    const std::optional<pid_t> holder = publisher_lock_holder(segment_path);
    const std::string owner = holder ? "pid " + std::to_string(*holder) : "a process that is still starting";
    throw Error(Errc::busy,
                "segment " + segment_path.string() + " is owned by a live publisher (" + owner + " holds " +
                    lock_path.string() + "); only one publisher may write it",
                err);
  }
  take_name_lock(fd.get(), ::getpid());
  return fd;
}

enum class Origin { created, took_over, replaced };

// The layout version in the header of the file at `path`, if one can be read there.
std::optional<std::uint32_t> layout_version_at(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  std::uint32_t version = 0;
  if (!fd || ::pread(fd.get(), &version, sizeof version, offsetof(SegmentHeader, layout_version)) !=
                 static_cast<ssize_t>(sizeof version)) {
    return std::nullopt;
  }
  return version;
}

// Opens the existing segment to take it over, or creates one. A segment of an older layout version
// is replaced: an earlier snapbus left it (its publisher is gone: we hold the lock), and its
// processes could not read this one's anyway. A newer one belongs to a newer snapbus, whose
// processes may still use it, and anything that is not a snapbus segment may be someone else's
// file: both are left alone and refused.
Segment open_or_create(const PublisherOptions& options, Origin& origin) {
  origin = Origin::created;
  try {
    // Opened even when a fresh one is wanted: only a segment is replaced, never a foreign file.
    Segment segment = Segment::open(options.path, SegmentAccess::publish, options.group);
    if (!options.fresh) {
      origin = Origin::took_over;
      return segment;
    }
    origin = Origin::replaced;
  } catch (const Error& e) {
    if (e.code() == Errc::version_mismatch) {
      if (const auto found = layout_version_at(options.path); !found || *found > kLayoutVersion) {
        throw Error(Errc::version_mismatch,
                    "segment " + options.path.string() + ": " + e.what() +
                        "; a newer snapbus made it, and its processes may still use it, so it is left as it is "
                        "(publish with that snapbus, or delete the file)");
      }
      origin = Origin::replaced;
    } else if (e.code() != Errc::not_found) {
      throw;
    }
  }
  return Segment::create(options.path, {.slot_count = options.slot_count, .group = options.group});
}

// What open_or_create() would refuse (a directory, a FIFO, a device, a file that is no snapbus
// segment, one of a mode open to others), refused before the lock file is made beside it. The path
// names a finished segment or nothing at every moment (Segment::create renames one into place), so
// a publisher creating one meanwhile is no reason to refuse.
void refuse_foreign_file(const PublisherOptions& options) {
  try {
    static_cast<void>(Segment::open(options.path, SegmentAccess::observe, options.group));
  } catch (const Error& e) {
    // Nothing there, or what open_or_create() itself handles; a path through a file that is no
    // directory, the lock file's creation names.
    if (e.code() != Errc::not_found && e.code() != Errc::version_mismatch && e.sys_errno() != ENOTDIR) throw;
  }
}

// Whether the file open as `fd` still has a name: deleting it, or renaming another file over it,
// takes its last link away (nlink 0). One fstat, no path to walk: this runs at every phase change.
bool still_linked(int fd) {
  struct stat status {};
  return ::fstat(fd, &status) == 0 && status.st_nlink > 0;
}

// The publisher writes what every process of the function will read, so it must still be writing
// the file they open: one truncated under it reads as zeros (no slot would seem to wait, and a step
// would pass that no hook acknowledged), one deleted or replaced is invisible to every process that
// opens the path from now on, and a lock file deleted lets a second publisher in beside this one.
void require_intact(const Segment& segment, int lock_fd) {
  if (auto damage = segment.damage()) throw *damage;
  if (!still_linked(segment.descriptor())) {
    throw Error(Errc::invalid_segment, segment.path().string() +
                                           " was deleted or replaced while this process published to it; "
                                           "nothing it publishes can reach the processes that open that path");
  }
  if (!still_linked(lock_fd)) {
    throw Error(Errc::invalid_segment, lock_file_path(segment.path()).string() +
                                           " was deleted or replaced while this process held it: another "
                                           "publisher could take the segment over beside this one");
  }
}

// Statuses that leave the change done: an ack, or a process that is no subscriber any more and
// never started a hook of it.
bool settled_ok(AckStatus status) {
  return status == AckStatus::acked || status == AckStatus::left || status == AckStatus::ended;
}

}  // namespace

std::optional<pid_t> publisher_lock_holder(const std::filesystem::path& segment_path) {
  const std::filesystem::path lock_path = lock_file_path(segment_path);
  const UniqueFd fd(::open(lock_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return std::nullopt;
  struct flock range {};
  range.l_type = F_WRLCK;
  range.l_whence = SEEK_SET;
  range.l_start = 1;  // pids start at 1
  range.l_len = 0;    // to the end of every possible offset
  const int rc = ::fcntl(fd.get(), F_OFD_GETLK, &range);
  if (rc != 0 || range.l_type == F_UNLCK) return std::nullopt;
  return static_cast<pid_t>(range.l_start);
}

std::string ack_status_name(AckStatus status) {
  switch (status) {
    case AckStatus::acked: return "acked";
    case AckStatus::failed: return "failed";
    case AckStatus::missing: return "missing";
    case AckStatus::died: return "died";
    case AckStatus::left: return "left";
    case AckStatus::ended: return "ended";
  }
  return "unknown";
}

bool AckReport::all_ok() const noexcept {
  return std::all_of(entries.begin(), entries.end(), [](const AckEntry& e) { return settled_ok(e.status); });
}

std::vector<std::string> AckReport::problems() const {
  std::vector<std::string> lines;
  for (const AckEntry& e : entries) {
    if (settled_ok(e.status)) continue;
    std::string line =
        "pid " + std::to_string(e.slot.owner.pid) + " (" + e.slot.name + "): " + ack_status_name(e.status);
    if (e.status == AckStatus::failed && !e.slot.message.empty()) line += ": " + e.slot.message;
    if (e.status == AckStatus::missing) line += ": no acknowledgement before the deadline";
    if (e.status == AckStatus::died) line += " before acknowledging; slot reaped";
    lines.push_back(std::move(line));
  }
  return lines;
}

struct Publisher::Impl {
  UniqueFd lock_fd;
  Segment segment;
  Origin origin = Origin::created;
  TransitionSource source = TransitionSource::manual;
  std::uint32_t pid = 0;
  // What transition() reaped just after publishing `died_in_hook_seq` that had died inside a hook:
  // reported as died by the wait for that seq.
  std::uint32_t died_in_hook_seq = 0;
  std::vector<SlotInfo> died_in_hook;

  Impl(UniqueFd fd, Segment s, Origin o, TransitionSource src)
      : lock_fd(std::move(fd)), segment(std::move(s)), origin(o), source(src) {}
};

Publisher Publisher::acquire(const PublisherOptions& options) {
  SNAPBUS_REQUIRE(!options.path.empty(), "publisher needs a segment path");
  // Before the lock file: a name refused later would leave that behind.
  if (auto problem = check_segment_file_name(options.path)) throw *problem;
  refuse_foreign_file(options);
  UniqueFd lock_fd = lock_publisher_role(options.path, options.group);
  Origin origin = Origin::created;
  Segment segment = open_or_create(options, origin);
  auto impl = std::make_unique<Impl>(std::move(lock_fd), std::move(segment), origin, options.source);
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
  if (impl->origin != Origin::took_over) {
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

bool Publisher::took_over() const noexcept { return impl_->origin == Origin::took_over; }
bool Publisher::replaced() const noexcept { return impl_->origin == Origin::replaced; }
const Segment& Publisher::segment() const noexcept { return impl_->segment; }
StateSnapshot Publisher::state() const { return read_state(impl_->segment.state()); }

std::vector<SlotInfo> Publisher::reap_departed() { return reap_dead_slots(impl_->segment); }

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
  futex_wake_all(&record.seq, wake_mask_for(phase));
  // A process gone before a hook phase (os._exit, exit() without destructors, SIGKILL) has nothing
  // to acknowledge: its slot is freed here so the wait for acks never counts it as a failure. After
  // the wake, not before it: the check is an fcntl per slot (16 slots took 16 us on a 2-vCPU VM),
  // done while the subscribers start on their hooks instead of delaying every one of them. So a
  // process woken by this change may already have died when its slot is looked at (the waking
  // subscribers can preempt this thread): one that died inside a hook says so in its slot
  // (note_running_hook), and is kept for the wait to report as died, by hook. One that died
  // between its wake and its first hook ran no hook, and counts as gone before the change.
  // Nobody waits for acks of a quiet phase, so those skip the check.
  impl_->died_in_hook.clear();
  if (runs_hooks(phase)) {
    for (SlotInfo& gone : reap_departed()) {
      if (gone.wait_for_ack && !gone.still_running && running_hook_of(gone)) {
        impl_->died_in_hook.push_back(std::move(gone));
      }
    }
    impl_->died_in_hook_seq = next.seq;
  }
  // After the wake too, off the subscribers' way (three system calls). Writing into a segment
  // that turns out to be damaged or gone did no harm: nobody reads what was written there.
  require_intact(impl_->segment, impl_->lock_fd.get());
  return next;
}

AckReport Publisher::wait_for_acks(std::uint32_t seq, FutexClock::time_point deadline) {
  return wait_for_acks(seq, deadline, AckWaitOptions{});
}

AckReport Publisher::wait_for_acks(std::uint32_t seq, FutexClock::time_point deadline, const AckWaitOptions& options) {
  // How often liveness is re-checked while waiting: a process killed mid-hook never wakes us, so
  // this bounds how long a dead subscriber can hold the wait up. Liveness is one fcntl per pending
  // slot, checked only at this interval, never on a wake: acks that come within the first
  // interval cost no liveness check at all.
  constexpr auto kLivenessInterval = std::chrono::milliseconds(20);
  Segment& segment = impl_->segment;
  std::map<std::uint32_t, AckEntry> settled;  // by slot index; a reaped slot stays reported
  if (impl_->died_in_hook_seq == seq) {
    for (const SlotInfo& slot : impl_->died_in_hook) settled[slot.index] = {slot, AckStatus::died};
  }
  auto next_liveness_check = FutexClock::now() + kLivenessInterval;
  const AckProgressCallback& on_progress = options.on_progress;
  SNAPBUS_REQUIRE(!on_progress || options.progress_interval > std::chrono::milliseconds::zero(),
                  "a progress callback needs a positive interval");
  auto next_progress = on_progress ? FutexClock::now() + options.progress_interval : FutexClock::time_point::max();
  for (;;) {
    const auto now = FutexClock::now();
    const bool check_liveness = now >= next_liveness_check;
    if (check_liveness) next_liveness_check = now + kLivenessInterval;
    std::vector<SlotInfo> pending;
    for (SlotInfo& slot : read_slots(segment, Liveness::skip)) {
      if (!slot.wait_for_ack || settled.count(slot.index) != 0) continue;
      if (static_cast<std::int32_t>(slot.acked_seq - seq) >= 0) {
        const AckStatus status = slot.outcome == AckOutcome::failed ? AckStatus::failed : AckStatus::acked;
        const std::uint32_t index = slot.index;
        settled[index] = {std::move(slot), status};
      } else if (std::optional<SlotInfo> gone; check_liveness && (gone = reap_slot_if_departed(segment, slot.index))) {
        // Reaped as it was when its owner went: an ack written just before dying still counts.
        if (static_cast<std::int32_t>(gone->acked_seq - seq) >= 0) {
          const AckStatus status = gone->outcome == AckOutcome::failed ? AckStatus::failed : AckStatus::acked;
          settled[slot.index] = {std::move(*gone), status};
        } else {
          // As in transition(): only a death inside a hook fails the change. One before its first
          // hook (os._exit in a pool worker whose watcher had not got to the change) left nothing
          // stale behind, and whether it counted must not hang on which liveness check saw it.
          const AckStatus status = gone->still_running      ? AckStatus::left
                                   : running_hook_of(*gone) ? AckStatus::died
                                                            : AckStatus::ended;
          settled[slot.index] = {std::move(*gone), status};
        }
      } else {
        pending.push_back(std::move(slot));
      }
    }
    // Read after the slots, so that acks given before the flag was set still count.
    const bool stopped = !pending.empty() && now < deadline && options.stop != nullptr && options.stop->load();
    const bool done = pending.empty() || now >= deadline || stopped;
    // A truncated segment reads as zeros, so "nobody pending" may be no news at all: checked before
    // any report, and at each liveness check while waiting.
    if (check_liveness || done) require_intact(segment, impl_->lock_fd.get());
    if (done) {
      AckReport report;
      report.seq = seq;
      report.stopped = stopped;
      for (auto& [index, entry] : settled) report.entries.push_back(std::move(entry));
      for (SlotInfo& slot : pending) report.entries.push_back({std::move(slot), AckStatus::missing});
      std::sort(report.entries.begin(), report.entries.end(),
                [](const AckEntry& a, const AckEntry& b) { return a.slot.index < b.slot.index; });
      return report;
    }
    if (now >= next_progress) {
      next_progress = now + options.progress_interval;
      AckProgress progress{.seq = seq, .settled = {}, .pending = pending};
      for (const auto& [index, entry] : settled) progress.settled.push_back(entry);
      on_progress(progress);
    }
    const SlotRecord& first = segment.slot(pending.front().index);
    try {
      futex_wait(&first.acked_seq, pending.front().acked_seq, std::min({deadline, next_liveness_check, next_progress}));
    } catch (const Error&) {
      // The kernel cannot wait on a page past the end of a file truncated just now (EFAULT): say that.
      require_intact(segment, impl_->lock_fd.get());
      throw;
    }
  }
}

}  // namespace snapbus
