#include "request_head.h"

#include <cstddef>

namespace snapbus::net {

std::string request_head(const boost::beast::http::request_header<>& header) {
  const auto method = header.method_string();
  const auto target = header.target();
  std::size_t size = method.size() + target.size() + sizeof(" HTTP/1.1\r\n\r\n");
  for (const auto& field : header) size += field.name_string().size() + field.value().size() + 4;
  std::string out;
  out.reserve(size);
  out.append(method.data(), method.size());
  out.push_back(' ');
  out.append(target.data(), target.size());
  out.append(" HTTP/");
  out.push_back(static_cast<char>('0' + header.version() / 10));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + header.version() % 10));
  out.append("\r\n");
  for (const auto& field : header) {
    const auto name = field.name_string();
    const auto value = field.value();
    out.append(name.data(), name.size());
    out.append(": ");
    out.append(value.data(), value.size());
    out.append("\r\n");
  }
  out.append("\r\n");
  return out;
}

}  // namespace snapbus::net
