#include "listener_probe.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace snapbus::adapter {
namespace {

using tcp = boost::asio::ip::tcp;

struct LookupRequest {
  nlmsghdr header;
  inet_diag_req_v2 lookup;
};

// The lookup is the one an incoming SYN makes: from port 0 of the same address to `endpoint`. Port 0
// is never a real connection's, so no established socket can match and only a listener is found.
LookupRequest lookup_of(const tcp::endpoint& endpoint, std::uint32_t sequence) {
  LookupRequest request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.header.nlmsg_flags = NLM_F_REQUEST;  // no NLM_F_DUMP: one exact lookup
  request.header.nlmsg_seq = sequence;
  request.lookup.sdiag_protocol = IPPROTO_TCP;
  request.lookup.idiag_states = ~0U;
  request.lookup.id.idiag_sport = htons(endpoint.port());
  request.lookup.id.idiag_dport = 0;
  request.lookup.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  request.lookup.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  if (endpoint.address().is_v4()) {
    request.lookup.sdiag_family = AF_INET;
    const auto bytes = endpoint.address().to_v4().to_bytes();
    std::memcpy(&request.lookup.id.idiag_src[0], bytes.data(), bytes.size());
    std::memcpy(&request.lookup.id.idiag_dst[0], bytes.data(), bytes.size());
  } else {
    request.lookup.sdiag_family = AF_INET6;
    const auto bytes = endpoint.address().to_v6().to_bytes();
    std::memcpy(request.lookup.id.idiag_src, bytes.data(), bytes.size());
    std::memcpy(request.lookup.id.idiag_dst, bytes.data(), bytes.size());
  }
  return request;
}

// A listener of the probe's own on 127.0.0.1, to check the kernel's answers against.
struct OwnListener {
  UniqueFd fd;
  tcp::endpoint endpoint;
};

std::optional<OwnListener> listen_on_loopback() {
  OwnListener own{UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), {}};
  if (!own.fd) return std::nullopt;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(own.fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(own.fd.get(), 1) != 0 ||
      ::getsockname(own.fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return std::nullopt;
  }
  own.endpoint = tcp::endpoint(boost::asio::ip::address_v4::loopback(), ntohs(address.sin_port));
  return own;
}

}  // namespace

std::optional<ListenerProbe> ListenerProbe::open(std::string* why_not) {
  const auto fail = [why_not](std::string reason) -> std::optional<ListenerProbe> {
    if (why_not != nullptr) *why_not = std::move(reason);
    return std::nullopt;
  };
  UniqueFd netlink(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!netlink) return fail(std::string("socket(AF_NETLINK, NETLINK_SOCK_DIAG): ") + std::strerror(errno));
  ListenerProbe probe(std::move(netlink));
  std::optional<OwnListener> own = listen_on_loopback();
  if (!own) return fail(std::string("cannot listen on 127.0.0.1 to check the lookups: ") + std::strerror(errno));
  if (probe.listening(own->endpoint) != true) {
    return fail("the kernel's socket lookup does not find a listener that is there");
  }
  const tcp::endpoint closed = own->endpoint;
  own.reset();
  if (probe.listening(closed) != false) {
    return fail("the kernel's socket lookup does not say \"not found\" for a closed port");
  }
  return probe;
}

std::optional<bool> ListenerProbe::listening(const tcp::endpoint& endpoint) {
  if (!endpoint.address().is_loopback()) return std::nullopt;
  const std::uint32_t sequence = ++sequence_;
  const LookupRequest request = lookup_of(endpoint, sequence);
  if (::send(netlink_.get(), &request, sizeof request, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof request)) {
    return std::nullopt;
  }
  // The kernel answers within send(); anything else queued is an earlier lookup's, and skipped.
  alignas(nlmsghdr) std::array<char, 1024> reply{};
  for (;;) {
    const ssize_t received = ::recv(netlink_.get(), reply.data(), reply.size(), MSG_DONTWAIT);
    if (received < 0 && errno == EINTR) continue;
    if (received < static_cast<ssize_t>(sizeof(nlmsghdr))) return std::nullopt;
    const auto* header = reinterpret_cast<const nlmsghdr*>(reply.data());
    if (!NLMSG_OK(header, static_cast<unsigned>(received))) return std::nullopt;
    if (header->nlmsg_seq != sequence) continue;
    const char* payload = reply.data() + NLMSG_HDRLEN;
    if (header->nlmsg_type == NLMSG_ERROR && header->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
      const auto* error = reinterpret_cast<const nlmsgerr*>(payload);
      if (error->error == -ENOENT) return false;
      return std::nullopt;
    }
    if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY || header->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
      return std::nullopt;
    }
    const auto* found = reinterpret_cast<const inet_diag_msg*>(payload);
    if (found->idiag_state == TCP_LISTEN) return true;
    return std::nullopt;
  }
}

}  // namespace snapbus::adapter
