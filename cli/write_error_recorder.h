// Why a command's output could not be written, kept from the moment it failed: by the time the
// command ends, errno has long been overwritten (`snapbus publish > /dev/full` fails its first
// progress line, then goes on through a whole lifecycle step).
//
//   snapbus::cli::WriteErrorRecorder recorder(std::cout.rdbuf());
//   std::cout.rdbuf(&recorder);
//   run_publish(request, config, std::cout, std::cerr);
//   std::cout.rdbuf(recorder.target());
//   if (recorder.first_error() != 0) std::cerr << std::strerror(recorder.first_error());
#pragma once

#include <streambuf>

namespace snapbus::cli {

// A stream buffer that passes every byte, and every flush, on to `target`, and keeps the errno
// of the first one that `target` failed (0 while none has, or when it failed without one). errno
// itself is left as it was by a write that succeeds.
class WriteErrorRecorder : public std::streambuf {
 public:
  explicit WriteErrorRecorder(std::streambuf* target) : target_(target) {}

  [[nodiscard]] std::streambuf* target() const { return target_; }
  [[nodiscard]] int first_error() const { return first_error_; }
  // Whether any byte came through (a stdout that was closed is an error only for a command that printed).
  [[nodiscard]] bool printed() const { return printed_; }

 protected:
  int_type overflow(int_type ch) override;
  std::streamsize xsputn(const char* text, std::streamsize count) override;
  int sync() override;

 private:
  // Called with errno as the call into target_ left it; `saved` is errno from before that call.
  void settle_errno(bool failed, int saved);

  std::streambuf* target_;
  int first_error_ = 0;
  bool printed_ = false;
};

}  // namespace snapbus::cli
