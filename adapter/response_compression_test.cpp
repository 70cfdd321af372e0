#include "response_compression.h"

#include <brotli/decode.h>
#include <zlib.h>

#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace snapbus::adapter {
namespace {

std::string inflate_all(const std::string& data, int window_bits) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, window_bits), Z_OK);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

std::string brotli_decode(const std::string& data) {
  std::string out(1 << 20, '\0');
  std::size_t size = out.size();
  EXPECT_EQ(BrotliDecoderDecompress(data.size(), reinterpret_cast<const std::uint8_t*>(data.data()), &size,
                                    reinterpret_cast<std::uint8_t*>(out.data())),
            BROTLI_DECODER_RESULT_SUCCESS);
  out.resize(size);
  return out;
}

std::string sample_body() {
  std::string body;
  for (int i = 0; i < 200; ++i) body += R"({"id":)" + std::to_string(i) + R"(,"name":"item"},)";
  return body;
}

TEST(ResponseCompression, ChoosesByQualityThenPreference) {
  EXPECT_EQ(choose_coding("gzip, deflate, br"), ContentCoding::br);
  EXPECT_EQ(choose_coding("gzip;q=1.0, br;q=0.5"), ContentCoding::gzip);
  EXPECT_EQ(choose_coding("deflate"), ContentCoding::deflate);
  EXPECT_EQ(choose_coding("GZIP"), ContentCoding::gzip);
  EXPECT_EQ(choose_coding("*"), ContentCoding::br);
  EXPECT_EQ(choose_coding("br;q=0, *;q=0.3"), ContentCoding::gzip);
  EXPECT_EQ(choose_coding(""), std::nullopt);
  EXPECT_EQ(choose_coding("identity"), std::nullopt);
  EXPECT_EQ(choose_coding("gzip;q=0.5, identity"), std::nullopt);
  EXPECT_EQ(choose_coding("gzip, identity;q=0.5"), ContentCoding::gzip);
  EXPECT_EQ(choose_coding("gzip, identity"), ContentCoding::gzip);
  EXPECT_EQ(choose_coding("gzip;q=0"), std::nullopt);
  EXPECT_EQ(choose_coding("gzip;q=banana"), std::nullopt);
  EXPECT_EQ(choose_coding("zstd"), std::nullopt);
}

TEST(ResponseCompression, LeavesAloneWhatDoesNotPay) {
  EXPECT_FALSE(worth_compressing({}, 32));
  EXPECT_TRUE(worth_compressing({}, 33));
  EXPECT_FALSE(worth_compressing({{"Content-Type", "image/png"}}, 5000));
  EXPECT_TRUE(worth_compressing({{"Content-Type", "image/svg+xml"}}, 5000));
  EXPECT_FALSE(worth_compressing({{"content-type", "text/event-stream"}}, 5000));
  EXPECT_FALSE(worth_compressing({{"content-encoding", "gzip"}}, 5000));
  EXPECT_FALSE(worth_compressing({{"content-type", "application/pdf"}, {"Content-Range", "bytes 0-4999/90000"}}, 5000));
  EXPECT_TRUE(worth_compressing({{"content-type", "application/json; charset=utf-8"}}, 5000));
}

TEST(ResponseCompression, EveryCodingRoundTrips) {
  const std::string body = sample_body();
  EXPECT_EQ(inflate_all(compress(ContentCoding::gzip, body), 15 + 16), body);
  EXPECT_EQ(inflate_all(compress(ContentCoding::deflate, body), 15), body);
  EXPECT_EQ(brotli_decode(compress(ContentCoding::br, body)), body);
  EXPECT_LT(compress(ContentCoding::gzip, body).size(), body.size() / 4);
  EXPECT_EQ(inflate_all(compress(ContentCoding::gzip, ""), 15 + 16), "");
}

TEST(ResponseCompression, ResponseGetsItsHeadersAndGoesBackAsBase64) {
  lambda::HttpAppResponse response{
      .status = 200,
      .headers = {{"content-type", "application/json"}, {"content-length", "9999"}, {"Accept-Ranges", "bytes"}},
      .body = sample_body()};
  ASSERT_TRUE(compress_response("gzip", response));
  EXPECT_EQ(inflate_all(response.body, 15 + 16), sample_body());
  bool has_length = false;
  bool has_ranges = false;
  bool has_encoding = false;
  for (const auto& [name, value] : response.headers) {
    has_length |= name == "content-length";
    has_ranges |= name == "Accept-Ranges";
    has_encoding |= name == "content-encoding" && value == "gzip";
  }
  EXPECT_FALSE(has_length);
  EXPECT_FALSE(has_ranges);
  EXPECT_TRUE(has_encoding);
  const auto result =
      boost::json::parse(lambda::result_from_response({.source = lambda::EventSource::function_url}, response));
  EXPECT_TRUE(result.at("isBase64Encoded").as_bool());

  lambda::HttpAppResponse tiny{.status = 200, .headers = {}, .body = "ok"};
  EXPECT_FALSE(compress_response("gzip", tiny));
  EXPECT_EQ(tiny.body, "ok");
}

}  // namespace
}  // namespace snapbus::adapter
