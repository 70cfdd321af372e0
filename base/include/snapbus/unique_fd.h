// Sole ownership of a file descriptor: closed exactly once, when the owner goes away.
//
//   snapbus::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
//   if (!fd) throw_errno("open", path);
//   ::fstat(fd.get(), &st);
//   int raw = fd.release();                  // hand it on; no longer closed here
#pragma once

#include <utility>

namespace snapbus {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes `fd` as it is; -1 (what a failed open returns) makes an empty owner.
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }

  // Gives up ownership without closing.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

  // Closes what is owned now (its close error is ignored: the descriptor is gone either way on
  // Linux, and retrying could close a descriptor another thread just opened) and owns `fd`.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace snapbus
