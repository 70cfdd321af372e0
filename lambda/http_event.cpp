#include "snapbus/http_event.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>

#include "event_json.h"
#include "event_scan.h"
#include "json_text.h"
#include "snapbus/base64.h"
#include "snapbus/json_string.h"
#include "snapbus/status_reason.h"
#include "snapbus/text.h"
#include "snapbus/utf8_text.h"

namespace snapbus::lambda {
namespace {

namespace json = boost::json;

constexpr std::string_view kHex = "0123456789ABCDEF";

// What a typical HTTP event's parsed nodes take (a 3 KB REST event: about 6 KB), kept off the heap.
constexpr std::size_t kParseArenaOnStack = 8192;

// How an app has a body of any content type sent as text (lambda_http's, so LWA's, header).
constexpr std::string_view kHeaderLambdaContentEncoding = "x-lambda-http-content-encoding";

// What the WHATWG URL parser (the url crate, through which LWA sends every request) leaves as it is
// in a path and in a query: printable ASCII but a few characters each (those of url 2.5.8, which
// LWA 1.x pins: it keeps '^' in a path, which later versions escape). The app then gets the bytes
// the client sent, where a check over them needs it (a webhook's signature over its query, `ids[]=1`
// as the client wrote it); '%' stays, so that the client's own escapes are not escaped twice.
bool is_printable_ascii(unsigned char c) { return c > 0x20 && c < 0x7F; }

bool allowed_in_path(unsigned char c) {
  return is_printable_ascii(c) && std::string_view("\"#<>?`{}").find(static_cast<char>(c)) == std::string_view::npos;
}

bool allowed_in_query(unsigned char c) {
  return is_printable_ascii(c) && std::string_view("\"#<>'").find(static_cast<char>(c)) == std::string_view::npos;
}

template <typename Allowed>
std::string percent_encode(std::string_view text, Allowed allowed) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (allowed(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string encode_component(std::string_view text) {
  return percent_encode(text, [](unsigned char c) { return is_uri_unreserved(static_cast<char>(c)); });
}

// Header names compare as HTTP says: case-insensitively.
bool same_name(std::string_view a, std::string_view b) { return boost::beast::iequals(a, b); }

// A field that may be absent or null; anything else of the wrong type is an error naming it.
const json::object* optional_object(const json::object& event, std::string_view name) {
  const json::value* value = event.if_contains(name);
  if (value == nullptr || value->is_null()) return nullptr;
  if (!value->is_object()) throw EventError("the event's \"" + std::string(name) + "\" is not an object");
  return &value->get_object();
}

std::string_view optional_string(const json::object& object, std::string_view name, std::string_view where) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr || value->is_null()) return {};
  if (!value->is_string()) throw EventError("the event's \"" + std::string(where) + "\" is not a string");
  return value->get_string();
}

bool optional_bool(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr || value->is_null()) return false;
  if (!value->is_bool()) throw EventError("the event's \"" + std::string(name) + "\" is not true or false");
  return value->get_bool();
}

EventSource source_of(const json::object& event) {
  const json::object* context = optional_object(event, "requestContext");
  if (context != nullptr && context->contains("elb")) return EventSource::alb;
  if (event.contains("httpMethod")) return EventSource::api_gateway_rest;
  if (context != nullptr && context->contains("http") && event.contains("rawPath")) {
    const std::string_view domain = optional_string(*context, "domainName", "requestContext.domainName");
    return domain.find(".lambda-url.") != std::string_view::npos ? EventSource::function_url
                                                                 : EventSource::api_gateway_http;
  }
  return EventSource::other;
}

std::string decoded_body(const json::object& event) {
  const std::string_view body = optional_string(event, "body", "body");
  if (!optional_bool(event, "isBase64Encoded")) return std::string(body);
  auto decoded = decode_base64(body);
  if (!decoded) throw EventError("the event's body is marked isBase64Encoded but is not valid base64");
  return std::move(*decoded);
}

// The event's `headers` (one string per name): as the parser took them, or, when it left them in the
// parsed value (event_json.h says when), from there.
std::vector<EventHeader> single_value_headers(ParsedEvent& parsed) {
  if (parsed.headers) return std::move(*parsed.headers);
  const json::object* map = optional_object(parsed.value.get_object(), "headers");
  if (map == nullptr) return {};
  std::vector<EventHeader> headers;
  headers.reserve(map->size());
  for (const auto& [name, value] : *map) {
    if (value.is_string()) {
      headers.push_back(EventHeader{.name = std::string(name), .value = std::string(value.get_string())});
    } else {
      headers.push_back(EventHeader{.name = std::string(name),
                                    .kind = value.is_null() ? EventHeader::Kind::null : EventHeader::Kind::other});
    }
  }
  return headers;
}

void add_headers(std::vector<EventHeader> single, HeaderList& headers) {
  headers.reserve(headers.size() + single.size());
  for (EventHeader& header : single) {
    if (header.kind == EventHeader::Kind::null) continue;
    if (header.kind == EventHeader::Kind::other) {
      throw EventError("the event's header \"" + header.name + "\" is not a string");
    }
    headers.emplace_back(std::move(header.name), std::move(header.value));
  }
}

void add_multi_value_headers(const json::object& multi, HeaderList& headers) {
  for (const auto& [name, value] : multi) {
    if (value.is_null()) continue;
    if (!value.is_array())
      throw EventError("the event's multiValueHeaders \"" + std::string(name) + "\" is not a list");
    for (const json::value& item : value.get_array()) {
      if (!item.is_string()) throw EventError("a value of header \"" + std::string(name) + "\" is not a string");
      headers.emplace_back(name, item.get_string());
    }
  }
}

// Headers that only `headers` names, in an event whose `multiValueHeaders` gives the rest. API Gateway
// keeps the two maps in step, but a hand-written test event may not, and LWA (lambda_http) merges
// them. A value that is not a string is skipped here: the map the request is built from is the other.
void add_headers_only_singly_named(std::vector<EventHeader> single, HeaderList& headers) {
  for (EventHeader& header : single) {
    if (header.kind != EventHeader::Kind::string) continue;
    const bool named = std::any_of(headers.begin(), headers.end(),
                                   [&header](const auto& added) { return same_name(added.first, header.name); });
    if (!named) headers.emplace_back(std::move(header.name), std::move(header.value));
  }
}

// The query of a REST or ALB event from its parameter maps: the multi-value map when present (a
// superset of the other). REST values arrive decoded and are encoded here; ALB passes on what the
// client sent, already encoded, so only characters a request line cannot carry are escaped.
std::string query_from_parameters(const json::object& event, bool values_encoded) {
  const auto encode = [values_encoded](std::string_view text) {
    return values_encoded ? percent_encode(text, allowed_in_query) : encode_component(text);
  };
  std::string query;
  const auto append = [&](std::string_view name, const json::value& value) {
    if (!value.is_string()) throw EventError("query parameter \"" + std::string(name) + "\" is not a string");
    if (!query.empty()) query += '&';
    query += encode(name);
    query += '=';
    query += encode(value.get_string());
  };
  if (const json::object* multi = optional_object(event, "multiValueQueryStringParameters");
      multi != nullptr && !multi->empty()) {
    for (const auto& [name, values] : *multi) {
      if (!values.is_array()) throw EventError("query parameter \"" + std::string(name) + "\" is not a list");
      for (const json::value& value : values.get_array()) append(name, value);
    }
  } else if (const json::object* single = optional_object(event, "queryStringParameters"); single != nullptr) {
    for (const auto& [name, value] : *single) append(name, value);
  }
  return query;
}

// What is left may start with no separator, or with a backslash: path_with_dot_segments_resolved
// makes it absolute, as LWA's set_path does (with base "/api", a path "/api\admin" reaches the app
// as "/admin").
std::string_view path_without_base(std::string_view path, std::string_view base) {
  if (!base.empty() && path.substr(0, base.size()) == base) path.remove_prefix(base.size());
  return path;
}

bool is_single_dot(std::string_view segment) { return segment == "." || boost::beast::iequals(segment, "%2e"); }

bool is_double_dot(std::string_view segment) {
  return segment == ".." || boost::beast::iequals(segment, ".%2e") || boost::beast::iequals(segment, "%2e.") ||
         boost::beast::iequals(segment, "%2e%2e");
}

// `payload`: the event's text, which `parsed` (an object) was parsed from.
HttpEventRequest decode_http_event(std::string_view payload, ParsedEvent& parsed, EventSource source,
                                   const EventDecodeOptions& options) {
  const json::object& event = parsed.value.get_object();
  const std::optional<std::size_t> context_at = parsed.request_context_at;
  HttpEventRequest request;
  request.shape.source = source;
  const json::object* context = optional_object(event, "requestContext");
  if (context != nullptr) {
    // As the service wrote it, on one line (json_text.h says why not serialized again). member_text
    // finds the requestContext of any valid JSON, its key escaped or not, so member_json never falls
    // back to the parsed value, which holds only the members decoding reads.
    if (parsed.request_context_text) {
      request.request_context = *parsed.request_context_text;
    } else {
      request.request_context = context_at ? value_json_at(payload, *context_at)
                                           : member_json(payload, "requestContext", event.at("requestContext"));
    }
    escape_deletes(request.request_context);
    request.domain_name = optional_string(*context, "domainName", "requestContext.domainName");
  }

  std::string_view path;
  std::string query;
  if (source == EventSource::api_gateway_http || source == EventSource::function_url) {
    // Null, as an event written by hand may have it: no method, which is refused below.
    if (const json::object* http = optional_object(*context, "http"); http != nullptr) {
      request.method = optional_string(*http, "method", "requestContext.http.method");
    }
    path = optional_string(event, "rawPath", "rawPath");
    query = percent_encode(optional_string(event, "rawQueryString", "rawQueryString"), allowed_in_query);
    add_headers(single_value_headers(parsed), request.headers);
    if (const json::value* cookies = event.if_contains("cookies"); cookies != nullptr && !cookies->is_null()) {
      if (!cookies->is_array()) throw EventError("the event's \"cookies\" is not a list");
      std::string joined;
      for (const json::value& cookie : cookies->get_array()) {
        if (!cookie.is_string()) throw EventError("a cookie of the event is not a string");
        if (!joined.empty()) joined += "; ";
        joined += cookie.get_string();
      }
      // The cookies list is the authority: a `cookie` header some events also carry would repeat it.
      if (!joined.empty()) {
        std::erase_if(request.headers, [](const auto& header) { return same_name(header.first, "cookie"); });
        request.headers.emplace_back("cookie", std::move(joined));
      }
    }
  } else {
    request.method = optional_string(event, "httpMethod", "httpMethod");
    path = optional_string(event, "path", "path");
    query = query_from_parameters(event, source == EventSource::alb);
    const json::object* multi = optional_object(event, "multiValueHeaders");
    request.shape.multi_value_headers = multi != nullptr && !multi->empty();
    if (request.shape.multi_value_headers) {
      add_multi_value_headers(*multi, request.headers);
      add_headers_only_singly_named(single_value_headers(parsed), request.headers);
    } else {
      add_headers(single_value_headers(parsed), request.headers);
    }
  }
  if (request.method.empty()) throw EventError("the " + std::string(to_string(source)) + " event has no HTTP method");

  request.target = percent_encode(path_with_dot_segments_resolved(path_without_base(path, options.remove_base_path)),
                                  allowed_in_path);
  if (!query.empty()) request.target += '?' + query;
  request.body = decoded_body(event);
  return request;
}

bool is_text_type(std::string_view type) {
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  // Compared in place, without case: a lowered copy cost an allocation ("application/json" is past
  // the short-string size) and a call per byte.
  for (const std::string_view prefix :
       {"text/", "application/json", "application/javascript", "application/xml", "application/yaml"}) {
    if (type.size() >= prefix.size() && same_name(type.substr(0, prefix.size()), prefix)) return true;
  }
  for (const std::string_view suffix : {"+json", "+xml", "+yaml"}) {
    if (type.size() >= suffix.size() && same_name(type.substr(type.size() - suffix.size()), suffix)) return true;
  }
  return false;
}

// Calls `write(name, same)` once per header name, in the order names first appear (the answer's
// headers keep the app's order), `same` holding the index of each header of that name. Set-Cookie is
// left out when `skip_cookies`. Names are compared with those before, not gathered into groups: an
// answer has a handful of headers, and copying each into a group cost more than the comparisons.
template <typename Write>
void for_each_name(const HeaderList& headers, bool skip_cookies, Write write) {
  std::vector<std::size_t> same;
  for (std::size_t at = 0; at < headers.size(); ++at) {
    const std::string& name = headers[at].first;
    if (skip_cookies && same_name(name, "set-cookie")) continue;
    bool written = false;
    for (std::size_t before = 0; before < at && !written; ++before) written = same_name(headers[before].first, name);
    if (written) continue;
    same.assign(1, at);
    for (std::size_t after = at + 1; after < headers.size(); ++after) {
      if (same_name(headers[after].first, name)) same.push_back(after);
    }
    write(name, same);
  }
}

// A header value as a JSON string. Header values are bytes; the result is JSON, so any that are not
// UTF-8 are read as ISO-8859-1.
void write_value(JsonWriter& json, std::string_view value) {
  if (is_valid_utf8(value)) {
    json.string(value);
  } else {
    json.string(utf8_text(value));
  }
}

// The values of the headers at `same`, as one field carries them: joined with ", ".
void write_joined(JsonWriter& json, const HeaderList& headers, const std::vector<std::size_t>& same) {
  if (same.size() == 1) {
    write_value(json, headers[same.front()].second);
    return;
  }
  std::string joined;
  for (const std::size_t at : same) {
    if (!joined.empty()) joined += ", ";
    joined += headers[at].second;
  }
  write_value(json, joined);
}

}  // namespace

std::string_view to_string(EventSource source) {
  switch (source) {
    case EventSource::api_gateway_rest: return "API Gateway REST";
    case EventSource::api_gateway_http: return "API Gateway HTTP";
    case EventSource::alb: return "ALB";
    case EventSource::function_url: return "Function URL";
    case EventSource::other: return "non-HTTP";
  }
  return "unknown";
}

std::string path_with_dot_segments_resolved(std::string_view path) {
  // The WHATWG URL path state for an http URL (the url crate's Url::set_path, which LWA uses): a rule
  // the app keys on a path prefix then sees the path the app routes. An absolute path with no dot, no
  // percent sign and no backslash has no segment to resolve, and most events' paths are such.
  if (!path.empty() && path.front() == '/' && path.find_first_of(".%\\") == std::string_view::npos) {
    return std::string(path);
  }
  std::vector<std::string_view> segments;
  const std::size_t size = path.size();
  if (!path.empty() && (path.front() == '/' || path.front() == '\\')) path.remove_prefix(1);
  while (true) {
    const std::size_t end = path.find_first_of("/\\");
    const std::string_view segment = path.substr(0, end);
    const bool last = end == std::string_view::npos;
    if (is_double_dot(segment)) {
      if (!segments.empty()) segments.pop_back();
      if (last) segments.emplace_back();
    } else if (is_single_dot(segment)) {
      if (last) segments.emplace_back();
    } else {
      segments.push_back(segment);
    }
    if (last) break;
    path.remove_prefix(end + 1);
  }
  std::string out;
  out.reserve(size + 1);
  for (const std::string_view segment : segments) {
    out += '/';
    out += segment;
  }
  return out.empty() ? "/" : out;
}

HttpEventRequest request_from_event(std::string_view payload, const EventDecodeOptions& options) {
  // The parsed event lives only for this call, so its nodes come from one arena (a small event's from
  // the stack) and go at once, not one free() apiece.
  std::array<unsigned char, kParseArenaOnStack> arena_on_stack;
  json::monotonic_resource arena(arena_on_stack.data(), arena_on_stack.size());
  // Parsed less what decoding never reads (event_json.h): most of requestContext, which the app gets
  // as written, and whatever a pass-through event carries. The usual event by a scan of its own
  // (event_scan.h), anything else by Boost.JSON's parser, which also words the error.
  if (std::optional<ParsedEvent> scanned = scan_event_json(payload, &arena)) {
    return request_from_parsed_event(payload, *scanned, options);
  }
  boost::system::error_code error;
  ParsedEvent parsed = parse_event_json(payload, &arena, error);
  if (error) throw EventError("the event is not valid JSON: " + error.message());
  return request_from_parsed_event(payload, parsed, options);
}

HttpEventRequest request_from_parsed_event(std::string_view payload, ParsedEvent& parsed,
                                           const EventDecodeOptions& options) {
  const EventSource source = parsed.value.is_object() ? source_of(parsed.value.get_object()) : EventSource::other;
  if (source != EventSource::other) {
    return decode_http_event(payload, parsed, source, options);
  }

  HttpEventRequest request;
  request.method = "POST";
  request.target = percent_encode(options.pass_through_path, allowed_in_path);
  request.headers.emplace_back("content-type", "application/json");
  request.body = std::string(payload);
  return request;
}

const std::string* find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& header : headers) {
    if (same_name(header.first, name)) return &header.second;
  }
  return nullptr;
}

std::string joined_header(const HeaderList& headers, std::string_view name) {
  std::string out;
  for (const auto& [header, value] : headers) {
    if (!same_name(header, name)) continue;
    if (!out.empty()) out += ", ";
    out += value;
  }
  return out;
}

namespace {

// Whether the app's headers say its body is text (is_binary_body's rule, less the bytes).
bool declares_text(const HeaderList& headers) {
  if (const std::string* encoding = find_header(headers, "content-encoding"); encoding != nullptr && !encoding->empty())
    return false;
  const std::string* type = find_header(headers, "content-type");
  const std::string* text_marker = find_header(headers, kHeaderLambdaContentEncoding);
  return type == nullptr || type->empty() || is_text_type(*type) || (text_marker != nullptr && *text_marker == "text");
}

// Where the charset parameter's value is in a Content-Type value (empty: it names none).
std::pair<std::size_t, std::size_t> charset_span(std::string_view type) {
  for (std::size_t semicolon = type.find(';'); semicolon != std::string_view::npos;
       semicolon = type.find(';', semicolon + 1)) {
    std::size_t at = type.find_first_not_of(' ', semicolon + 1);
    if (at == std::string_view::npos || !boost::beast::iequals(type.substr(at, 8), "charset=")) continue;
    at += 8;
    const std::size_t end = std::min(type.find(';', at), type.size());
    return {at, end - at};
  }
  return {type.size(), 0};
}

// A parameter's value without the blanks around it and the double quotes it may be written in
// (charset="iso-8859-1").
std::string_view unquoted(std::string_view value) {
  value = trim(value);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') return value.substr(1, value.size() - 2);
  return value;
}

// Text that is not UTF-8 read in the charset its Content-Type names, as lambda_http reads it
// (encoding_rs, which takes ISO-8859-1's names for windows-1252, as browsers do): the single-byte
// Western charsets character for character, any other with U+FFFD for what is not UTF-8.
std::string text_in_its_charset(const HeaderList& headers, std::string_view body) {
  std::string_view charset;
  if (const std::string* type = find_header(headers, "content-type")) {
    const auto [at, size] = charset_span(*type);
    charset = unquoted(std::string_view(*type).substr(at, size));
  }
  for (const std::string_view western : {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1",
                                         "windows-1252", "cp1252", "x-cp1252", "us-ascii", "ascii"}) {
    if (boost::beast::iequals(charset, western)) return windows_1252_text(body);
  }
  return utf8_replacing_invalid(body);
}

// The headers with the Content-Type's charset, if it names one, now utf-8: what the body became.
HeaderList with_utf8_charset(HeaderList headers) {
  for (auto& [name, value] : headers) {
    if (!same_name(name, "content-type")) continue;
    const auto [at, size] = charset_span(value);
    if (size > 0) value.replace(at, size, "utf-8");
  }
  return headers;
}

// The result in the source's shape (result_from_response), the body base64 when `binary`. Written
// by hand, in the order and with the escapes Boost.JSON gave it from a json::object, which cost the
// adapter about 8% of its instructions per invocation.
std::string result_json(const ResultShape& shape, const HttpAppResponse& response, bool binary) {
  const std::string encoded = binary ? encode_base64(response.body) : std::string();
  const std::string_view body = binary ? std::string_view(encoded) : std::string_view(response.body);
  std::string out;
  out.reserve(body.size() + 256);
  JsonWriter json(out);
  json.open('{');
  json.key(JsonKey("statusCode"));
  json.raw(std::to_string(response.status));
  const bool two_point_zero =
      shape.source == EventSource::api_gateway_http || shape.source == EventSource::function_url;
  const bool multi =
      shape.source == EventSource::api_gateway_rest || (shape.source == EventSource::alb && shape.multi_value_headers);

  if (two_point_zero) {
    json.key(JsonKey("headers"));
    json.open('{');
    for_each_name(response.headers, /*skip_cookies=*/true, [&](const std::string& name, const auto& same) {
      json.key(name);
      write_joined(json, response.headers, same);
    });
    json.close('}');
    json.key(JsonKey("cookies"));
    json.open('[');
    for (const auto& [name, value] : response.headers) {
      if (same_name(name, "set-cookie")) write_value(json, value);
    }
    json.close(']');
  } else if (multi) {
    json.key(JsonKey("multiValueHeaders"));
    json.open('{');
    for_each_name(response.headers, /*skip_cookies=*/false, [&](const std::string& name, const auto& same) {
      json.key(name);
      json.open('[');
      for (const std::size_t at : same) write_value(json, response.headers[at].second);
      json.close(']');
    });
    json.close('}');
  } else {
    // A single-value ALB target group cannot carry a header twice: values are joined, and of
    // several Set-Cookie headers (which a comma would corrupt) the first one is kept, as LWA does.
    json.key(JsonKey("headers"));
    json.open('{');
    for_each_name(response.headers, /*skip_cookies=*/false, [&](const std::string& name, const auto& same) {
      json.key(name);
      if (same_name(name, "set-cookie")) {
        write_value(json, response.headers[same.front()].second);
      } else {
        write_joined(json, response.headers, same);
      }
    });
    json.close('}');
  }
  if (shape.source == EventSource::alb) {
    json.member(JsonKey("statusDescription"),
                std::to_string(response.status) + " " + std::string(reason_phrase(response.status)));
  }
  json.member(JsonKey("body"), body);
  json.key(JsonKey("isBase64Encoded"));
  json.raw(binary ? "true" : "false");
  json.close('}');
  return out;
}

}  // namespace

bool is_binary_body(const HeaderList& headers, std::string_view body) {
  // Text that is not UTF-8 (ISO-8859-1, UTF-16, or bytes mislabelled as text) cannot be a JSON
  // string; base64 hands the client the app's bytes unchanged, to be read in the declared charset.
  return !declares_text(headers) || !is_valid_utf8(body);
}

std::string result_from_response(const ResultShape& shape, const HttpAppResponse& response) {
  if (shape.source == EventSource::other) {
    // The app's JSON goes on as it wrote it: parsed and serialized again, a number beyond a double's
    // range or precision would change (1e999 would even become Infinity, which is not JSON).
    if (is_binary_body(response.headers, response.body)) return "null";
    boost::system::error_code error;
    (void)json::parse(json::string_view(response.body.data(), response.body.size()), error);
    return error ? "null" : response.body;
  }

  // A REST API (v1) decodes a base64 body only for its binaryMediaTypes, which many APIs have none
  // of: its client would get the base64 itself. There, text that is not UTF-8 goes as text, read
  // in its charset, as LWA sends it, and its Content-Type says utf-8, which it now is (LWA keeps the
  // old charset, which its UTF-8 bytes contradict).
  bool binary = is_binary_body(response.headers, response.body);
  const HttpAppResponse* answer = &response;
  HttpAppResponse as_text;
  if (binary && shape.source == EventSource::api_gateway_rest && declares_text(response.headers)) {
    as_text = {.status = response.status,
               .headers = with_utf8_charset(response.headers),
               .body = text_in_its_charset(response.headers, response.body)};
    answer = &as_text;
    binary = false;
  }
  return result_json(shape, *answer, binary);
}

}  // namespace snapbus::lambda
