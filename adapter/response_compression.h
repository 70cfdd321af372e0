// Compression of buffered responses (AWS_LWA_ENABLE_COMPRESSION), as Lambda Web Adapter does it:
// gzip, deflate or Brotli as the client's Accept-Encoding prefers, and only where it pays and is
// safe (not tiny bodies, images, event streams, ranges, or bodies the app already encoded).
//
//   if (auto coding = choose_coding(request_accept_encoding); coding && worth_compressing(headers, body.size())) {
//     body = compress(*coding, body);
//     headers: set content-encoding to to_string(*coding), drop content-length and accept-ranges,
//     add vary: accept-encoding
//   }
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "snapbus/http_event.h"

namespace snapbus::adapter {

enum class ContentCoding { br, gzip, deflate };
std::string_view to_string(ContentCoding coding);

// The coding the client accepts with the highest q-value (ties: br, then gzip, then deflate);
// nullopt when it accepts none of them (or no Accept-Encoding was sent), or prefers identity, named
// with a higher q-value than any of them.
std::optional<ContentCoding> choose_coding(std::string_view accept_encoding);

// Bodies of 32 bytes or less, images (other than SVG), text/event-stream, parts of a body (a
// Content-Range) and anything that already has a Content-Encoding are left alone.
bool worth_compressing(const lambda::HeaderList& response_headers, std::size_t body_size);

// The body encoded with `coding`. Throws std::runtime_error if the library fails (out of memory).
std::string compress(ContentCoding coding, std::string_view body);

// Applies all of the above to a buffered response in place: returns true when it compressed.
bool compress_response(std::string_view accept_encoding, lambda::HttpAppResponse& response);

}  // namespace snapbus::adapter
