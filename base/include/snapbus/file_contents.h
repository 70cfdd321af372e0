// Reading a small file whole: env files, /proc entries, ready files, test fixtures.
//
//   std::string text = snapbus::read_file_contents("/proc/self/status");   // throws std::system_error
//   std::optional<std::string> maybe = snapbus::try_read_file_contents(path);  // nullopt if unreadable
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace snapbus {

// The bytes of the file at `path`. Throws std::system_error carrying errno and the path when it
// cannot be opened or read. Opens with O_NONBLOCK, so a FIFO at the path fails instead of hanging.
std::string read_file_contents(const std::filesystem::path& path);

// The same, with nullopt instead of an exception: for files that may legitimately be absent.
std::optional<std::string> try_read_file_contents(const std::filesystem::path& path);

}  // namespace snapbus
