// Whether a string can be the name of an HTTP header field: an RFC 9110 token (section 5.1), one or
// more of the letters, digits and !#$%&'*+-.^_`|~. JSON carries any string as a header name, and
// configuration can name anything; HTTP can carry only these.
//
//   if (!snapbus::net::is_field_name(name)) continue;  // not sent: it would break the request
#pragma once

#include <string_view>

namespace snapbus::net {

bool is_field_name(std::string_view name);

}  // namespace snapbus::net
