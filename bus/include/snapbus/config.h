// Every environment variable snapbus reads, and the plain Config built from them.
//
//   snapbus::Config config = snapbus::config_from_environment();
//   auto publisher = snapbus::Publisher::acquire({.path = config.segment_path,
//                                                 .slot_count = config.slot_count});
//
// This is the only place that calls getenv. README's variable table lists the same names and
// defaults; keep the two in step.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace snapbus {

inline constexpr const char* kEnvSegment = "SNAPBUS_SEGMENT";
// Path of the segment file. Lambda has no /dev/shm, so the default lives under /tmp.
inline constexpr const char* kDefaultSegmentPath = "/tmp/snapbus.seg";

inline constexpr const char* kEnvSegmentGroup = "SNAPBUS_SEGMENT_GROUP";
// A numeric gid that may also open the segment (mode 0660 instead of 0600). Unset: owner only.

inline constexpr const char* kEnvSlots = "SNAPBUS_SLOTS";
// Subscriber slots in a newly created segment.

inline constexpr const char* kEnvAckTimeoutMs = "SNAPBUS_ACK_TIMEOUT_MS";
// How long a publisher waits for acknowledgements of one phase change.
inline constexpr std::chrono::milliseconds kDefaultAckTimeout{5000};

inline constexpr const char* kEnvName = "SNAPBUS_NAME";
// The subscriber name shown by `snapbus status`; defaults to the process's comm.

inline constexpr const char* kEnvInitType = "AWS_LAMBDA_INITIALIZATION_TYPE";
// Lambda's own variable: recorded in the state as initType when a publisher creates the segment.

struct Config {
  std::filesystem::path segment_path = kDefaultSegmentPath;
  std::optional<gid_t> segment_group;
  std::uint32_t slot_count = 64;
  std::chrono::milliseconds ack_timeout = kDefaultAckTimeout;
  std::string subscriber_name;  // empty: use the process's comm
  std::string lambda_init_type;
};

// Reads the variables above. A malformed value (SNAPBUS_SLOTS=lots) throws
// Error(invalid_argument) naming the variable, rather than silently using a default.
Config config_from_environment();

}  // namespace snapbus
