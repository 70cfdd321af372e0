#include "snapbus/config.h"

#include <cstdlib>
#include <string>
#include <string_view>

#include "snapbus/error.h"
#include "snapbus/layout.h"
#include "snapbus/text.h"

namespace snapbus {
namespace {

std::optional<std::string_view> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string_view(value);
}

// The whole value as a number in [min, max], or an error naming the variable.
template <typename Int>
Int number_from(const char* name, std::string_view text, Int min, Int max) {
  if (const auto value = parse_number<Int>(text, min, max)) return *value;
  throw Error(Errc::invalid_argument, std::string(name) + "=" + std::string(text) + ": expected a whole number from " +
                                          std::to_string(min) + " to " + std::to_string(max));
}

}  // namespace

Config config_from_environment() {
  Config config;
  if (auto path = env(kEnvSegment)) {
    // Each process would resolve a relative path against its own working directory (the adapter's
    // is /opt, the app's its task root): they would map different files, and no hook would run.
    if (path->front() != '/') {
      throw Error(Errc::invalid_argument,
                  std::string(kEnvSegment) + "=" + std::string(*path) +
                      ": expected an absolute path (each process would resolve a relative one against its own "
                      "working directory, and map another file)");
    }
    config.segment_path = std::string(*path);
  }
  if (auto group = env(kEnvSegmentGroup)) {
    config.segment_group = number_from<gid_t>(kEnvSegmentGroup, *group, 0, 0x7fffffff);
  }
  if (auto slots = env(kEnvSlots)) {
    config.slot_count = number_from<std::uint32_t>(kEnvSlots, *slots, 1, kMaxSlotCount);
  }
  if (auto timeout = env(kEnvAckTimeoutMs)) {
    config.ack_timeout = std::chrono::milliseconds(number_from<std::int64_t>(kEnvAckTimeoutMs, *timeout, 0, 3'600'000));
  }
  if (auto name = env(kEnvName)) config.subscriber_name = std::string(*name);
  if (auto init = env(kEnvInitType)) config.lambda_init_type = std::string(*init);
  return config;
}

}  // namespace snapbus
