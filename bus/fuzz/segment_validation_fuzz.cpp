// libFuzzer target for segment validation: check_header() on arbitrary bytes, and the whole
// Segment::open() path on the same bytes written to a real file.
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target segment_validation_fuzz
//   build/fuzz/bus/segment_validation_fuzz -max_total_time=60 bus/fuzz/corpus/segment_validation
//
// Invariant checked beyond "no crash": whatever check_header accepts really fits in the file.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "snapbus/segment.h"

namespace {

const std::string& scratch_path() {
  static const std::string path = "/tmp/snapbus-fuzz-" + std::to_string(::getpid()) + ".seg";
  return path;
}

void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) std::abort();
  if (size > 0 && ::write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  if (!snapbus::check_header(bytes, size)) {
    snapbus::SegmentHeader header;
    std::memcpy(static_cast<void*>(&header), data, sizeof header);
    const std::uint64_t end = std::uint64_t{header.slots_offset} + std::uint64_t{header.slot_count} * header.slot_bytes;
    if (end > size || header.state_offset + header.state_bytes > header.slots_offset) std::abort();
  }
  // Lying about the size must never make a short buffer pass.
  if (size < sizeof(snapbus::SegmentHeader) && !snapbus::check_header(bytes, 1 << 20)) std::abort();

  write_file(scratch_path(), data, size);
  try {
    auto segment = snapbus::Segment::open(scratch_path(), snapbus::SegmentAccess::subscribe);
    // Touch the last slot: the mapping must cover everything the header promised.
    (void)segment.slot(segment.slot_count() - 1).pid.load();
    (void)segment.state().seq.load();
  } catch (const snapbus::Error&) {
    // Rejection with a clear error is the expected outcome for almost every input.
  }
  return 0;
}
