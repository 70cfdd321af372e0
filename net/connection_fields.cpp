#include "snapbus/connection_fields.h"

#include <boost/beast/core/string.hpp>

namespace snapbus::net {

// By length first: a name is compared with the one or two fields of its length, not all eight (the
// adapter asks for every header of every event).
bool is_connection_field(std::string_view name) {
  using boost::beast::iequals;
  switch (name.size()) {
    case 2: return iequals(name, "te");
    case 6: return iequals(name, "expect");
    case 7: return iequals(name, "upgrade");
    case 10: return iequals(name, "connection") || iequals(name, "keep-alive");
    case 14: return iequals(name, "content-length");
    case 16: return iequals(name, "proxy-connection");
    case 17: return iequals(name, "transfer-encoding");
    default: return false;
  }
}

}  // namespace snapbus::net
