#include "write_error_recorder.h"

#include <cerrno>

namespace snapbus::cli {

// errno is cleared before each call into the target, so that what it holds after a failure is that
// failure's; a call that succeeds puts it back, as a successful library call leaves it.
WriteErrorRecorder::int_type WriteErrorRecorder::overflow(int_type ch) {
  if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
  printed_ = true;
  const int saved = errno;
  errno = 0;
  const int_type written = target_->sputc(traits_type::to_char_type(ch));
  settle_errno(traits_type::eq_int_type(written, traits_type::eof()), saved);
  return written;
}

std::streamsize WriteErrorRecorder::xsputn(const char* text, std::streamsize count) {
  if (count > 0) printed_ = true;
  const int saved = errno;
  errno = 0;
  const std::streamsize written = target_->sputn(text, count);
  settle_errno(written < count, saved);
  return written;
}

int WriteErrorRecorder::sync() {
  const int saved = errno;
  errno = 0;
  const int result = target_->pubsync();
  settle_errno(result != 0, saved);
  return result;
}

void WriteErrorRecorder::settle_errno(bool failed, int saved) {
  if (!failed) {
    errno = saved;
  } else if (first_error_ == 0) {
    first_error_ = errno;
  }
}

}  // namespace snapbus::cli
