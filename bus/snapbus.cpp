#include "snapbus/snapbus.h"

#include <cstring>
#include <exception>
#include <limits>
#include <string>

#include "snapbus/catch_up.h"
#include "snapbus/config.h"
#include "snapbus/error.h"
#include "snapbus/layout.h"
#include "snapbus/segment.h"
#include "snapbus/seqlock.h"
#include "snapbus/subscriber.h"

// The C ABI's numbers are the C++ enums' numbers: the boundary converts with a cast, and the Python
// binding reads them from this header. A renumbered value on either side fails the build here; a
// value added on one side only fails the count checks or status_of's switch.
static_assert(SNAPBUS_OK == static_cast<int>(snapbus::Errc::ok));
static_assert(SNAPBUS_ERR_NOT_FOUND == static_cast<int>(snapbus::Errc::not_found));
static_assert(SNAPBUS_ERR_PERMISSION_DENIED == static_cast<int>(snapbus::Errc::permission_denied));
static_assert(SNAPBUS_ERR_INVALID_SEGMENT == static_cast<int>(snapbus::Errc::invalid_segment));
static_assert(SNAPBUS_ERR_VERSION_MISMATCH == static_cast<int>(snapbus::Errc::version_mismatch));
static_assert(SNAPBUS_ERR_BUSY == static_cast<int>(snapbus::Errc::busy));
static_assert(SNAPBUS_ERR_NO_FREE_SLOT == static_cast<int>(snapbus::Errc::no_free_slot));
static_assert(SNAPBUS_ERR_TIMED_OUT == static_cast<int>(snapbus::Errc::timed_out));
static_assert(SNAPBUS_ERR_INVALID_ARGUMENT == static_cast<int>(snapbus::Errc::invalid_argument));
static_assert(SNAPBUS_ERR_SYSTEM == static_cast<int>(snapbus::Errc::system));
static_assert(SNAPBUS_ERR_INTERRUPTED == static_cast<int>(snapbus::Errc::interrupted));
static_assert(SNAPBUS_ERR_CLOSED == static_cast<int>(snapbus::Errc::closed));
// SNAPBUS_ERR_INTERNAL is C only (an exception that is not a snapbus::Error); an Errc without a C
// status fails the build in status_of (-Wswitch).
static_assert(SNAPBUS_ERR_INTERNAL > SNAPBUS_ERR_CLOSED);

static_assert(SNAPBUS_PHASE_STARTING == static_cast<int>(snapbus::Phase::starting));
static_assert(SNAPBUS_PHASE_BEFORE_SNAPSHOT == static_cast<int>(snapbus::Phase::before_snapshot));
static_assert(SNAPBUS_PHASE_SNAPSHOT_READY == static_cast<int>(snapbus::Phase::snapshot_ready));
static_assert(SNAPBUS_PHASE_AFTER_RESTORE == static_cast<int>(snapbus::Phase::after_restore));
static_assert(SNAPBUS_PHASE_RUNNING == static_cast<int>(snapbus::Phase::running));
static_assert(SNAPBUS_PHASE_SHUTTING_DOWN == static_cast<int>(snapbus::Phase::shutting_down));
static_assert(SNAPBUS_PHASE_SHUTTING_DOWN + 1 == snapbus::kPhaseCount);

static_assert(SNAPBUS_ACK_NONE == static_cast<int>(snapbus::AckOutcome::none));
static_assert(SNAPBUS_ACK_OK == static_cast<int>(snapbus::AckOutcome::ok));
static_assert(SNAPBUS_ACK_FAILED == static_cast<int>(snapbus::AckOutcome::failed));
static_assert(SNAPBUS_ACK_FAILED + 1 == snapbus::kAckOutcomeCount);

static_assert(SNAPBUS_INIT_UNKNOWN == static_cast<int>(snapbus::InitType::unknown));
static_assert(SNAPBUS_INIT_ON_DEMAND == static_cast<int>(snapbus::InitType::on_demand));
static_assert(SNAPBUS_INIT_PROVISIONED_CONCURRENCY == static_cast<int>(snapbus::InitType::provisioned_concurrency));
static_assert(SNAPBUS_INIT_SNAP_START == static_cast<int>(snapbus::InitType::snap_start));
static_assert(SNAPBUS_INIT_LAMBDA_MANAGED_INSTANCES == static_cast<int>(snapbus::InitType::lambda_managed_instances));
static_assert(SNAPBUS_INIT_LAMBDA_MANAGED_INSTANCES + 1 == snapbus::kInitTypeCount);

static_assert(SNAPBUS_SOURCE_NONE == static_cast<int>(snapbus::TransitionSource::none));
static_assert(SNAPBUS_SOURCE_MANUAL == static_cast<int>(snapbus::TransitionSource::manual));
static_assert(SNAPBUS_SOURCE_RUNTIME_API == static_cast<int>(snapbus::TransitionSource::runtime_api));
static_assert(SNAPBUS_SOURCE_RUNTIME_API_PROXY == static_cast<int>(snapbus::TransitionSource::runtime_api_proxy));
static_assert(SNAPBUS_SOURCE_RUNTIME_API_PROXY + 1 == snapbus::kTransitionSourceCount);

struct snapbus_subscriber {
  snapbus::Subscriber subscriber;
};

namespace {

snapbus_status status_of(snapbus::Errc code) {
  switch (code) {
    case snapbus::Errc::ok: return SNAPBUS_OK;
    case snapbus::Errc::not_found: return SNAPBUS_ERR_NOT_FOUND;
    case snapbus::Errc::permission_denied: return SNAPBUS_ERR_PERMISSION_DENIED;
    case snapbus::Errc::invalid_segment: return SNAPBUS_ERR_INVALID_SEGMENT;
    case snapbus::Errc::version_mismatch: return SNAPBUS_ERR_VERSION_MISMATCH;
    case snapbus::Errc::busy: return SNAPBUS_ERR_BUSY;
    case snapbus::Errc::no_free_slot: return SNAPBUS_ERR_NO_FREE_SLOT;
    case snapbus::Errc::timed_out: return SNAPBUS_ERR_TIMED_OUT;
    case snapbus::Errc::invalid_argument: return SNAPBUS_ERR_INVALID_ARGUMENT;
    case snapbus::Errc::system: return SNAPBUS_ERR_SYSTEM;
    case snapbus::Errc::interrupted: return SNAPBUS_ERR_INTERRUPTED;
    case snapbus::Errc::closed: return SNAPBUS_ERR_CLOSED;
  }
  return SNAPBUS_ERR_INTERNAL;  // a value outside the enum: a bug somewhere, reported as one
}

thread_local std::string last_message;
thread_local int last_errno = 0;

int fail(int status, const char* message, int sys_errno) {
  last_message = message;
  last_errno = sys_errno;
  return status;
}

// The boundary: runs `body`, turning every exception into a status and a per-thread message.
template <typename Body>
int guarded(Body&& body) noexcept {
  try {
    body();
    return SNAPBUS_OK;
  } catch (const snapbus::Error& e) {
    return fail(status_of(e.code()), e.what(), e.sys_errno());
  } catch (const std::exception& e) {
    return fail(SNAPBUS_ERR_INTERNAL, e.what(), 0);
  } catch (...) {
    return fail(SNAPBUS_ERR_INTERNAL, "unknown C++ exception", 0);
  }
}

std::filesystem::path path_or_default(const char* path) {
  if (path != nullptr && *path != '\0') return path;
  return snapbus::config_from_environment().segment_path;
}

snapbus::FutexDeadline deadline_after(int64_t timeout_ms) {
  // Beyond a year is "no bound": now() + INT64_MAX ms would overflow the clock's nanoseconds.
  constexpr int64_t kLongestBoundMs = 365LL * 24 * 3600 * 1000;
  if (timeout_ms < 0 || timeout_ms > kLongestBoundMs) return std::nullopt;
  return snapbus::FutexClock::now() + std::chrono::milliseconds(timeout_ms);
}

void copy_state(const snapbus::StateSnapshot& s, std::uint32_t slot_index, snapbus_state& out) {
  out = snapbus_state{};
  out.seq = s.seq;
  out.phase = static_cast<uint32_t>(s.phase);
  out.init_type = static_cast<uint32_t>(s.init_type);
  out.source = static_cast<uint32_t>(s.source);
  out.generation = s.generation;
  out.restore_id_high = s.restore_id_high;
  out.restore_id_low = s.restore_id_low;
  out.snapshot_wall_ns = s.snapshot_wall_ns;
  out.snapshot_mono_ns = s.snapshot_mono_ns;
  out.restore_wall_ns = s.restore_wall_ns;
  out.restore_mono_ns = s.restore_mono_ns;
  out.changed_wall_ns = s.changed_wall_ns;
  out.publisher_pid = s.publisher_pid;
  out.slot_index = slot_index;
}

void require_subscriber(const snapbus_subscriber* sub) { SNAPBUS_REQUIRE(sub != nullptr, "subscriber is NULL"); }

// An ack counts for every change up to its seq (the publisher's rule): one for a seq never
// published would pass changes whose hooks never ran. (A lost segment reads anything; the ack
// says so.)
void require_published(const snapbus_subscriber& sub, uint32_t seq) {
  const uint32_t published = sub.subscriber.seq();
  // Serial-number order: a seq is ahead when published - seq is negative, and 2^31 apart counts as
  // ahead too (an ack that far off would pass the next 2^30 changes).
  SNAPBUS_REQUIRE(
      static_cast<int32_t>(published - seq) >= 0 || sub.subscriber.lost(),
      "seq " + std::to_string(seq) + " was never published (the segment is at seq " + std::to_string(published) + ")");
}

}  // namespace

extern "C" {

int snapbus_abi_version(void) { return SNAPBUS_ABI_VERSION; }

const char* snapbus_last_error_message(void) { return last_message.c_str(); }

int snapbus_last_error_errno(void) { return last_errno; }

const char* snapbus_status_name(int status) {
  if (status == SNAPBUS_ERR_INTERNAL) return "internal";
  if (status < 0 || status > static_cast<int>(snapbus::Errc::closed)) return "unknown";
  // errc_name returns views of string literals, so data() is NUL-terminated.
  return snapbus::errc_name(static_cast<snapbus::Errc>(status)).data();
}

const char* snapbus_phase_name(uint32_t phase) {
  static const char* const names[] = {"starting",      "before-snapshot", "snapshot-ready",
                                      "after-restore", "running",         "shutting-down"};
  return phase < std::size(names) ? names[phase] : "unknown";
}

int snapbus_default_segment_path(char* buf, size_t buf_len) {
  return guarded([&] {
    SNAPBUS_REQUIRE(buf != nullptr, "buffer is NULL");
    const std::string path = snapbus::config_from_environment().segment_path.string();
    SNAPBUS_REQUIRE(path.size() < buf_len, "buffer of " + std::to_string(buf_len) + " bytes is too small for " +
                                               std::to_string(path.size() + 1));
    std::memcpy(buf, path.c_str(), path.size() + 1);
  });
}

int snapbus_wait_for_segment(const char* path, int64_t timeout_ms) {
  return guarded([&] {
    const auto resolved = path_or_default(path);
    if (!snapbus::wait_until_segment_exists(resolved, deadline_after(timeout_ms))) {
      throw snapbus::Error(snapbus::Errc::timed_out,
                           "no segment at " + resolved.string() + " after " + std::to_string(timeout_ms) + " ms");
    }
  });
}

int snapbus_subscriber_open(const char* path, const char* name, int wait_for_ack, snapbus_subscriber** out) {
  return snapbus_subscriber_open_after(path, name, wait_for_ack, nullptr, out);
}

int snapbus_subscriber_open_after(const char* path, const char* name, int wait_for_ack, const snapbus_handled* handled,
                                  snapbus_subscriber** out) {
  return guarded([&] {
    SNAPBUS_REQUIRE(out != nullptr, "out is NULL");
    *out = nullptr;
    snapbus::Config config = snapbus::config_from_environment();
    snapbus::SubscriberOptions options;
    options.name = name != nullptr && *name != '\0' ? name : config.subscriber_name;
    options.wait_for_ack = wait_for_ack != 0;
    options.group = config.segment_group;
    if (handled != nullptr) {
      options.handled =
          snapbus::HandledRestores{{handled->device, handled->inode, handled->created_wall_ns}, handled->generation};
    }
    *out = new snapbus_subscriber{snapbus::Subscriber::open(path_or_default(path), options)};
  });
}

int snapbus_subscriber_baseline(const snapbus_subscriber* sub, snapbus_handled* out) {
  return guarded([&] {
    require_subscriber(sub);
    SNAPBUS_REQUIRE(out != nullptr, "out is NULL");
    const snapbus::SegmentIdentity identity = sub->subscriber.identity();
    *out = snapbus_handled{identity.device, identity.inode, identity.created_wall_ns,
                           sub->subscriber.baseline_generation()};
  });
}

int snapbus_first_look(const char* path) {
  return guarded([&] {
    static_cast<void>(snapbus::first_look(path_or_default(path), snapbus::config_from_environment().segment_group));
  });
}

int snapbus_read_segment_state(const char* path, snapbus_state* out) {
  return guarded([&] {
    SNAPBUS_REQUIRE(out != nullptr, "out is NULL");
    const snapbus::Segment segment = snapbus::Segment::open(path_or_default(path), snapbus::SegmentAccess::observe,
                                                            snapbus::config_from_environment().segment_group);
    const snapbus::StateSnapshot state = snapbus::read_state(segment.state());
    // Checked after the read: a page that could not be read reads as zeros, which are no state.
    if (auto damage = segment.damage()) throw *damage;
    copy_state(state, std::numeric_limits<uint32_t>::max(), *out);
  });
}

const char* snapbus_subscriber_lost_reason(const snapbus_subscriber* sub) {
  return sub == nullptr ? nullptr : sub->subscriber.lost_reason_text();
}

const char* snapbus_subscriber_notice(const snapbus_subscriber* sub) {
  return sub == nullptr ? "" : sub->subscriber.last_notice().c_str();
}

void snapbus_subscriber_close(snapbus_subscriber* sub) { delete sub; }

const volatile uint64_t* snapbus_subscriber_generation_address(const snapbus_subscriber* sub) {
  if (sub == nullptr) return nullptr;
  // The word is a std::atomic<uint64_t>, which layout.h checks is a plain, lock-free 8-byte word.
  return reinterpret_cast<const volatile uint64_t*>(sub->subscriber.generation_word());
}

const volatile uint32_t* snapbus_subscriber_seq_address(const snapbus_subscriber* sub) {
  if (sub == nullptr) return nullptr;
  return reinterpret_cast<const volatile uint32_t*>(sub->subscriber.seq_word());
}

uint64_t snapbus_subscriber_generation(const snapbus_subscriber* sub) {
  return sub == nullptr ? 0 : sub->subscriber.generation();
}

int snapbus_subscriber_read_state(const snapbus_subscriber* sub, snapbus_state* out) {
  return guarded([&] {
    require_subscriber(sub);
    SNAPBUS_REQUIRE(out != nullptr, "out is NULL");
    // Checked before the read: a damaged mapping is swapped for zero pages first, and zeros are no
    // state to act on.
    if (auto damage = sub->subscriber.segment().damage()) throw *damage;
    copy_state(sub->subscriber.state(), sub->subscriber.slot_index(), *out);
  });
}

int snapbus_subscriber_joined_state(const snapbus_subscriber* sub, snapbus_state* out) {
  return guarded([&] {
    require_subscriber(sub);
    SNAPBUS_REQUIRE(out != nullptr, "out is NULL");
    copy_state(sub->subscriber.joined_state(), sub->subscriber.slot_index(), *out);
  });
}

int snapbus_subscriber_wait(const snapbus_subscriber* sub, uint32_t seen_seq, int64_t timeout_ms,
                            uint32_t* current_seq) {
  return snapbus_subscriber_wait_for(sub, seen_seq, timeout_ms, SNAPBUS_WAKE_ON_EVERY_CHANGE, current_seq);
}

int snapbus_subscriber_wait_for(const snapbus_subscriber* sub, uint32_t seen_seq, int64_t timeout_ms, uint32_t wake_on,
                                uint32_t* current_seq) {
  return guarded([&] {
    require_subscriber(sub);
    SNAPBUS_REQUIRE(wake_on == SNAPBUS_WAKE_ON_EVERY_CHANGE || wake_on == SNAPBUS_WAKE_ON_HOOK_PHASES,
                    "wake_on is " + std::to_string(wake_on) + ", not a snapbus_wake_on");
    const snapbus::WakeOn filter =
        wake_on == SNAPBUS_WAKE_ON_HOOK_PHASES ? snapbus::WakeOn::hook_phases : snapbus::WakeOn::every_change;
    // A lost segment never changes again: an error to act on, not an interrupted wait to repeat.
    if (auto lost = sub->subscriber.lost()) throw snapbus::Error(snapbus::Errc::invalid_segment, *lost);
    const auto result = sub->subscriber.wait_for_change(seen_seq, deadline_after(timeout_ms), filter);
    // Lost meanwhile: seq may now read as the zeros of a truncated file, not a change to act on.
    // (The damage check too: the monitor thread may have put zeros there and not yet said so.)
    if (auto lost = sub->subscriber.lost()) {
      throw snapbus::Error(snapbus::Errc::interrupted, "the segment was lost during the wait: " + *lost);
    }
    if (auto damage = sub->subscriber.segment().damage()) {
      throw snapbus::Error(snapbus::Errc::interrupted,
                           std::string("the segment was lost during the wait: ") + damage->what());
    }
    const uint32_t now = sub->subscriber.seq();
    if (current_seq != nullptr) *current_seq = now;
    if (now != seen_seq) return;
    if (result == snapbus::FutexResult::timed_out) {
      throw snapbus::Error(snapbus::Errc::timed_out, "no state change within " + std::to_string(timeout_ms) + " ms");
    }
    // Woken or signalled with seq unchanged: a wake_waiters() call, a signal, or a spurious wake.
    throw snapbus::Error(snapbus::Errc::interrupted, "wait interrupted with no state change");
  });
}

int snapbus_subscriber_wake(const snapbus_subscriber* sub) {
  return guarded([&] {
    require_subscriber(sub);
    sub->subscriber.wake_waiters();
  });
}

int snapbus_subscriber_ack(snapbus_subscriber* sub, uint32_t seq, uint64_t handled_generation, uint32_t outcome,
                           uint32_t hooks_run, uint32_t hooks_failed, const char* message) {
  return guarded([&] {
    require_subscriber(sub);
    SNAPBUS_REQUIRE(outcome == SNAPBUS_ACK_OK || outcome == SNAPBUS_ACK_FAILED, "outcome must be OK or FAILED");
    SNAPBUS_REQUIRE(hooks_run <= 0xffff && hooks_failed <= hooks_run, "hook counts out of range");
    require_published(*sub, seq);
    static_cast<void>(sub->subscriber.acknowledge({.seq = seq,
                                                   .handled_generation = handled_generation,
                                                   .outcome = static_cast<snapbus::AckOutcome>(outcome),
                                                   .hooks_run = static_cast<std::uint16_t>(hooks_run),
                                                   .hooks_failed = static_cast<std::uint16_t>(hooks_failed),
                                                   .message = message != nullptr ? message : ""}));
  });
}

int snapbus_subscriber_note_running_hook(snapbus_subscriber* sub, const char* phase, const char* hook) {
  return guarded([&] {
    require_subscriber(sub);
    SNAPBUS_REQUIRE(phase != nullptr && hook != nullptr, "phase and hook must not be NULL");
    sub->subscriber.note_running_hook(phase, hook);
  });
}

int snapbus_subscriber_after_fork_child(snapbus_subscriber* sub) {
  return guarded([&] {
    require_subscriber(sub);
    sub->subscriber.claim_after_fork();
  });
}

int snapbus_subscriber_after_fork_child_within_change(snapbus_subscriber* sub, uint32_t seq,
                                                      uint64_t handled_generation) {
  return guarded([&] {
    require_subscriber(sub);
    require_published(*sub, seq);
    sub->subscriber.claim_after_fork_within_change(seq, handled_generation);
  });
}

int snapbus_subscriber_publisher_alive(const snapbus_subscriber* sub, int* alive) {
  return guarded([&] {
    require_subscriber(sub);
    SNAPBUS_REQUIRE(alive != nullptr, "alive is NULL");
    *alive = sub->subscriber.publisher_alive() ? 1 : 0;
  });
}

}  // extern "C"
