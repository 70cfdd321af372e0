// libFuzzer target for the listen notice's datagrams (listen_notice_wire.h): any process of the
// network namespace can send one to the adapter's socket.
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target listen_notice_fuzz
//   build/fuzz/adapter/listen_notice_fuzz -max_total_time=60 adapter/fuzz/corpus/listen_notice
//
// Beyond "no crash": whatever parse_listen_notice accepts is exactly the text the library would
// have sent for it, so there is one spelling of each notice and nothing around it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "listen_notice.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view datagram(reinterpret_cast<const char*>(data), size);
  const auto notice = snapbus::adapter::parse_listen_notice(datagram);
  if (!notice) return 0;
  using Kind = snapbus::adapter::ListenNotice::Kind;
  const std::string pid = std::to_string(notice->pid);
  std::string canonical;
  switch (notice->kind) {
    case Kind::hello: canonical = "hello " + pid; break;
    case Kind::unheard: canonical = "unheard " + pid; break;
    case Kind::exec: canonical = "exec " + pid; break;
    case Kind::spawn: canonical = "spawn " + pid; break;
    case Kind::listen:
      if (notice->port == 0) std::abort();
      canonical = "listen " + pid + " " + std::to_string(notice->port);
      break;
  }
  if (notice->pid <= 0 || canonical != datagram) std::abort();
  return 0;
}
