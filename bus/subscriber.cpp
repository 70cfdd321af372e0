#include "snapbus/subscriber.h"

#include <unistd.h>

#include <fstream>

#include "clock.h"

namespace snapbus {
namespace {

std::string process_comm() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

}  // namespace

struct Subscriber::Impl {
  Segment segment;
  ProcessIdentity self;
  SubscriberOptions options;
  StateSnapshot joined;
  std::uint32_t slot = 0;
};

namespace {

// A forked child that never claimed its own slot still carries its parent's identity; it must not
// free the parent's slot on its way out.
void release_own_slot(Subscriber::Impl& impl) noexcept {
  if (impl.self.pid == ::getpid()) release_slot(impl.segment, impl.slot, impl.self);
}

}  // namespace

Subscriber Subscriber::open(const std::filesystem::path& path, const SubscriberOptions& options) {
  Segment segment = Segment::open(path, SegmentAccess::subscribe, options.group);
  const StateSnapshot now = read_state(segment.state());
  auto impl = std::make_unique<Impl>(Impl{std::move(segment), current_process(), options, now, 0});
  if (impl->options.name.empty()) impl->options.name = process_comm();
  impl->slot = claim_slot(impl->segment, impl->self, {impl->options.name, impl->options.wait_for_ack},
                          {.acked_seq = now.seq, .handled_generation = now.generation});
  return Subscriber(std::move(impl));
}

Subscriber::Subscriber(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)),
      generation_(&impl_->segment.state().generation),
      seq_(&impl_->segment.state().seq) {}

Subscriber::Subscriber(Subscriber&&) noexcept = default;
Subscriber& Subscriber::operator=(Subscriber&& other) noexcept {
  if (this != &other) {
    if (impl_) release_own_slot(*impl_);
    impl_ = std::move(other.impl_);
    generation_ = other.generation_;
    seq_ = other.seq_;
  }
  return *this;
}

Subscriber::~Subscriber() {
  if (impl_) release_own_slot(*impl_);
}

StateSnapshot Subscriber::state() const { return read_state(impl_->segment.state()); }
const StateSnapshot& Subscriber::joined_state() const noexcept { return impl_->joined; }
std::uint32_t Subscriber::slot_index() const noexcept { return impl_->slot; }
const Segment& Subscriber::segment() const noexcept { return impl_->segment; }

FutexResult Subscriber::wait_for_change(std::uint32_t seen_seq, FutexDeadline deadline) const {
  return futex_wait(seq_, seen_seq, deadline);
}

void Subscriber::wake_waiters() const { futex_wake_all(seq_); }

void Subscriber::acknowledge(const Acknowledgement& ack) {
  SlotRecord& slot = impl_->segment.mutable_slot(impl_->slot);
  SNAPBUS_REQUIRE(slot.pid.load(std::memory_order_acquire) == static_cast<std::uint32_t>(::getpid()),
                  "this process does not own slot " + std::to_string(impl_->slot) +
                      " (after fork, call claim_after_fork first)");
  constexpr auto kRelaxed = std::memory_order_relaxed;
  slot.handled_generation.store(ack.handled_generation, kRelaxed);
  slot.ack_wall_ns.store(clock_ns(CLOCK_REALTIME), kRelaxed);
  slot.outcome.store(static_cast<std::uint16_t>(ack.outcome), kRelaxed);
  slot.hooks_run.store(ack.hooks_run, kRelaxed);
  slot.hooks_failed.store(ack.hooks_failed, kRelaxed);
  store_text(slot.message, std::size(slot.message), ack.message);
  // Release: the publisher acquires acked_seq and then reads the fields above.
  slot.acked_seq.store(ack.seq, std::memory_order_release);
  futex_wake_all(&slot.acked_seq);
}

void Subscriber::claim_after_fork() {
  if (impl_->self.pid == ::getpid()) return;
  const SlotRecord& parent = impl_->segment.slot(impl_->slot);
  const SlotBaseline inherited{parent.acked_seq.load(std::memory_order_acquire),
                               parent.handled_generation.load(std::memory_order_relaxed)};
  // Into locals first: if the claim fails (a full table), the next call must try again.
  const ProcessIdentity child = current_process();
  impl_->slot = claim_slot(impl_->segment, child, {impl_->options.name, impl_->options.wait_for_ack}, inherited);
  impl_->self = child;
}

bool Subscriber::publisher_alive() const {
  const SegmentHeader& header = impl_->segment.header();
  const auto pid = static_cast<pid_t>(header.publisher_pid.load(std::memory_order_acquire));
  return process_alive({pid, header.publisher_start_time.load(std::memory_order_relaxed)});
}

}  // namespace snapbus
