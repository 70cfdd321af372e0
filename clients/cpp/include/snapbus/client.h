// The C++ subscriber client: register hooks, and they run in this process around every snapshot
// and restore, acknowledged to the publisher.
//
//   snapbus::Client client({.name = "api-worker"});   // SNAPBUS_SEGMENT or /tmp/snapbus.seg
//   client.before_snapshot("close-db", [&] { pool.close(); });
//   client.after_restore("reseed", [&](const snapbus::StateSnapshot& s) { rng.seed(s.restore_id_low); });
//   client.after_restore("reopen-db", [&] { pool.open(); }, {.order = -1});  // before "reseed"
//   client.start();                        // watcher thread: hooks run as soon as the phase changes
//   ...
//   void handle_request() {
//     client.check();                      // one load when nothing changed; after a restore it
//     ...                                  // returns only once the after-restore hooks have run
//   }
//   ...
//   client.exiting();                      // on SIGTERM: the shutdown hooks, unless the bus ran them
//
// Semantics (docs/client-semantics.md): after-restore hooks run in registration order, before-
// snapshot and shutdown hooks in reverse (see HookRegistry for the `order` rule). Every hook is
// called even when another throws; the failures go into this process's ack, and one line on its
// stderr. Each hook runs exactly once per process per phase change, whether the watcher or an
// inline check noticed first. Each Client is a subscriber of its own, with its own slot, watcher
// and order: two in one process (an app's and a library's) run their hooks at the same time, so
// share one Client where their hooks must run in one order.
//
// No segment yet: the watcher waits for the publisher to create it (inotify) and attaches then; a
// process without a watcher calls try_attach() itself (check() and poll() never attach, so they
// stay one load). A segment deleted, replaced or truncated under the process: the watcher is
// woken (inotify), detaches with a message and attaches to whatever the path names next; without
// a watcher, the next try_attach() does the same.
// Catching up (docs/client-semantics.md): after-restore hooks run for a restore if and only if
// this process existed before it was published and has not handled it, however late it attaches
// (the first look at the default segment is taken while the program starts). fork(): the child claims its own slot and,
// if the parent had a watcher, starts its own (if it cannot, a process or thread limit reached, it
// says so to on_watcher_error and runs without; start() tries again); hooks already running in another thread finish
// before fork() proceeds. A child that then execs another program is reported by the publisher as having left, not
// waited for. A child forked by a hook is born having acknowledged that change, so it may exit at once without failing
// it. A hook must not construct or destroy a Client: fork() takes the same locks in the other order.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "snapbus/catch_up.h"
#include "snapbus/error.h"
#include "snapbus/hook_registry.h"
#include "snapbus/seqlock.h"
#include "snapbus/subscriber.h"

namespace snapbus {

// Whether a hook type is a std::function, which may be empty.
template <typename T>
inline constexpr bool kIsStdFunction = false;
template <typename Signature>
inline constexpr bool kIsStdFunction<std::function<Signature>> = true;

struct ClientOptions {
  std::filesystem::path segment_path;  // empty: SNAPBUS_SEGMENT, else the default path
  std::string name;                    // empty: SNAPBUS_NAME, else the process's comm
  bool wait_for_ack = true;            // the publisher waits for this process's acks
  // Called when the client cannot read the segment or ack (the watcher retries a second later), or
  // detaches from a segment that was deleted, replaced or truncated: on the watcher thread, or on
  // a thread whose check() ran the hooks or whose try_attach() detached. Called with no lock of the
  // Client held, so it may call the Client (try_attach(), exiting()). Unset: one line on stderr.
  // What it throws is written to stderr and goes no further.
  std::function<void(const Error& error)> on_watcher_error;
};

class Client {
 public:
  // Attaches at once if the segment exists; Errors other than "no segment" are thrown.
  explicit Client(ClientOptions options = {});
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();  // stops the watcher and frees this process's slot; runs no hook (see exiting())

  // Hooks take `const StateSnapshot&` or nothing. `name` is moved into the registry; clang-tidy 14
  // does not see that through the template, hence the NOLINTs.
  template <typename Hook>
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  void before_snapshot(std::string name, Hook&& hook, HookOptions options = {}) {
    hooks_.add(HookPhase::before_snapshot, std::move(name), as_hook_function(std::forward<Hook>(hook)), options);
  }
  template <typename Hook>
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  void after_restore(std::string name, Hook&& hook, HookOptions options = {}) {
    hooks_.add(HookPhase::after_restore, std::move(name), as_hook_function(std::forward<Hook>(hook)), options);
  }
  template <typename Hook>
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  void on_shutdown(std::string name, Hook&& hook, HookOptions options = {}) {
    hooks_.add(HookPhase::shutdown, std::move(name), as_hook_function(std::forward<Hook>(hook)), options);
  }

  // Starts the watcher thread (idempotent; after a stop() from a hook, the watcher carries on).
  void start();
  // Wakes the watcher and joins it (idempotent). Hooks in progress finish first. From a hook it
  // only asks the watcher to leave once the hook returns.
  void stop();
  // For the process's way out (its SIGTERM path): handles a change already published (acking it),
  // runs the shutdown hooks if the publisher has not asked for them yet (once, while attached),
  // stop()s, and leaves the segment: its slot is freed, since it acknowledges nothing more, so no
  // publisher waits for it (a later try_attach() or start() attaches again). Lambda stops the
  // runtime with SIGTERM before it sends SHUTDOWN to the adapter, so a worker that just ends never
  // runs them. Failures go to on_watcher_error. The destructor does not do this: by then, what the
  // hooks use may be gone. From a hook it only stops. Not from a signal handler (it locks and runs
  // hooks): from the code the signal wakes (sigwait, a flag the main loop checks).
  void exiting();

  // Maps the segment and claims a slot if not done yet; false while there is no segment. A segment
  // lost since (deleted, replaced, truncated) is left first, as the watcher leaves it (reported to
  // on_watcher_error), and whatever the path names now is attached, catching up on its restores.
  // From a hook it only says whether the client is attached (it is: the hook runs for its segment).
  bool try_attach();
  // False from the moment the segment is lost until try_attach() (or the watcher) attaches again.
  bool attached() const noexcept;

  // The hot path for request handlers: one acquire load of the generation. When a restore
  // happened, runs what is due (or waits for the thread already running it) before returning.
  // True when this call handled a change. A failed acknowledgement goes to on_watcher_error, never
  // into the request. A hook must not wait for another thread that calls check(): that thread
  // waits for the hooks, so neither returns (only the hook's own thread is let through).
  bool check() {
    if (generation_word_.load(std::memory_order_acquire)->load(std::memory_order_acquire) ==
        handled_generation_.load(std::memory_order_acquire)) {
      return false;
    }
    return handle_change();
  }
  // Like check(), but notices every phase change (one load of seq): for processes without a
  // watcher that must also run before-snapshot and shutdown hooks. Neither throws. A state left
  // mid-write (its publisher died inside a write) is waited for once, up to 500 ms, then reported
  // to on_watcher_error and taken as no change until a publisher takes the segment over.
  bool poll() {
    const Subscriber* subscriber = attached_subscriber_.load(std::memory_order_acquire);
    if (subscriber == nullptr || subscriber->seq() == handled_seq_.load(std::memory_order_acquire)) {
      return false;
    }
    return handle_change();
  }

  // Whether the publisher recorded in the segment is still running; nullopt while detached. A
  // dead publisher means no phase change will come until a new one takes the segment over.
  std::optional<bool> publisher_alive() const;
  // This process's slot, nullopt while detached.
  std::optional<std::uint32_t> slot_index() const;
  // The generation this process has run after-restore hooks for.
  std::uint64_t handled_generation() const noexcept { return handled_generation_.load(std::memory_order_acquire); }
  const HookRegistry& hooks() const noexcept { return hooks_; }

 private:
  template <typename Hook>
  static HookFunction as_hook_function(Hook&& hook) {
    // A null function pointer or an empty std::function stays empty, so the registry refuses it
    // now instead of the watcher calling it at the next restore.
    using Decayed = std::remove_cvref_t<Hook>;
    if constexpr (std::is_pointer_v<Decayed> || kIsStdFunction<Decayed>) {
      if (!hook) return HookFunction();
    }
    if constexpr (std::is_invocable_v<Hook&, const StateSnapshot&>) {
      return HookFunction(std::forward<Hook>(hook));
    } else {
      return [function = std::forward<Hook>(hook)](const StateSnapshot&) mutable { function(); };
    }
  }

  bool handle_change();
  // Caller holds mutex_; sets `failure` to what must be reported once it is released.
  bool handle_change_locked(std::optional<Error>& failure);
  // What failed, for the caller to report once mutex_ is released.
  std::optional<Error> run_shutdown_hooks_still_due();
  void leave_segment();
  HookRegistry::HookStarting note_hook(HookPhase phase);
  // What to report once mutex_ is released, if the segment was lost and this detached from it.
  std::optional<Error> detach_if_lost();
  void retire_subscriber();
  void watch();
  void watch_until_stopped();
  void report_watcher_error(const Error& error);
  static void report_notice(const std::string& notice);
  void wait_before_retry();
  void start_watcher_thread();

  static void register_fork_handlers();
  static void prepare_fork();
  static void after_fork_in_parent();
  static void after_fork_in_child();
  bool try_lock_for_fork();
  void unlock_after_fork();
  void continue_in_child();
  void claim_slot_in_child();
  void await_children_claims();

  ClientOptions options_;
  std::optional<gid_t> segment_group_;
  HookRegistry hooks_;

  // Serialises handling a phase change: whoever holds it runs the hooks; others wait, then find
  // the change already handled.
  mutable std::mutex mutex_;
  std::unique_ptr<Subscriber> subscriber_;
  std::vector<std::unique_ptr<Subscriber>> retired_subscribers_;  // see retire_subscriber
  std::optional<HandledRestores> handled_restores_;               // what was handled, in which segment
  std::uint32_t before_snapshot_seq_ = 0;
  // The odd seq a state read gave up on (see handle_change_locked); 0, which is even, when none.
  std::uint32_t seq_left_mid_write_ = 0;
  bool shutdown_done_ = false;
  // Written under mutex_, read without it by check(), poll() and the watcher.
  std::atomic<std::uint32_t> handled_seq_{0};
  std::atomic<std::uint64_t> handled_generation_{0};
  std::atomic<const Subscriber*> attached_subscriber_{nullptr};
  // Points at detached_generation_ while detached, so check() needs no branch: 0 before the first
  // attach, the handled generation after a lost segment (so check() stays one load meanwhile).
  std::atomic<std::uint64_t> detached_generation_{0};
  std::atomic<const std::atomic<std::uint64_t>*> generation_word_{&detached_generation_};
  // The thread running hooks now: a hook that calls check() must not wait for itself.
  std::atomic<std::thread::id> handling_thread_{};
  // While handling_thread_ is set (under mutex_): the change whose hooks run, and the generation
  // it is handled as, for a child a hook forks.
  std::uint32_t handling_seq_ = 0;
  std::uint64_t handling_generation_ = 0;
  bool locked_for_fork_ = false;
  // A fork by this change's hooks: a pipe whose write end the child closes once it holds its slot
  // (-1 when none), and the read ends of the children forked so far, which the acknowledgement
  // waits on (acknowledged sooner, before-snapshot could end before the publisher knows the child).
  std::array<int, 2> child_claim_pipe_{-1, -1};
  std::vector<int> children_claiming_;

  std::mutex watcher_mutex_;
  std::condition_variable watcher_changed_;
  bool stop_requested_ = false;
  bool watcher_exited_ = false;
  bool watcher_wanted_ = false;
  std::unique_ptr<std::thread> watcher_;
};

}  // namespace snapbus
