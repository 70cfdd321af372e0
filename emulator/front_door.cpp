#include "front_door.h"

#include <cctype>
#include <ctime>
#include <map>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "base64.h"
#include "runtime_api.h"

namespace snapbus::emulator {
namespace {

constexpr std::string_view kPreludeEnd("\0\0\0\0\0\0\0\0", 8);

std::string url_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() &&
               std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

bool is_text(std::string_view content_type) {
  const std::string type = boost::algorithm::to_lower_copy(std::string(content_type));
  return type.rfind("text/", 0) == 0 || type.find("json") != std::string::npos ||
         type.find("xml") != std::string::npos || type.find("javascript") != std::string::npos ||
         type.find("x-www-form-urlencoded") != std::string::npos;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  return std::string(s.substr(first, s.find_last_not_of(' ') - first + 1));
}

std::string header_value(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return boost::json::serialize(v);
}

std::optional<HttpReply> reply_head(const boost::json::object& o) {
  HttpReply reply;
  if (const auto* status = o.if_contains("statusCode")) {
    std::int64_t code = 0;
    if (status->is_int64()) {
      code = status->as_int64();
    } else if (status->is_uint64()) {
      code = static_cast<std::int64_t>(status->as_uint64());
    } else {
      return std::nullopt;
    }
    if (code < 100 || code > 599) return std::nullopt;
    reply.status = static_cast<http::status>(code);
  }
  if (const auto* headers = o.if_contains("headers")) {
    if (!headers->is_object()) return std::nullopt;
    for (const auto& [name, value] : headers->as_object()) reply.headers.insert(name, header_value(value));
  }
  if (const auto* cookies = o.if_contains("cookies")) {
    if (!cookies->is_array()) return std::nullopt;
    for (const auto& cookie : cookies->as_array()) reply.headers.insert(http::field::set_cookie, header_value(cookie));
  }
  return reply;
}

asio::awaitable<void> send_reply(HttpExchange& ex, HttpReply reply) {
  const std::string content_type(reply.headers[http::field::content_type]);
  reply.headers.erase(http::field::content_type);
  co_await ex.respond(reply.status, std::move(reply.body), content_type, &reply.headers);
}

asio::awaitable<void> send_complete(HttpExchange& ex, const Invocation& inv, bool raw) {
  if (!inv.error_type.empty()) {
    http::fields headers;
    if (raw) {
      // The Invoke API answers 200 and flags the function error in a header.
      headers.set("X-Amz-Function-Error", "Unhandled");
      co_await ex.respond(http::status::ok, inv.error_body, "application/json", &headers);
    } else {
      headers.set("x-amzn-ErrorType", inv.error_type);
      co_await ex.respond(http::status::bad_gateway, inv.error_body, "application/json", &headers);
    }
    co_return;
  }
  if (raw) {
    // (No conditional operator inside co_await: GCC 12 destroys such temporaries twice.)
    std::string content_type = inv.content_type;
    if (content_type.empty()) content_type = "application/json";
    co_await ex.respond(http::status::ok, inv.data, content_type);
    co_return;
  }
  if (auto reply = function_url_reply(inv.data)) {
    co_await send_reply(ex, std::move(*reply));
  } else {
    co_await ex.respond_error(http::status::bad_gateway, "Runtime.InvalidResponse",
                              "the function returned a malformed Function URL response");
  }
}

}  // namespace

std::string function_url_event(const http::request_header<>& head, const std::string& body,
                               const std::string& source_ip, std::chrono::system_clock::time_point now) {
  namespace json = boost::json;
  const std::string_view target = head.target();
  const auto question = target.find('?');
  const std::string raw_path(target.substr(0, question));
  const std::string raw_query = question == std::string_view::npos ? "" : std::string(target.substr(question + 1));

  json::object headers;
  json::array cookies;
  for (const auto& field : head) {
    const std::string name = boost::algorithm::to_lower_copy(std::string(field.name_string()));
    const std::string value(field.value());
    if (name == "cookie") {
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto semi = rest.find(';');
        if (auto cookie = trim(rest.substr(0, semi)); !cookie.empty()) cookies.emplace_back(cookie);
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      }
      continue;
    }
    if (auto* existing = headers.if_contains(name)) {
      existing->as_string() = std::string(existing->as_string()) + "," + value;
    } else {
      headers[name] = value;
    }
  }

  std::map<std::string, std::string> query;
  std::string_view rest = raw_query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string key = url_decode(pair.substr(0, eq));
    const std::string value = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    auto [it, inserted] = query.emplace(key, value);
    if (!inserted) it->second += "," + value;
  }

  const std::string host(head[http::field::host]);
  const std::string domain = host.empty() ? "localhost" : host.substr(0, host.find(':'));
  const auto epoch_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char time_text[40];
  std::strftime(time_text, sizeof time_text, "%d/%b/%Y:%H:%M:%S +0000", &utc);

  json::object http_ctx;
  http_ctx["method"] = std::string(head.method_string());
  http_ctx["path"] = raw_path;
  http_ctx["protocol"] = "HTTP/1.1";
  http_ctx["sourceIp"] = source_ip;
  http_ctx["userAgent"] = std::string(head[http::field::user_agent]);

  json::object context;
  context["accountId"] = "anonymous";
  context["apiId"] = "snapbusemulator";
  context["domainName"] = domain;
  context["domainPrefix"] = domain.substr(0, domain.find('.'));
  context["http"] = std::move(http_ctx);
  context["requestId"] = new_uuid();
  context["routeKey"] = "$default";
  context["stage"] = "$default";
  context["time"] = time_text;
  context["timeEpoch"] = epoch_ms;

  json::object event;
  event["version"] = "2.0";
  event["routeKey"] = "$default";
  event["rawPath"] = raw_path;
  event["rawQueryString"] = raw_query;
  if (!cookies.empty()) event["cookies"] = std::move(cookies);
  event["headers"] = std::move(headers);
  if (!query.empty()) {
    json::object params;
    for (auto& [k, v] : query) params[k] = v;
    event["queryStringParameters"] = std::move(params);
  }
  event["requestContext"] = std::move(context);
  if (!body.empty()) {
    const bool text = is_text(head[http::field::content_type]);
    event["body"] = text ? body : base64_encode(body);
    event["isBase64Encoded"] = !text;
  } else {
    event["isBase64Encoded"] = false;
  }
  return json::serialize(event);
}

std::optional<HttpReply> function_url_reply(std::string_view payload) {
  boost::system::error_code ec;
  auto value = boost::json::parse(payload, ec);
  const bool structured = !ec && value.is_object() && value.as_object().contains("statusCode");
  if (!structured) {
    // Lambda's rule: anything else is the body of a 200 application/json response.
    HttpReply reply;
    reply.headers.set(http::field::content_type, "application/json");
    reply.body = std::string(payload);
    return reply;
  }
  const auto& o = value.as_object();
  auto reply = reply_head(o);
  if (!reply) return std::nullopt;
  if (const auto* body = o.if_contains("body")) {
    std::string text = body->is_string() ? std::string(body->as_string()) : boost::json::serialize(*body);
    const auto* b64 = o.if_contains("isBase64Encoded");
    if (b64 != nullptr && b64->is_bool() && b64->as_bool()) {
      auto decoded = base64_decode(text);
      if (!decoded) return std::nullopt;
      text = std::move(*decoded);
    }
    reply->body = std::move(text);
  }
  return reply;
}

std::optional<HttpReply> parse_prelude(std::string_view prelude) {
  boost::system::error_code ec;
  auto value = boost::json::parse(prelude, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return reply_head(value.as_object());
}

asio::awaitable<void> serve_front_door(Environment& env, HttpExchange& ex) {
  std::string_view target = ex.request().target();
  const bool raw = target.substr(0, target.find('?')) == kRiePath;
  if (raw && ex.request().method() != http::verb::post) {
    throw HttpError(http::status::method_not_allowed, "MethodNotAllowed", "the invoke path expects POST");
  }
  const std::string body = co_await ex.read_body(kBufferedResponseLimit);
  std::string payload;
  if (!raw) {
    payload = function_url_event(ex.request(), body, ex.remote_address(), std::chrono::system_clock::now());
  } else if (body.empty()) {
    payload = "{}";
  } else {
    payload = body;
  }
  // The Invoke API's client context header; the Cognito identity one lets tests exercise that header too.
  std::string client_context;
  std::string cognito_identity;
  if (raw) {
    client_context = std::string(ex.header("X-Amz-Client-Context"));
    cognito_identity = std::string(ex.header("X-Amz-Cognito-Identity"));
  }
  auto inv = env.submit(std::move(payload), std::move(client_context), std::move(cognito_identity));

  bool head_sent = false;
  for (;;) {
    if (inv->mode == Invocation::Mode::kStreaming && !head_sent) {
      const bool integration = !raw && boost::iequals(inv->content_type, kHttpIntegrationContentType);
      if (!integration) {
        if (inv->complete && !inv->error_type.empty() && inv->data.empty()) {
          co_await send_complete(ex, *inv, raw);
          co_return;
        }
        http::fields headers;
        headers.set(http::field::content_type, inv->content_type);
        co_await ex.begin_chunked(http::status::ok, headers);
        head_sent = true;
      } else if (auto end = inv->data.find(kPreludeEnd); end != std::string::npos) {
        auto reply = parse_prelude(std::string_view(inv->data).substr(0, end));
        inv->data.erase(0, end + kPreludeEnd.size());
        if (!reply) {
          co_await ex.respond_error(http::status::bad_gateway, "Runtime.InvalidResponse",
                                    "the streamed response does not start with a valid JSON prelude");
          co_return;
        }
        co_await ex.begin_chunked(reply->status, reply->headers);
        head_sent = true;
      } else if (inv->complete) {
        if (inv->error_type.empty()) {
          co_await ex.respond_error(http::status::bad_gateway, "Runtime.InvalidResponse",
                                    "the streamed response ended before the prelude's 8 NUL bytes");
        } else {
          co_await send_complete(ex, *inv, raw);
        }
        co_return;
      }
    }
    if (head_sent) {
      if (!inv->data.empty()) {
        std::string piece;
        piece.swap(inv->data);
        co_await ex.write_chunk(piece);
        continue;
      }
      if (inv->complete) {
        if (inv->error_type.empty()) {
          co_await ex.end_chunked();
        } else if (raw) {
          http::fields trailers;
          trailers.set("Lambda-Runtime-Function-Error-Type", inv->error_type);
          trailers.set("Lambda-Runtime-Function-Error-Body", base64_encode(inv->error_body));
          co_await ex.end_chunked(&trailers);
        } else {
          // A Function URL client has no trailers: an unterminated body is how it learns of the failure.
          ex.close_after();
        }
        co_return;
      }
    } else if (inv->complete && inv->mode != Invocation::Mode::kStreaming) {
      co_await send_complete(ex, *inv, raw);
      co_return;
    }
    co_await inv->wait_change();
  }
}

}  // namespace snapbus::emulator
