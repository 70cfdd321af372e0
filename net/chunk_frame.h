// One chunk of a chunked body (RFC 9112 7.1) as three buffers for one gathered write: its size in
// hex and CRLF, its bytes, CRLF.
//
//   const ChunkFrame frame(piece);
//   std::size_t written = write_now(socket, frame.buffers(), error);
//
// Beast's make_chunk frames the same bytes, but it allocates each chunk's size line (a shared_ptr),
// and walking its five-part buffers_cat_view costs a write about a thousand instructions; a relay
// writes one chunk per piece of a streamed answer. The buffers point into the frame and the piece:
// both must outlive the write.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include <boost/asio/buffer.hpp>

namespace snapbus::net {

class ChunkFrame {
 public:
  // An empty piece frames to no bytes at all: an empty chunk would end the body.
  explicit ChunkFrame(std::string_view piece) noexcept;
  ChunkFrame(const ChunkFrame&) = delete;  // buffers() points into the frame
  ChunkFrame& operator=(const ChunkFrame&) = delete;

  [[nodiscard]] std::array<boost::asio::const_buffer, 3> buffers() const noexcept;

 private:
  // Sixteen hex digits hold any size_t, and CRLF follows them.
  static constexpr std::size_t kSizeLineCapacity = 2 * sizeof(std::size_t) + 2;

  std::array<char, kSizeLineCapacity> size_line_{};
  std::size_t size_line_length_ = 0;
  std::string_view piece_;
};

}  // namespace snapbus::net
