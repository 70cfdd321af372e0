#include "snapbus/client.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <limits>
#include <system_error>
#include <vector>

#include "snapbus/catch_up.h"
#include "snapbus/config.h"
#include "snapbus/segment.h"
#include "thread_heap.h"

namespace snapbus {

namespace {

using namespace std::chrono_literals;

// How long the watcher sleeps in one wait. Stop requests wake it at once; the bound only matters
// for a replaced segment file and for the inotify wait, which nothing can interrupt.
constexpr auto kWatchSlice = 1s;
constexpr auto kSegmentWaitSlice = 100ms;
constexpr auto kRetryAfterError = 1s;
constexpr auto kStopWakeInterval = 10ms;

// Every live Client, so the fork handlers (process-wide by nature) can reach them.
std::mutex& live_clients_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::vector<Client*>& live_clients() {
  static std::vector<Client*> clients;
  return clients;
}

// A fork() that found a Client's mutex_ held waits on this, with live_clients_mutex() released, so
// a hook holding that mutex_ can fork too (prepare_fork). Signalled whenever a ClientLock ends while
// such a fork waits.
std::condition_variable& client_unlocked() {
  static std::condition_variable unlocked;
  return unlocked;
}
std::atomic<int> forks_waiting{0};

// std::try_lock may fail spuriously with nobody to signal the end of it: the wait is retried after
// this long even without a signal.
constexpr auto kForkRetrySlice = 10ms;
// How long an acknowledgement waits for the children the hooks forked to hold their slots.
constexpr auto kChildClaimWait = 2s;

// Holds a Client's mutex_; releasing it wakes a fork() waiting for it.
class ClientLock {
 public:
  explicit ClientLock(std::mutex& mutex) : mutex_(mutex) { mutex_.lock(); }
  ~ClientLock() {
    mutex_.unlock();
    if (forks_waiting.load() != 0) {
      const std::lock_guard lock(live_clients_mutex());
      client_unlocked().notify_all();
    }
  }
  ClientLock(const ClientLock&) = delete;
  ClientLock& operator=(const ClientLock&) = delete;

 private:
  std::mutex& mutex_;
};

// The process's first look at the default segment, taken while the program starts (static
// initialisation), so a Client made late, or attached late, still knows which restores this process
// lived through (catch_up.h). A Client with another path takes its first look when constructed.
const bool first_look_taken = [] {
  try {
    const Config config = config_from_environment();
    static_cast<void>(first_look(config.segment_path, config.segment_group));
  } catch (...) {
    // A broken environment is reported when a Client is made; no look is taken then.
  }
  return true;
}();

std::uint16_t clamp_count(std::uint32_t count) {
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(count, std::numeric_limits<std::uint16_t>::max()));
}

// Marks the calling thread as the one running hooks, so a hook that calls check() returns at once
// instead of waiting for its own lock.
class HandlingThreadMark {
 public:
  explicit HandlingThreadMark(std::atomic<std::thread::id>& mark) : mark_(mark) {
    mark_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  ~HandlingThreadMark() { mark_.store(std::thread::id(), std::memory_order_relaxed); }
  HandlingThreadMark(const HandlingThreadMark&) = delete;
  HandlingThreadMark& operator=(const HandlingThreadMark&) = delete;

 private:
  std::atomic<std::thread::id>& mark_;
};

}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)) {
  const Config config = config_from_environment();
  if (options_.segment_path.empty()) options_.segment_path = config.segment_path;
  if (options_.name.empty()) options_.name = config.subscriber_name;
  segment_group_ = config.segment_group;
  static_cast<void>(first_look_taken);
  static_cast<void>(first_look(options_.segment_path, segment_group_));
  register_fork_handlers();
  {
    std::lock_guard lock(live_clients_mutex());
    live_clients().push_back(this);
  }
  try {
    try_attach();
  } catch (...) {
    std::lock_guard lock(live_clients_mutex());
    std::erase(live_clients(), this);
    throw;
  }
}

Client::~Client() {
  {
    std::lock_guard lock(live_clients_mutex());
    std::erase(live_clients(), this);
  }
  stop();
  // Still set when stop() ran on the watcher itself or inside a hook: exit() called from a hook
  // destroys a static Client on the very thread that would have to be joined. That thread never
  // comes back (exit does not return), and a joinable std::thread destroyed would terminate.
  if (watcher_ && watcher_->joinable()) watcher_->detach();
}

void Client::exiting() {
  // Called from a hook: this thread is in the middle of a change and holds mutex_ already.
  if (handling_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
    stop();
    return;
  }
  // A change already published (shutting-down above all) is handled and acknowledged, as the
  // watcher would have: a publisher waits for that acknowledgement.
  handle_change();
  // Without mutex_: the callback may call back into this Client.
  if (std::optional<Error> failure = run_shutdown_hooks_still_due()) report_watcher_error(*failure);
  stop();
  leave_segment();
}

// This process acknowledges nothing more: its slot is freed, so no publisher waits for it, and
// the slot no longer names a shutdown hook that has long returned.
void Client::leave_segment() {
  const ClientLock lock(mutex_);
  if (subscriber_) retire_subscriber();
}

std::optional<Error> Client::run_shutdown_hooks_still_due() {
  const ClientLock lock(mutex_);
  if (!subscriber_ || subscriber_->lost() || shutdown_done_) return std::nullopt;
  shutdown_done_ = true;
  const HandlingThreadMark mark(handling_thread_);
  const HookRunReport report = hooks_.run(HookPhase::shutdown, subscriber_->state(), note_hook(HookPhase::shutdown));
  // No acknowledgement follows, so nothing waits for the children these hooks forked.
  for (const int fd : children_claiming_) ::close(fd);
  children_claiming_.clear();
  if (report.failed == 0) return std::nullopt;
  return Error(Errc::closed, "exiting before shutting-down was published: " + report.message());
}

bool Client::attached() const noexcept {
  const Subscriber* subscriber = attached_subscriber_.load(std::memory_order_acquire);
  return subscriber != nullptr && subscriber->lost_reason_text() == nullptr;
}

bool Client::try_attach() {
  // From a hook, mutex_ is held by this very thread: the client is attached, or no hook would run.
  if (handling_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) return attached();
  // Without a watcher, nothing else would ever leave a lost segment.
  if (std::optional<Error> detached = detach_if_lost()) report_watcher_error(*detached);
  const ClientLock lock(mutex_);
  if (subscriber_) return true;
  std::unique_ptr<Subscriber> subscriber;
  try {
    subscriber =
        std::make_unique<Subscriber>(Subscriber::open(options_.segment_path, {.name = options_.name,
                                                                              .wait_for_ack = options_.wait_for_ack,
                                                                              .group = segment_group_,
                                                                              .handled = handled_restores_}));
  } catch (const Error& error) {
    if (error.code() == Errc::not_found) return false;
    throw;
  }
  if (!subscriber->last_notice().empty()) report_notice(subscriber->last_notice());
  // Everything starts from the state the slot was claimed at; any change since has another seq and
  // is handled like every other. Restores this process lived through but has not handled (the
  // catch-up rule) are due at once: the joined state counts as not yet handled.
  const StateSnapshot& now = subscriber->joined_state();
  const std::uint64_t baseline = subscriber->baseline_generation();
  handled_seq_.store(baseline < now.generation ? now.seq - 1 : now.seq, std::memory_order_release);
  handled_generation_.store(baseline, std::memory_order_release);
  handled_restores_ = HandledRestores{subscriber->identity(), baseline};
  before_snapshot_seq_ = now.phase == Phase::before_snapshot ? now.seq : 0;
  seq_left_mid_write_ = 0;
  shutdown_done_ = now.phase == Phase::shutting_down;
  subscriber_ = std::move(subscriber);
  generation_word_.store(subscriber_->generation_word(), std::memory_order_release);
  attached_subscriber_.store(subscriber_.get(), std::memory_order_release);
  return true;
}

std::optional<std::uint32_t> Client::slot_index() const {
  const Subscriber* subscriber = attached_subscriber_.load(std::memory_order_acquire);
  if (subscriber == nullptr) return std::nullopt;
  return subscriber->slot_index();
}

std::optional<bool> Client::publisher_alive() const {
  const Subscriber* subscriber = attached_subscriber_.load(std::memory_order_acquire);
  if (subscriber == nullptr) return std::nullopt;
  return subscriber->publisher_alive();
}

// Caller holds mutex_: the running hook's name goes into this process's slot.
HookRegistry::HookStarting Client::note_hook(HookPhase phase) {
  return [this, phase](std::string_view hook) { subscriber_->note_running_hook(hook_phase_name(phase), hook); };
}

bool Client::handle_change() {
  if (handling_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) return false;
  std::optional<Error> failure;
  bool handled = false;
  {
    const ClientLock lock(mutex_);
    handled = handle_change_locked(failure);
  }
  // Without mutex_: the callback may call back into this Client.
  if (failure) report_watcher_error(*failure);
  return handled;
}

bool Client::handle_change_locked(std::optional<Error>& failure) {
  if (!subscriber_ || subscriber_->lost()) return false;  // try_attach() detaches and re-attaches
  // A publisher killed inside a write leaves seq odd until another takes the segment over; reading
  // the state then fails after read_state's patience. That is reported once, not thrown (check()
  // and poll() run in request handlers), and that seq is not read again, so no later call stalls.
  if (subscriber_->seq() == seq_left_mid_write_) return false;
  StateSnapshot state;
  try {
    state = subscriber_->state();
  } catch (const Error& error) {
    seq_left_mid_write_ = subscriber_->seq();
    failure = error;
    return false;
  }
  if (state.seq == handled_seq_.load(std::memory_order_relaxed)) return false;

  HandlingThreadMark mark(handling_thread_);
  HookRunReport report;
  std::uint64_t handled_generation = handled_generation_.load(std::memory_order_relaxed);
  handling_seq_ = state.seq;
  handling_generation_ = std::max(state.generation, handled_generation);
  if (state.generation > handled_generation) {
    // A generation that jumped by more than one still runs the hooks once: one memory image, one
    // restore to recover from.
    report += hooks_.run(HookPhase::after_restore, state, note_hook(HookPhase::after_restore));
    handled_generation = state.generation;
    handled_generation_.store(handled_generation, std::memory_order_release);
    handled_restores_->generation = handled_generation;
  }
  if (state.phase == Phase::before_snapshot && before_snapshot_seq_ != state.seq) {
    report += hooks_.run(HookPhase::before_snapshot, state, note_hook(HookPhase::before_snapshot));
    before_snapshot_seq_ = state.seq;
  }
  if (state.phase == Phase::shutting_down && !shutdown_done_) {
    report += hooks_.run(HookPhase::shutdown, state, note_hook(HookPhase::shutdown));
    shutdown_done_ = true;
  }
  await_children_claims();
  // The process's own log says so too, not only the publisher's report (that log is where its
  // developer looks first), and before the publisher hears of it.
  if (report.failed != 0) {
    report_notice(std::to_string(report.failed) + " of " + std::to_string(report.run) +
                  " hooks failed: " + report.message());
  }
  // A failed acknowledgement (a forked child with no free slot, a damaged segment) is reported,
  // not thrown: check() runs in request handlers, and the publisher names the process anyway.
  std::optional<std::string> notice;
  try {
    notice = subscriber_->acknowledge({.seq = state.seq,
                                       .handled_generation = handled_generation,
                                       .outcome = report.failed == 0 ? AckOutcome::ok : AckOutcome::failed,
                                       .hooks_run = clamp_count(report.run),
                                       .hooks_failed = clamp_count(report.failed),
                                       .message = report.message()});
  } catch (const Error& error) {
    failure = Error(error.code(), "cannot acknowledge seq " + std::to_string(state.seq) + ": " + error.what(),
                    error.sys_errno());
  }
  handled_seq_.store(state.seq, std::memory_order_release);
  if (notice) report_notice(*notice);
  return true;
}

std::optional<Error> Client::detach_if_lost() {
  const ClientLock lock(mutex_);
  if (!subscriber_) return std::nullopt;
  const std::optional<std::string> reason = subscriber_->lost();
  if (!reason) return std::nullopt;
  retire_subscriber();
  return Error(Errc::invalid_segment, *reason +
                                          "; detached, and attaching to the segment the path names next "
                                          "(restores published there meanwhile are caught up on)");
}

// Caller holds mutex_. The old Subscriber is retired, not destroyed: check() on another thread may
// have loaded its generation word's address a moment ago and must still be able to read it. Only
// its mapping is kept; its thread, slot and descriptors go now.
void Client::retire_subscriber() {
  detached_generation_.store(handled_generation_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  generation_word_.store(&detached_generation_, std::memory_order_release);
  attached_subscriber_.store(nullptr, std::memory_order_release);
  subscriber_->retire();
  retired_subscribers_.push_back(std::move(subscriber_));
}

void Client::report_notice(const std::string& notice) {
  std::cerr << "snapbus client (pid " << ::getpid() << "): " << notice << std::endl;
}

void Client::start() {
  std::unique_lock lock(watcher_mutex_);
  watcher_wanted_ = true;
  if (watcher_ && !watcher_exited_) {
    // Running, or asked to stop by a hook and not gone yet: it carries on (watch() looks at the
    // request again before it leaves).
    stop_requested_ = false;
    return;
  }
  if (watcher_) {
    // It left after a stop() from a hook: joined here, at once, since it has returned.
    std::unique_ptr<std::thread> exited = std::move(watcher_);
    lock.unlock();
    exited->join();
    lock.lock();
    if (watcher_) return;  // a concurrent start() got there first
  }
  start_watcher_thread();
}

// Caller holds watcher_mutex_ (or is the only thread, in a forked child).
void Client::start_watcher_thread() {
  stop_requested_ = false;
  watcher_exited_ = false;
  watcher_ = std::make_unique<std::thread>(&Client::watch, this);
}

void Client::stop() {
  std::unique_lock lock(watcher_mutex_);
  watcher_wanted_ = false;
  if (!watcher_) return;
  stop_requested_ = true;
  watcher_changed_.notify_all();
  // Called from a hook (on the watcher, or inline on a thread the watcher now waits for): waiting
  // for the watcher to leave would wait for ourselves. It leaves after this hook; the next stop()
  // or the destructor joins it.
  const auto self = std::this_thread::get_id();
  if (watcher_->get_id() == self || handling_thread_.load(std::memory_order_relaxed) == self) return;
  // A wake can slip in between the watcher's stop check and its futex wait, so it is repeated
  // until the watcher says it has left.
  while (!watcher_changed_.wait_for(lock, kStopWakeInterval, [this] { return watcher_exited_; })) {
    if (const Subscriber* subscriber = attached_subscriber_.load(std::memory_order_acquire)) {
      subscriber->wake_waiters();
    }
  }
  if (!watcher_) return;  // a concurrent stop() joined it while this one waited
  std::unique_ptr<std::thread> watcher = std::move(watcher_);
  lock.unlock();
  watcher->join();
}

void Client::report_watcher_error(const Error& error) {
  if (options_.on_watcher_error) {
    // Called from catch blocks: what the callback throws must stop here.
    try {
      options_.on_watcher_error(error);
      return;
    } catch (const std::exception& thrown) {
      std::cerr << "snapbus client (pid " << ::getpid() << "): on_watcher_error threw " << thrown.what() << "; ";
    } catch (...) {
      std::cerr << "snapbus client (pid " << ::getpid() << "): on_watcher_error threw; ";
    }
  }
  std::cerr << "snapbus client (pid " << ::getpid() << "): " << error.what() << std::endl;
}

void Client::wait_before_retry() {
  std::unique_lock lock(watcher_mutex_);
  watcher_changed_.wait_for(lock, kRetryAfterError, [this] { return stop_requested_; });
}

void Client::watch_until_stopped() {
  auto stopping = [this] {
    std::lock_guard lock(watcher_mutex_);
    return stop_requested_;
  };
  while (!stopping()) {
    try {
      const Subscriber* subscriber = attached_subscriber_.load(std::memory_order_acquire);
      if (subscriber == nullptr) {
        if (!try_attach()) {
          wait_until_segment_exists(options_.segment_path, FutexClock::now() + kSegmentWaitSlice);
        }
        continue;
      }
      if (subscriber->lost()) {
        if (std::optional<Error> detached = detach_if_lost()) report_watcher_error(*detached);
        continue;
      }
      const std::uint32_t seen = subscriber->seq();
      if (seen != handled_seq_.load(std::memory_order_relaxed) && handle_change()) continue;
      // Nothing left to handle, or a state left mid-write, which only a publisher taking the segment
      // over ends. Hook phases only: the watcher runs no hook for running or snapshot-ready and acks
      // them when it next wakes, so no worker is woken a second time just as the first request
      // arrives.
      subscriber->wait_for_change(seen, FutexClock::now() + kWatchSlice, WakeOn::hook_phases);
    } catch (const Error& error) {
      report_watcher_error(error);
      wait_before_retry();
    }
  }
}

void Client::watch() {
  make_thread_heap();  // now, so that the first restore does not pay for it (thread_heap.h)
  // A start() after a stop() from a hook clears the request before this thread has left: it stays.
  for (;;) {
    watch_until_stopped();
    std::lock_guard lock(watcher_mutex_);
    if (stop_requested_) {
      watcher_exited_ = true;
      watcher_changed_.notify_all();
      return;
    }
  }
}

void Client::register_fork_handlers() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    if (int rc = ::pthread_atfork(&Client::prepare_fork, &Client::after_fork_in_parent, &Client::after_fork_in_child);
        rc != 0) {
      throw_system_error(rc, "pthread_atfork");
    }
  });
}

// Takes every lock a child could otherwise inherit held by a thread that does not exist there.
// Hooks running in another thread finish first; a hook that forks itself already holds mutex_.
// A hook holds its mutex_ and may fork (and so want live_clients_mutex()) at any moment: waiting
// for a mutex_ while holding live_clients_mutex() would deadlock against it, so a held mutex_ is
// waited for with live_clients_mutex() released, and every lock is taken again from the start.
void Client::prepare_fork() {
  std::unique_lock lock(live_clients_mutex());
  ++forks_waiting;
  std::vector<Client*>& clients = live_clients();
  for (;;) {
    const auto busy =
        std::find_if_not(clients.begin(), clients.end(), [](Client* c) { return c->try_lock_for_fork(); });
    if (busy == clients.end()) break;
    std::for_each(clients.begin(), busy, [](Client* c) { c->unlock_after_fork(); });
    client_unlocked().wait_for(lock, kForkRetrySlice);
  }
  --forks_waiting;
  // Held on through fork() and released by the handler of the parent or of the child.
  lock.release();
}

void Client::after_fork_in_parent() {
  for (Client* client : live_clients()) {
    if (client->child_claim_pipe_[0] >= 0) {
      ::close(client->child_claim_pipe_[1]);
      client->children_claiming_.push_back(client->child_claim_pipe_[0]);
      client->child_claim_pipe_ = {-1, -1};
    }
    client->unlock_after_fork();
  }
  live_clients_mutex().unlock();
}

void Client::after_fork_in_child() {
  // Forks that waited in the parent did not come along: this thread is the only one here.
  forks_waiting = 0;
  for (Client* client : live_clients()) {
    client->unlock_after_fork();
    client->continue_in_child();
    // This child holds its slot now (or has none to hold): a byte tells the parent, whoever else
    // holds a copy of the write end. It waits for no other child.
    if (client->child_claim_pipe_[1] >= 0) {
      const char claimed = 0;
      static_cast<void>(::write(client->child_claim_pipe_[1], &claimed, 1));
    }
    for (const int fd : client->child_claim_pipe_) {
      if (fd >= 0) ::close(fd);
    }
    client->child_claim_pipe_ = {-1, -1};
    for (const int fd : client->children_claiming_) ::close(fd);
    client->children_claiming_.clear();
  }
  live_clients_mutex().unlock();
}

bool Client::try_lock_for_fork() {
  locked_for_fork_ = handling_thread_.load(std::memory_order_relaxed) != std::this_thread::get_id();
  if (locked_for_fork_ && !mutex_.try_lock()) return false;
  // Forked by the hooks: the child says when it holds its slot. Without a pipe (no descriptor
  // left) the acknowledgement does not wait for it.
  if (!locked_for_fork_ && child_claim_pipe_[0] < 0 && ::pipe2(child_claim_pipe_.data(), O_CLOEXEC) != 0) {
    child_claim_pipe_ = {-1, -1};
  }
  // Neither is held while hooks run, nor while anything waits for live_clients_mutex().
  watcher_mutex_.lock();
  hooks_.mutex_.lock();
  return true;
}

void Client::unlock_after_fork() {
  hooks_.mutex_.unlock();
  watcher_mutex_.unlock();
  if (locked_for_fork_) mutex_.unlock();
}

// In the child: the same memory image (so the same handled_* values), a new process (so its own
// slot), and no threads but this one.
void Client::continue_in_child() {
  // Forked by a hook on the watcher thread: this thread is the child's copy of the watcher, and
  // goes on watching once the hook returns. No second watcher.
  if (watcher_ && watcher_->get_id() == std::this_thread::get_id()) {
    claim_slot_in_child();
    return;
  }
  // The parent's watcher thread does not exist here; its handle must be neither joined nor
  // destroyed (std::thread would terminate), so it is deliberately leaked.
  static_cast<void>(watcher_.release());
  claim_slot_in_child();
  if (!watcher_wanted_) return;
  try {
    start_watcher_thread();
  } catch (const std::system_error& error) {
    // A process or thread limit reached: an exception leaving this fork handler would abort the
    // child, which may only have meant to exec a helper. It runs without a watcher; start() tries
    // again.
    report_watcher_error(Error(Errc::system,
                               std::string("cannot start the watcher thread in the forked child, which runs without "
                                           "one (start() tries again): ") +
                                   error.what(),
                               error.code().value()));
  }
}

// Until every child the hooks forked holds its slot (its byte on the pipe), has died, or runs
// another program (end of file), for kChildClaimWait at most; each claim takes a few ms.
void Client::await_children_claims() {
  const auto deadline = std::chrono::steady_clock::now() + kChildClaimWait;
  while (!children_claiming_.empty()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      report_notice(std::to_string(children_claiming_.size()) + " child(ren) its hooks forked had no slot after " +
                    std::to_string(kChildClaimWait.count()) + " s; acknowledging without waiting for them");
      break;
    }
    pollfd first{.fd = children_claiming_.front(), .events = POLLIN, .revents = 0};
    const int ready = ::poll(&first, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    // Its byte, or end of file (it died, or runs another program): that child is done either way.
    char byte = 0;
    static_cast<void>(::read(first.fd, &byte, 1));
    ::close(first.fd);
    children_claiming_.erase(children_claiming_.begin());
  }
  for (const int fd : children_claiming_) ::close(fd);
  children_claiming_.clear();
}

void Client::claim_slot_in_child() {
  if (!subscriber_) return;
  try {
    // Forked by a hook: a copy of a process in the middle of the change's hooks, which a helper or
    // pool may end at once. Its slot is born acknowledging the change, so the publisher never
    // counts it as died; if it returns from the hook, it acknowledges again with what it ran.
    if (handling_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
      subscriber_->claim_after_fork_within_change(handling_seq_, handling_generation_);
    } else {
      subscriber_->claim_after_fork();
    }
  } catch (const Error& error) {
    report_watcher_error(error);
  }
}

}  // namespace snapbus
