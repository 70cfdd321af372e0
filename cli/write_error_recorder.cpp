#include "write_error_recorder.h"

#include <cerrno>

namespace snapbus::cli {

// errno is cleared before each call so that what it holds after a failure is that failure's.
WriteErrorRecorder::int_type WriteErrorRecorder::overflow(int_type ch) {
  if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
  errno = 0;
  const int_type written = target_->sputc(traits_type::to_char_type(ch));
  if (traits_type::eq_int_type(written, traits_type::eof())) keep_errno();
  return written;
}

std::streamsize WriteErrorRecorder::xsputn(const char* text, std::streamsize count) {
  errno = 0;
  const std::streamsize written = target_->sputn(text, count);
  if (written < count) keep_errno();
  return written;
}

int WriteErrorRecorder::sync() {
  errno = 0;
  const int result = target_->pubsync();
  if (result != 0) keep_errno();
  return result;
}

void WriteErrorRecorder::keep_errno() {
  if (first_error_ == 0) first_error_ = errno;
}

}  // namespace snapbus::cli
