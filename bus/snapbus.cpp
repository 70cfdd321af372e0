#include "snapbus/snapbus.h"

#include <cstring>
#include <exception>
#include <string>

#include "snapbus/catch_up.h"
#include "snapbus/config.h"
#include "snapbus/error.h"
#include "snapbus/subscriber.h"

struct snapbus_subscriber {
  snapbus::Subscriber subscriber;
};

namespace {

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
    return fail(static_cast<int>(e.code()), e.what(), e.sys_errno());
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

void require_subscriber(const snapbus_subscriber* sub) {
  SNAPBUS_REQUIRE(sub != nullptr, "subscriber is NULL");
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
      throw snapbus::Error(snapbus::Errc::timed_out, "no segment at " + resolved.string() + " after " +
                                                         std::to_string(timeout_ms) + " ms");
    }
  });
}

int snapbus_subscriber_open(const char* path, const char* name, int wait_for_ack, snapbus_subscriber** out) {
  return snapbus_subscriber_open_after(path, name, wait_for_ack, nullptr, out);
}

int snapbus_subscriber_open_after(const char* path, const char* name, int wait_for_ack,
                                  const snapbus_handled* handled, snapbus_subscriber** out) {
  return guarded([&] {
    SNAPBUS_REQUIRE(out != nullptr, "out is NULL");
    *out = nullptr;
    snapbus::Config config = snapbus::config_from_environment();
    snapbus::SubscriberOptions options;
    options.name = name != nullptr && *name != '\0' ? name : config.subscriber_name;
    options.wait_for_ack = wait_for_ack != 0;
    options.group = config.segment_group;
    if (handled != nullptr) {
      options.handled = snapbus::HandledRestores{{handled->device, handled->inode, handled->created_wall_ns},
                                                 handled->generation};
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
  return guarded([&] {
    require_subscriber(sub);
    const auto result = sub->subscriber.wait_for_change(seen_seq, deadline_after(timeout_ms));
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
    static_cast<void>(sub->subscriber.acknowledge({.seq = seq,
                                 .handled_generation = handled_generation,
                                 .outcome = static_cast<snapbus::AckOutcome>(outcome),
                                 .hooks_run = static_cast<std::uint16_t>(hooks_run),
                                 .hooks_failed = static_cast<std::uint16_t>(hooks_failed),
                                 .message = message != nullptr ? message : ""}));
  });
}

int snapbus_subscriber_after_fork_child(snapbus_subscriber* sub) {
  return guarded([&] {
    require_subscriber(sub);
    sub->subscriber.claim_after_fork();
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
