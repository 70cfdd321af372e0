// A chunk's frame: the bytes Beast's own chunk framing gives, which Beast's parser reads back piece
// by piece, and nothing at all for an empty piece, which would otherwise end the body.
#include "chunk_frame.h"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace snapbus::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string framed(std::string_view piece) {
  const ChunkFrame frame(piece);
  return beast::buffers_to_string(frame.buffers());
}

TEST(ChunkFrame, FramesAsBeastDoes) {
  // Sizes around each change in the number of hex digits, and a streamed answer's largest piece.
  for (const std::size_t size : {1UL, 9UL, 10UL, 15UL, 16UL, 17UL, 255UL, 256UL, 4095UL, 4096UL, 65535UL, 65536UL}) {
    const std::string piece(size, 'x');
    const std::string expected = beast::buffers_to_string(http::make_chunk(asio::buffer(piece)));
    EXPECT_EQ(framed(piece), expected) << "a piece of " << size << " bytes";
  }
  EXPECT_EQ(framed("hello"), "5\r\nhello\r\n");
  EXPECT_EQ(framed(std::string(0xabc, '.')).substr(0, 5), "abc\r\n");
}

TEST(ChunkFrame, AnEmptyPieceFramesToNothing) {
  const ChunkFrame frame("");
  EXPECT_EQ(asio::buffer_size(frame.buffers()), 0U);
}

TEST(ChunkFrame, BeastsParserReadsThePiecesBack) {
  const std::vector<std::string> pieces = {"first", std::string(300, 'b'), "", "last"};
  std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const auto& piece : pieces) wire += framed(piece);
  wire += "0\r\n\r\n";

  http::response_parser<http::string_body> parser;
  parser.eager(true);
  boost::system::error_code error;
  const std::size_t used = parser.put(asio::buffer(wire), error);
  ASSERT_FALSE(error) << error.message();
  EXPECT_EQ(used, wire.size());
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.get().body(), "first" + std::string(300, 'b') + "last");
}

}  // namespace
}  // namespace snapbus::net
