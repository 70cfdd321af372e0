#include "snapbus/catch_up.h"

#include <map>
#include <mutex>

#include "snapbus/error.h"
#include "snapbus/segment.h"
#include "snapbus/seqlock.h"

namespace snapbus {
namespace {

// Function-local statics: a client takes its first look during static initialisation.
std::mutex& looks_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::map<std::filesystem::path, std::optional<SegmentLook>>& looks() {
  static std::map<std::filesystem::path, std::optional<SegmentLook>> taken;
  return taken;
}

std::optional<SegmentLook> look_now(const std::filesystem::path& path, std::optional<gid_t> group) {
  try {
    const Segment segment = Segment::open(path, SegmentAccess::observe, group);
    if (segment.damage()) return std::nullopt;
    return SegmentLook{identity_of(segment), read_state(segment.state()).generation};
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

SegmentIdentity identity_of(const Segment& segment) {
  return {static_cast<std::uint64_t>(segment.device()), static_cast<std::uint64_t>(segment.inode()),
          segment.header().created_wall_ns};
}

std::optional<SegmentLook> first_look(const std::filesystem::path& path, std::optional<gid_t> group) {
  std::lock_guard lock(looks_mutex());
  const auto found = looks().find(path);
  if (found != looks().end()) return found->second;
  std::optional<SegmentLook> look = look_now(path, group);
  looks().emplace(path, look);
  return look;
}

std::uint64_t catch_up_baseline(const std::filesystem::path& path, const SegmentIdentity& attached,
                                const std::optional<HandledRestores>& handled, std::optional<gid_t> group) {
  if (handled && handled->segment == attached) return handled->generation;
  const std::optional<SegmentLook> first = first_look(path, group);
  if (first && first->segment == attached) return first->generation;
  return 0;
}

}  // namespace snapbus
