#include "event_stream.h"

#include <gtest/gtest.h>

#include <boost/algorithm/hex.hpp>
#include <boost/json.hpp>

namespace snapbus::emulator {
namespace {

std::string hex(const std::string& bytes) { return boost::algorithm::hex_lower(bytes); }

// The payload of an encoded message: after the 12-byte prelude and the headers, before the CRC.
std::string payload_of(const std::string& message) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(message[i])); };
  const std::uint32_t headers = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
  return message.substr(12 + headers, message.size() - 12 - headers - 4);
}

TEST(EventStream, AnEmptyMessageIsTheSpecsVector) {
  // The AWS event stream test vector "empty_message": total 16, no headers, prelude and message CRC32.
  EXPECT_EQ(hex(event_stream_message({}, "")), "000000100000000005c248eb7d98c8ff");
}

TEST(EventStream, APayloadChunkCarriesItsBytesAsTheyAre) {
  // Encoded independently (Python's struct and zlib.crc32), and decoded by botocore's EventStreamBuffer.
  EXPECT_EQ(hex(payload_chunk_event(std::string("hi\0", 3))),
            "0000006d0000005a8f3ed47f0b3a6576656e742d7479706507000c5061796c6f61644368756e6b0d3a636f6e74656e742d74797065"
            "0700186170706c69636174696f6e2f6f637465742d73747265616d0d3a6d6573736167652d747970650700056576656e74686900"
            "085628c3");
}

TEST(EventStream, InvokeCompleteSaysWhetherTheInvocationFailed) {
  EXPECT_EQ(payload_of(invoke_complete_event("", "")), "{}");
  const auto failed = boost::json::parse(payload_of(invoke_complete_event("StreamBroke", R"({"errorMessage":"x"})")));
  EXPECT_EQ(failed.at("ErrorCode"), "StreamBroke");
  EXPECT_EQ(failed.at("ErrorDetails"), R"({"errorMessage":"x"})");
  EXPECT_NE(invoke_complete_event("", "").find("InvokeComplete"), std::string::npos);
  EXPECT_EQ(payload_of(invoke_complete_event("", "", "U1RBUlQ=")), R"({"LogResult":"U1RBUlQ="})");
}

TEST(EventStream, APayloadChunkFitsEverySdksDecoder) {
  // The Go SDK and Debian's botocore decode at most 16 MiB of payload in one event.
  EXPECT_LE(kPayloadChunkLimit, std::size_t{16} << 20);
  EXPECT_GE(kPayloadChunkLimit, std::size_t{64} << 10);
}

TEST(EventStream, HeadersPastTheirFieldsAreRefused) {
  const std::string long_name(256, 'n');
  const std::string long_value(65536, 'v');
  EXPECT_THROW(event_stream_message({{long_name, "v"}}, ""), std::length_error);
  EXPECT_THROW(event_stream_message({{"n", long_value}}, ""), std::length_error);
  EXPECT_NO_THROW(event_stream_message({{std::string(255, 'n'), std::string(65535, 'v')}}, ""));
}

}  // namespace
}  // namespace snapbus::emulator
