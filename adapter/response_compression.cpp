#include "response_compression.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

#include <brotli/encode.h>
#include <zlib.h>
#include <boost/beast/core/string.hpp>

#include "snapbus/text.h"

namespace snapbus::adapter {
namespace {

constexpr std::size_t kMinimumBody = 32;

using lambda::find_header;

// Header names and codings compare case-insensitively.
// The q-value of one Accept-Encoding element ("gzip;q=0.5"); 1 without one, 0 when malformed.
double quality(std::string_view parameters) {
  const auto at = parameters.find("q=");
  if (at == std::string_view::npos) return 1.0;
  const std::string value(trim(parameters.substr(at + 2)));
  char* end = nullptr;
  const double q = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || q < 0 || q > 1) return 0.0;
  return q;
}

std::string zlib_compress(std::string_view body, int window_bits) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(body.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));  // zlib does not write the input
  stream.avail_in = static_cast<uInt>(body.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw std::runtime_error("zlib: deflate did not finish");
  return out;
}

std::string brotli_compress(std::string_view body) {
  std::size_t size = BrotliEncoderMaxCompressedSize(body.size());
  std::string out(size, '\0');
  // Quality 5: Brotli's best levels cost far more time than a Lambda invocation should spend here.
  if (BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, body.size(),
                            reinterpret_cast<const std::uint8_t*>(body.data()), &size,
                            reinterpret_cast<std::uint8_t*>(out.data())) == BROTLI_FALSE) {
    throw std::runtime_error("brotli: compression failed");
  }
  out.resize(size);
  return out;
}

}  // namespace

std::string_view to_string(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::br: return "br";
    case ContentCoding::gzip: return "gzip";
    case ContentCoding::deflate: return "deflate";
  }
  return "identity";
}

std::optional<ContentCoding> choose_coding(std::string_view accept_encoding) {
  constexpr std::array kPreference{ContentCoding::br, ContentCoding::gzip, ContentCoding::deflate};
  // Named codings keep their own q-value (q=0 refuses one); the others take the wildcard's.
  std::array<std::optional<double>, kPreference.size()> q{};
  double wildcard = -1;
  double identity = -1;  // only when named: a client that prefers the body as it is says so
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    const std::string_view element = trim(accept_encoding.substr(0, comma));
    accept_encoding = comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    const auto semicolon = element.find(';');
    const std::string_view name = trim(element.substr(0, semicolon));
    const double value = semicolon == std::string_view::npos ? 1.0 : quality(element.substr(semicolon + 1));
    if (name == "*") wildcard = value;
    if (boost::beast::iequals(name, "identity")) identity = std::max(identity, value);
    for (std::size_t i = 0; i < kPreference.size(); ++i) {
      if (boost::beast::iequals(name, to_string(kPreference[i]))) q[i] = std::max(q[i].value_or(0.0), value);
    }
  }
  std::optional<ContentCoding> best;
  double best_q = 0;
  for (std::size_t i = 0; i < kPreference.size(); ++i) {
    const double value = q[i].value_or(std::max(wildcard, 0.0));
    if (value > best_q) {
      best_q = value;
      best = kPreference[i];
    }
  }
  // A named identity the client prefers to every coding ("gzip;q=0.5, identity") means the body as it is.
  if (identity > best_q) return std::nullopt;
  return best;
}

bool worth_compressing(const lambda::HeaderList& response_headers, std::size_t body_size) {
  if (body_size <= kMinimumBody) return false;
  // A part of the body (206, or a 416's "bytes */size"): its range counts bytes of the body as the
  // app has it, which compressing would change under the client.
  if (find_header(response_headers, "content-range") != nullptr) return false;
  if (const std::string* encoding = find_header(response_headers, "content-encoding");
      encoding != nullptr && !encoding->empty()) {
    return false;
  }
  if (const std::string* type = find_header(response_headers, "content-type")) {
    std::string lower(trim(std::string_view(*type).substr(0, type->find(';'))));
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower.rfind("image/", 0) == 0 && lower != "image/svg+xml") return false;
    if (lower == "text/event-stream" || lower.rfind("application/grpc", 0) == 0) return false;
  }
  return true;
}

std::string compress(ContentCoding coding, std::string_view body) {
  switch (coding) {
    case ContentCoding::br: return brotli_compress(body);
    case ContentCoding::gzip: return zlib_compress(body, 15 + 16);  // +16: gzip header and trailer
    case ContentCoding::deflate: return zlib_compress(body, 15);    // zlib format, as HTTP's "deflate" means
  }
  throw std::logic_error("unknown content coding");
}

bool compress_response(std::string_view accept_encoding, lambda::HttpAppResponse& response) {
  const auto coding = choose_coding(accept_encoding);
  if (!coding || !worth_compressing(response.headers, response.body.size())) return false;
  response.body = compress(*coding, response.body);
  // Accept-Ranges goes too: a range of the compressed body would be a range of different bytes.
  std::erase_if(response.headers, [](const auto& header) {
    return boost::beast::iequals(header.first, "content-length") ||
           boost::beast::iequals(header.first, "accept-ranges");
  });
  response.headers.emplace_back("content-encoding", std::string(to_string(*coding)));
  response.headers.emplace_back("vary", "accept-encoding");
  return true;
}

}  // namespace snapbus::adapter
