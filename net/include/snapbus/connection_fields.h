// Header fields that belong to one HTTP connection, not to the message it carries: a proxy or an
// adapter that sends the message on over a connection of its own drops them and lets that
// connection set its own (RFC 9110 section 7.6.1, plus the framing fields).
//
//   for (const auto& field : incoming) {
//     if (!snapbus::net::is_connection_field(field.name_string())) outgoing.insert(field.name_string(), field.value());
//   }
#pragma once

#include <string_view>

namespace snapbus::net {

// Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, TE, Upgrade, Content-Length and
// Expect, in any case. Expect is here because whoever relays a body answers 100-continue itself:
// passing it on would bring the next hop's interim 100 back as if it were the answer.
bool is_connection_field(std::string_view name);

}  // namespace snapbus::net
