#include "snapbus/file_contents.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "snapbus/unique_fd.h"

namespace snapbus {
namespace {

[[noreturn]] void fail(const char* what, const std::filesystem::path& path) {
  throw std::system_error(errno, std::generic_category(), std::string(what) + " " + path.string());
}

}  // namespace

std::string read_file_contents(const std::filesystem::path& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) fail("cannot open", path);
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) fail("cannot stat", path);
  if (S_ISDIR(info.st_mode) || S_ISFIFO(info.st_mode) || S_ISSOCK(info.st_mode)) {
    errno = S_ISDIR(info.st_mode) ? EISDIR : EINVAL;
    fail("not a regular file:", path);
  }
  std::string contents;
  char buffer[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n == 0) return contents;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read", path);
    }
    contents.append(buffer, static_cast<std::size_t>(n));
  }
}

std::optional<std::string> try_read_file_contents(const std::filesystem::path& path) {
  try {
    return read_file_contents(path);
  } catch (const std::system_error&) {
    return std::nullopt;
  }
}

}  // namespace snapbus
