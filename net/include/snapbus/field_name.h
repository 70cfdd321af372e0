// Whether a string can be the name of an HTTP header field: an RFC 9110 token (section 5.1), one or
// more of the letters, digits and !#$%&'*+-.^_`|~. JSON carries any string as a header name, and
// configuration can name anything; HTTP can carry only these. And which bytes a field's value may
// hold.
//
//   // not sent: it would break the request
//   if (!snapbus::net::is_field_name(name) || !snapbus::net::is_field_value(value)) continue;
#pragma once

#include <string_view>

namespace snapbus::net {

bool is_field_name(std::string_view name);

// RFC 9110's field-value bytes: tab, space, visible ASCII and obs-text. Go's net/http (Lambda's
// Runtime API) and Beast's parser refuse a value with any other control byte, and a CR or LF would
// end the field early and let the value forge fields of its own.
constexpr bool is_field_value_char(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return (byte >= 0x20 || byte == '\t') && byte != 0x7f;
}

// Whether every byte of `value` is one (is_field_value_char), eight bytes at a time: the adapter
// checks every header value of every event.
bool is_field_value(std::string_view value);

}  // namespace snapbus::net
