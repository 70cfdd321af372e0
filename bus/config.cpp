#include "snapbus/config.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

#include "snapbus/error.h"
#include "snapbus/layout.h"

namespace snapbus {
namespace {

std::optional<std::string_view> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string_view(value);
}

template <typename Int>
Int parse_number(const char* name, std::string_view text, Int min, Int max) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    throw Error(Errc::invalid_argument, std::string(name) + "=" + std::string(text) +
                                            ": expected a whole number from " + std::to_string(min) + " to " +
                                            std::to_string(max));
  }
  return value;
}

}  // namespace

Config config_from_environment() {
  Config config;
  if (auto path = env(kEnvSegment)) config.segment_path = std::string(*path);
  if (auto group = env(kEnvSegmentGroup)) {
    config.segment_group = parse_number<gid_t>(kEnvSegmentGroup, *group, 0, 0x7fffffff);
  }
  if (auto slots = env(kEnvSlots)) {
    config.slot_count = parse_number<std::uint32_t>(kEnvSlots, *slots, 1, kMaxSlotCount);
  }
  if (auto timeout = env(kEnvAckTimeoutMs)) {
    config.ack_timeout =
        std::chrono::milliseconds(parse_number<std::int64_t>(kEnvAckTimeoutMs, *timeout, 0, 3'600'000));
  }
  if (auto name = env(kEnvName)) config.subscriber_name = std::string(*name);
  if (auto init = env(kEnvInitType)) config.lambda_init_type = std::string(*init);
  return config;
}

}  // namespace snapbus
