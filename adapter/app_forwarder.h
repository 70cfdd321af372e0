// SCRATCH (lead's local stand-in until helper's module lands; not committed)
#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include "adapter_config.h"
#include "snapbus/runtime_client.h"
namespace snapbus::adapter {
class AppForwarder {
 public:
  AppForwarder(boost::asio::any_io_executor executor, const AdapterConfig& config);
  boost::asio::awaitable<lambda::CallResult<void>> serve(lambda::InvocationRequest event,
                                                         lambda::RuntimeClient& runtime);
  void drop_connections() { app_.drop_all(); }
  void expect_app_not_ready() {}

 private:
  const AdapterConfig& config_;
  net::HttpClient app_;
};
}  // namespace snapbus::adapter
