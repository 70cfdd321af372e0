#include "snapbus/resolve_endpoints.h"

#include <charconv>
#include <cstdint>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace snapbus::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

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
  tcp::resolver resolver(co_await asio::this_coro::executor);
  co_return co_await resolver.async_resolve(host, port, asio::redirect_error(asio::use_awaitable, error));
}

}  // namespace snapbus::net
