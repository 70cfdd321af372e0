// The trailer fields that end a chunked body, kept apart from its header. Beast's http::fields
// holds at most 65,533 bytes per value, and a runtime's error trailer (the base64 of its whole error,
// stack and all) can be longer; a list of plain strings has no such limit.
//
//   snapbus::net::Trailers trailers{{"Lambda-Runtime-Function-Error-Type", "Runtime.Unhandled"}};
//   co_await upload->finish(trailers);                      // sent after the last chunk
//   const std::string* type = find_trailer(trailers, "lambda-runtime-function-error-type");
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace snapbus::net {

struct TrailerField {
  std::string name;
  std::string value;
};

// In the order they came.
using Trailers = std::vector<TrailerField>;

// The value of the first field named `name` (letter case ignored), nullptr when there is none.
const std::string* find_trailer(const Trailers& trailers, std::string_view name);

// The trailer-part of a last chunk, as sent on the wire: "name: value\r\n" for each field, then the
// empty line. Throws std::invalid_argument for a name that is not a token or a value holding a
// control character other than tab: CR or LF would end the body somewhere else than its sender
// meant, and the receiver (Lambda's Runtime API among them) refuses the others.
std::string trailer_part(const Trailers& trailers);

}  // namespace snapbus::net
