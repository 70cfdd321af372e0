#include "chunk_frame.h"

namespace snapbus::net {

namespace {

constexpr std::string_view kCrlf = "\r\n";

}  // namespace

ChunkFrame::ChunkFrame(std::string_view piece) noexcept : piece_(piece) {
  if (piece.empty()) return;
  constexpr std::string_view kHexDigits = "0123456789abcdef";
  // Written from the end, digit by digit, then moved to the front: no leading zeros.
  std::array<char, 2 * sizeof(std::size_t)> digits{};
  std::size_t first = digits.size();
  for (std::size_t size = piece.size(); size != 0; size >>= 4U) digits[--first] = kHexDigits[size & 0xfU];
  for (std::size_t i = first; i < digits.size(); ++i) size_line_[size_line_length_++] = digits[i];
  size_line_[size_line_length_++] = kCrlf[0];
  size_line_[size_line_length_++] = kCrlf[1];
}

std::array<boost::asio::const_buffer, 3> ChunkFrame::buffers() const noexcept {
  if (piece_.empty()) return {};
  return {boost::asio::const_buffer(size_line_.data(), size_line_length_),
          boost::asio::const_buffer(piece_.data(), piece_.size()),
          boost::asio::const_buffer(kCrlf.data(), kCrlf.size())};
}

}  // namespace snapbus::net
