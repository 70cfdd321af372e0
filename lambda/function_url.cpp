#include "snapbus/function_url.h"

#include <ctime>
#include <map>

#include <fmt/format.h>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/json.hpp>

#include "json_text.h"
#include "snapbus/base64.h"
#include "snapbus/field_name.h"
#include "snapbus/lambda_protocol.h"
#include "snapbus/request_id.h"
#include "snapbus/text.h"
#include "snapbus/utf8_text.h"

namespace snapbus::lambda {
namespace {

bool is_text(std::string_view content_type) {
  const std::string type = boost::algorithm::to_lower_copy(std::string(content_type));
  return type.rfind("text/", 0) == 0 || type.find("json") != std::string::npos ||
         type.find("xml") != std::string::npos || type.find("javascript") != std::string::npos ||
         type.find("x-www-form-urlencoded") != std::string::npos;
}

std::string header_value(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return boost::json::serialize(v);
}

std::string protocol_of(unsigned version) { return fmt::format("HTTP/{}.{}", version / 10, version % 10); }

}  // namespace

std::string function_url_event(const http::request_header<>& head, const std::string& body,
                               const FunctionUrlOrigin& origin) {
  namespace json = boost::json;
  const std::string_view target = head.target();
  const auto question = target.find('?');
  const std::string raw_path = utf8_replacing_invalid(target.substr(0, question));
  const std::string raw_query =
      question == std::string_view::npos ? "" : utf8_replacing_invalid(target.substr(question + 1));

  json::object headers;
  json::array cookies;
  for (const auto& field : head) {
    const std::string name = boost::algorithm::to_lower_copy(utf8_replacing_invalid(field.name_string()));
    const std::string value = utf8_replacing_invalid(field.value());
    if (name == "cookie") {
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto semi = rest.find(';');
        if (auto cookie = trim(rest.substr(0, semi), " "); !cookie.empty()) cookies.emplace_back(cookie);
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      }
    }
    // Set below, as the endpoint's own.
    if (name == "x-forwarded-proto" || name == "x-forwarded-port") continue;
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
    const std::string key = utf8_replacing_invalid(percent_decoded(pair.substr(0, eq), true));
    const std::string value =
        eq == std::string_view::npos ? "" : utf8_replacing_invalid(percent_decoded(pair.substr(eq + 1), true));
    auto [it, inserted] = query.emplace(key, value);
    if (!inserted) it->second += "," + value;
  }

  const std::string host = utf8_replacing_invalid(head[http::field::host]);
  const std::string domain = host.empty() ? "localhost" : host.substr(0, host.find(':'));
  // What the endpoint adds, as a proxy: the caller's address last on x-forwarded-for.
  if (auto* forwarded = headers.if_contains("x-forwarded-for")) {
    forwarded->as_string() = std::string(forwarded->as_string()) + ", " + origin.source_ip;
  } else {
    headers["x-forwarded-for"] = origin.source_ip;
  }
  headers["x-forwarded-proto"] = origin.scheme;
  // The port the caller reached: the Host header's (after an IPv6 literal's brackets), else the scheme's.
  const auto colon = host.rfind(':');
  const bool has_port = colon != std::string::npos && host.find(']', colon) == std::string::npos;
  headers["x-forwarded-port"] =
      has_port ? host.substr(colon + 1) : std::string(origin.scheme == "https" ? "443" : "80");
  const auto now = origin.now;
  const auto epoch_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char time_text[40];
  std::strftime(time_text, sizeof time_text, "%d/%b/%Y:%H:%M:%S +0000", &utc);

  json::object http_ctx;
  http_ctx["method"] = utf8_replacing_invalid(head.method_string());
  http_ctx["path"] = raw_path;
  http_ctx["protocol"] = protocol_of(head.version());
  http_ctx["sourceIp"] = origin.source_ip;
  http_ctx["userAgent"] = utf8_replacing_invalid(head[http::field::user_agent]);

  json::object context;
  context["accountId"] = "anonymous";
  context["apiId"] = "snapbusemulator";
  context["domainName"] = domain;
  context["domainPrefix"] = domain.substr(0, domain.find('.'));
  context["http"] = std::move(http_ctx);
  context["requestId"] = origin.request_id.empty() ? new_request_id() : origin.request_id;
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
    // A text body that is not UTF-8 goes in base64 too, so that its bytes reach the function intact.
    const bool text = is_text(head[http::field::content_type]) && is_valid_utf8(body);
    event["body"] = text ? body : encode_base64(body);
    event["isBase64Encoded"] = !text;
  } else {
    event["isBase64Encoded"] = false;
  }
  return json::serialize(event);
}

std::optional<HttpReply> function_url_reply_head(const boost::json::object& result) {
  HttpReply reply;
  if (const auto* status = result.if_contains("statusCode")) {
    std::int64_t code = 0;
    if (status->is_int64()) {
      code = status->as_int64();
    } else if (status->is_uint64()) {
      code = static_cast<std::int64_t>(status->as_uint64());
    } else {
      return std::nullopt;
    }
    // 1xx are interim answers: none can end a request.
    if (code < 200 || code > 599) return std::nullopt;
    reply.status = static_cast<http::status>(code);
  }
  if (const auto* headers = result.if_contains("headers")) {
    if (!headers->is_object()) return std::nullopt;
    for (const auto& [name, value] : headers->as_object()) {
      const std::string text = header_value(value);
      if (!net::is_field_name(name) || !net::is_field_value(text)) return std::nullopt;
      reply.headers.insert(name, text);
    }
  }
  if (const auto* cookies = result.if_contains("cookies")) {
    if (!cookies->is_array()) return std::nullopt;
    for (const auto& cookie : cookies->as_array()) {
      const std::string text = header_value(cookie);
      if (!net::is_field_value(text)) return std::nullopt;
      reply.headers.insert(http::field::set_cookie, text);
    }
  }
  return reply;
}

std::optional<HttpReply> function_url_reply(std::string_view payload) {
  boost::system::error_code ec;
  auto value = boost::json::parse(payload, ec);
  const bool structured = !ec && value.is_object() && value.as_object().contains("statusCode");
  if (!structured) {
    // Lambda's rule: anything else is the body of a 200 application/json response.
    HttpReply reply;
    reply.headers.set(http::field::content_type, kContentTypeJson);
    reply.body = std::string(payload);
    return reply;
  }
  const auto& o = value.as_object();
  auto reply = function_url_reply_head(o);
  if (!reply) return std::nullopt;
  if (const auto* body = o.if_contains("body")) {
    // A body that is not a string is sent as JSON text, as the function wrote it (json_text.h).
    std::string text = body->is_string() ? std::string(body->as_string()) : member_json(payload, "body", *body);
    const auto* b64 = o.if_contains("isBase64Encoded");
    if (b64 != nullptr && b64->is_bool() && b64->as_bool()) {
      auto decoded = decode_base64(text);
      if (!decoded) return std::nullopt;
      text = std::move(*decoded);
    }
    reply->body = std::move(text);
  }
  // These statuses have no body (RFC 9110 15.3.5, 15.4.5).
  if (!reply->body.empty() &&
      (reply->status == http::status::no_content || reply->status == http::status::not_modified))
    return std::nullopt;
  return reply;
}

}  // namespace snapbus::lambda
