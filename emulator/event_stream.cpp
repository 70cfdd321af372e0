#include "event_stream.h"

#include <cstdint>
#include <stdexcept>

#include <boost/crc.hpp>
#include <boost/json.hpp>

namespace snapbus::emulator {
namespace {

constexpr std::uint8_t kHeaderTypeString = 7;

void put_big_endian(std::string& out, std::uint32_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

std::uint32_t crc32_of(std::string_view bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::string event(std::string_view type, std::string_view content_type, std::string_view payload) {
  return event_stream_message({{":event-type", type}, {":content-type", content_type}, {":message-type", "event"}},
                              payload);
}

}  // namespace

std::string event_stream_message(const std::vector<std::pair<std::string_view, std::string_view>>& headers,
                                 std::string_view payload) {
  std::string encoded_headers;
  for (const auto& [name, value] : headers) {
    if (name.size() > 0xff) throw std::length_error("an event stream header name is over 255 bytes");
    if (value.size() > 0xffff) throw std::length_error("an event stream header value is over 65,535 bytes");
    put_big_endian(encoded_headers, static_cast<std::uint32_t>(name.size()), 1);
    encoded_headers += name;
    put_big_endian(encoded_headers, kHeaderTypeString, 1);
    put_big_endian(encoded_headers, static_cast<std::uint32_t>(value.size()), 2);
    encoded_headers += value;
  }
  // Prelude (12 bytes), headers, payload, message CRC (4 bytes).
  const std::size_t total = 12 + encoded_headers.size() + payload.size() + 4;
  if (total > UINT32_MAX) throw std::length_error("an event stream message is over 4 GiB");
  std::string message;
  message.reserve(total);
  put_big_endian(message, static_cast<std::uint32_t>(total), 4);
  put_big_endian(message, static_cast<std::uint32_t>(encoded_headers.size()), 4);
  put_big_endian(message, crc32_of(message), 4);
  message += encoded_headers;
  message += payload;
  put_big_endian(message, crc32_of(message), 4);
  return message;
}

std::string payload_chunk_event(std::string_view bytes) {
  return event("PayloadChunk", "application/octet-stream", bytes);
}

std::string invoke_complete_event(std::string_view error_code, std::string_view error_details,
                                  std::string_view log_result) {
  boost::json::object complete;
  if (!error_code.empty()) {
    complete["ErrorCode"] = error_code;
    complete["ErrorDetails"] = error_details;
  }
  if (!log_result.empty()) complete["LogResult"] = log_result;
  return event("InvokeComplete", "application/json", boost::json::serialize(complete));
}

}  // namespace snapbus::emulator
