#include "app_forwarder.h"
#include "snapbus/http_event.h"
namespace snapbus::adapter {
AppForwarder::AppForwarder(boost::asio::any_io_executor executor, const AdapterConfig& config)
    : config_(config), app_(executor, {.host = config.app_host, .port = std::to_string(config.app_port)}) {}
boost::asio::awaitable<lambda::CallResult<void>> AppForwarder::serve(lambda::InvocationRequest event,
                                                                     lambda::RuntimeClient& runtime) {
  auto req = lambda::request_from_event(event.payload, {.remove_base_path = config_.remove_base_path});
  net::Request request{boost::beast::http::string_to_verb(req.method), req.target, 11};
  for (auto& [k, v] : req.headers) request.insert(k, v);
  request.body() = req.body;
  auto answer = co_await app_.request(std::move(request));
  lambda::HttpAppResponse response;
  response.status = answer->result_int();
  for (auto& f : *answer) response.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  response.body = answer->body();
  co_return co_await runtime.post_response(event.request_id, lambda::result_from_response(req.shape, response));
}
}  // namespace snapbus::adapter
