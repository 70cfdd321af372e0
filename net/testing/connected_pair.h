// Both ends of one TCP connection on 127.0.0.1, for the tests of what net/ does to a socket.
//
//   asio::io_context io;
//   snapbus::net::testing::ConnectedPair pair(io);
//   asio::write(pair.far, asio::buffer("x", 1));   // pair.near has a byte to read
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace snapbus::net::testing {

struct ConnectedPair {
  explicit ConnectedPair(boost::asio::io_context& io) : near(io), far(io) {
    using boost::asio::ip::tcp;
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    near.connect(acceptor.local_endpoint());
    acceptor.accept(far);
  }
  boost::asio::ip::tcp::socket near;  // the end under test
  boost::asio::ip::tcp::socket far;   // the peer the test plays
};

}  // namespace snapbus::net::testing
