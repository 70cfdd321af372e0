#include "process_memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "snapbus/text.h"

namespace snapbus::emulator {
namespace {

// /proc/PID/status is about 1.5 KB; a longer one (a great many groups) makes the buffer grow.
constexpr std::size_t kFirstBufferBytes = 4096;

std::optional<unsigned long long> number_at(std::string_view text) {
  text = trim(text);
  return parse_number<unsigned long long>(text.substr(0, text.find_first_of(" \n")), 0,
                                          std::numeric_limits<unsigned long long>::max());
}

unsigned whole_mib(unsigned long long bytes) {
  constexpr unsigned long long kMiB = 1024ULL * 1024;
  return static_cast<unsigned>((bytes + kMiB - 1) / kMiB);
}

}  // namespace

std::string_view ProcessMemory::read(pid_t pid, Kind kind) {
  Files& files = files_[pid];
  UniqueFd& fd = kind == Kind::status ? files.status : files.statm;
  if (!fd) {
    const std::string path = "/proc/" + std::to_string(pid) + (kind == Kind::status ? "/status" : "/statm");
    fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }
  if (buffer_.empty()) buffer_.resize(kFirstBufferBytes);
  for (;;) {
    ssize_t n = -1;
    if (fd) {
      do {
        n = ::pread(fd.get(), buffer_.data(), buffer_.size(), 0);
      } while (n < 0 && errno == EINTR);
    }
    if (n <= 0) {
      // Gone (ESRCH, or never there): nothing to count, and nothing to keep open for it.
      files_.erase(pid);
      return {};
    }
    if (static_cast<std::size_t>(n) < buffer_.size()) return {buffer_.data(), static_cast<std::size_t>(n)};
    buffer_.resize(buffer_.size() * 2);  // it may go on: read it whole with a larger buffer
  }
}

void ProcessMemory::keep_only(const std::vector<pid_t>& pids) {
  std::erase_if(files_, [&pids](const auto& entry) { return std::ranges::find(pids, entry.first) == pids.end(); });
}

unsigned ProcessMemory::peak_mb(const std::vector<pid_t>& pids) {
  keep_only(pids);
  constexpr std::string_view kField = "\nVmHWM:";
  unsigned long long kib = 0;
  for (const pid_t pid : pids) {
    // "VmHWM:\t    1234 kB"
    const std::string_view status = read(pid, Kind::status);
    const auto at = status.find(kField);
    if (at == std::string_view::npos) continue;  // gone, or a kernel thread
    kib += number_at(status.substr(at + kField.size())).value_or(0);
  }
  return whole_mib(kib * 1024);
}

unsigned ProcessMemory::current_mb(const std::vector<pid_t>& pids) {
  keep_only(pids);
  static const auto page_bytes = static_cast<unsigned long long>(::sysconf(_SC_PAGESIZE));
  unsigned long long pages = 0;
  for (const pid_t pid : pids) {
    // "size resident shared text lib data dt", in pages
    const std::string_view statm = read(pid, Kind::statm);
    const auto first_space = statm.find(' ');
    if (first_space == std::string_view::npos) continue;
    pages += number_at(statm.substr(first_space + 1)).value_or(0);
  }
  return whole_mib(pages * page_bytes);
}

}  // namespace snapbus::emulator
