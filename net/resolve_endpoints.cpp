#include "snapbus/resolve_endpoints.h"

#include <charconv>
#include <cstdint>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#if SNAPBUS_STATIC_GLIBC
#include <nss.h>
#endif

namespace snapbus::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

#if SNAPBUS_STATIC_GLIBC
// Linked statically (the layer), glibc has only the NSS modules built into it, files and dns; any other
// that /etc/nsswitch.conf names for hosts (myhostname, resolve, ...) it would dlopen from the system,
// built for another glibc. So names resolve from /etc/hosts and DNS, as in Lambda Web Adapter's static
// (musl) build. Done at the first name, not at start: it reads nsswitch.conf, and in Lambda every peer
// is an address. It fails only for an unknown database or without memory, and lookups then go as
// nsswitch.conf says.
void keep_host_lookups_to_builtin_modules() {
  static const bool configured = __nss_configure_lookup("hosts", "files dns") == 0;
  static_cast<void>(configured);
}
#endif

}  // namespace

asio::awaitable<tcp::resolver::results_type> resolve_endpoints(const std::string& host, const std::string& port,
                                                               boost::system::error_code& error) {
  error = {};
  std::uint16_t number = 0;
  const auto [end, parsed] = std::from_chars(port.data(), port.data() + port.size(), number);
  const bool numeric_port = parsed == std::errc() && end == port.data() + port.size();
  if (numeric_port) {
    boost::system::error_code not_an_address;
    const auto address = asio::ip::make_address(host, not_an_address);
    if (!not_an_address) co_return tcp::resolver::results_type::create(tcp::endpoint(address, number), host, port);
  }
#if SNAPBUS_STATIC_GLIBC
  keep_host_lookups_to_builtin_modules();
#endif
  tcp::resolver resolver(co_await asio::this_coro::executor);
  co_return co_await resolver.async_resolve(host, port, asio::redirect_error(asio::use_awaitable, error));
}

}  // namespace snapbus::net
