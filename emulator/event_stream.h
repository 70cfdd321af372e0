// Messages of the AWS event stream encoding (application/vnd.amazon.eventstream), in which Lambda's
// InvokeWithResponseStream answers: each message is a prelude (total length, headers length, CRC32
// of the two), string headers, the payload, and a CRC32 of all of it.
//
//   co_await ex.write_chunk(payload_chunk_event(bytes_from_the_function));
//   co_await ex.write_chunk(invoke_complete_event("", ""));   // {} : the invocation succeeded
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace snapbus::emulator {

// The media type of an event stream body.
inline constexpr std::string_view kContentTypeEventStream = "application/vnd.amazon.eventstream";

// One message whose headers are all strings (type 7), in the order given. Throws
// std::length_error for a header name over 255 bytes or a value over 65,535.
std::string event_stream_message(const std::vector<std::pair<std::string_view, std::string_view>>& headers,
                                 std::string_view payload);

// The most bytes one PayloadChunk carries here: well below the 16 MiB payload that the Go SDK's and
// older botocore's decoders accept in one event (24 MiB in newer botocore).
inline constexpr std::size_t kPayloadChunkLimit = std::size_t{1} << 20;

// A PayloadChunk event: bytes of the function's response.
std::string payload_chunk_event(std::string_view bytes);

// The InvokeComplete event that ends the stream: {} when the invocation succeeded, else
// {"ErrorCode": <the error type>, "ErrorDetails": <the error, as the function reported it>}; with
// "LogResult": <the log's tail, base64> when the caller asked for it (LogType Tail).
std::string invoke_complete_event(std::string_view error_code, std::string_view error_details,
                                  std::string_view log_result = {});

}  // namespace snapbus::emulator
