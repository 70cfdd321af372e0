// Where to connect for a host and port, without a resolver thread when the host is an address.
//
//   boost::system::error_code error;
//   auto endpoints = co_await snapbus::net::resolve_endpoints("127.0.0.1", "9001", error);  // no thread
//   endpoints = co_await snapbus::net::resolve_endpoints("localhost", "9001", error);      // getaddrinfo
//
// Asio's asynchronous resolver runs getaddrinfo on a thread it starts at the first call and keeps
// for the life of the io_context: a thread, its stack and its malloc arena in a process that
// otherwise has one thread. In Lambda every peer is an address (AWS_LAMBDA_RUNTIME_API, the app on
// 127.0.0.1), so that thread is only started for a name.
#pragma once

#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace snapbus::net {

boost::asio::awaitable<boost::asio::ip::tcp::resolver::results_type> resolve_endpoints(
    const std::string& host, const std::string& port, boost::system::error_code& error);

}  // namespace snapbus::net
