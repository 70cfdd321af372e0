#include "snapbus/connection_fields.h"

#include <array>

#include <boost/beast/core/string.hpp>

namespace snapbus::net {

bool is_connection_field(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kFields = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "content-length", "expect"};
  for (const std::string_view field : kFields) {
    if (boost::beast::iequals(name, field)) return true;
  }
  return false;
}

}  // namespace snapbus::net
