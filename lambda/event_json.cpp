#include "event_json.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/value_stack.hpp>

#include "json_text.h"

namespace snapbus::lambda {
namespace {

namespace json = boost::json;

// Which members of an object are built, the others being parsed and dropped: of the event, those
// decoding reads; of its requestContext, those source_of and decoding read; of requestContext.http,
// the method; of requestContext.elb, none (only its presence says ALB). Any other object is whole.
enum class Kept : unsigned char { all, event_members, context_members, method, none };

// The objects that are cut are the event (depth 1), its requestContext (2), and http or elb in it (3).
constexpr std::size_t kCutDepths = 3;

Kept kept_of_member(Kept parent, std::string_view name) {
  if (parent == Kept::event_members && name == "requestContext") return Kept::context_members;
  if (parent == Kept::context_members && name == "http") return Kept::method;
  if (parent == Kept::context_members && name == "elb") return Kept::none;
  return Kept::all;
}

// Every key of the event is looked up: the first byte rules out most names before a compare.
template <std::size_t N>
bool is_one_of(const std::array<std::string_view, N>& names, std::string_view name) {
  return !name.empty() && std::any_of(names.begin(), names.end(), [name](std::string_view candidate) {
    return candidate[0] == name[0] && candidate == name;
  });
}

bool keeps(Kept kept, std::string_view name) {
  switch (kept) {
    case Kept::all: return true;
    case Kept::event_members: return is_one_of(kDecodedEventMembers, name);
    case Kept::context_members: return is_one_of(kDecodedContextMembers, name);
    case Kept::method: return name == "method";
    case Kept::none: return false;
  }
  return true;
}

// A name given twice keeps its first place and takes its last value, as in json::object. As cheap
// as json::object's rule, so that a direct invocation's million headers is no quadratic: the names
// kept so far are compared one by one while they are few, and hashed from kHashedFrom on.
void keep_last_value_of_each_name(std::vector<EventHeader>& headers) {
  constexpr std::size_t kHashedFrom = 32;
  const bool hashed = headers.size() >= kHashedFrom;
  // Where each kept name is: its key looks into headers[place], which nothing moves once kept.
  std::unordered_map<std::string_view, std::size_t> place;
  if (hashed) place.reserve(headers.size());
  std::size_t kept = 0;
  const auto kept_with_name = [&](const std::string& name) -> EventHeader* {
    if (hashed) {
      const auto found = place.find(name);
      return found == place.end() ? nullptr : &headers[found->second];
    }
    for (std::size_t at = 0; at < kept; ++at) {
      if (headers[at].name == name) return &headers[at];
    }
    return nullptr;
  };
  for (std::size_t at = 0; at < headers.size(); ++at) {
    if (EventHeader* first = kept_with_name(headers[at].name); first != nullptr) {
      first->value = std::move(headers[at].value);
      first->kind = headers[at].kind;
      continue;
    }
    if (kept != at) headers[kept] = std::move(headers[at]);
    if (hashed) place.emplace(headers[kept].name, kept);
    ++kept;
  }
  headers.resize(kept);
}

// basic_parser's handler. It does what json::parser's does (every token pushed onto a value_stack),
// except that a member decoding does not read (of the event, of its requestContext, of http or elb in
// that: see Kept) is dropped: its key is not pushed, and neither is anything of its value, however
// deeply nested; and that the members of the top-level `headers` object are taken into a list instead
// (ParsedEvent::headers).
// The parser still reads and checks every byte. The names of basic_parser's interface are its own.
class PruningHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  PruningHandler(std::string_view payload, json::storage_ptr temp, unsigned char* buffer, std::size_t size)
      : stack(std::move(temp), buffer, size), payload_(payload) {}

  bool on_document_begin(json::error_code& /*error*/) { return true; }
  bool on_document_end(json::error_code& /*error*/) { return true; }
  bool on_object_begin(json::error_code& /*error*/) { return begin_container(/*object=*/true); }
  bool on_array_begin(json::error_code& /*error*/) { return begin_container(/*object=*/false); }

  bool on_object_end(std::size_t members, json::error_code& /*error*/) {
    if (end_of_dropped_container()) return true;
    if (in_headers_) {
      in_headers_ = false;
      keep_last_value_of_each_name(*headers_);
      return true;
    }
    if (depth_ <= kCutDepths && kept_[depth_] != Kept::all) members = kept_members_[depth_];
    stack.push_object(members);
    --depth_;
    return true;
  }

  bool on_array_end(std::size_t items, json::error_code& /*error*/) {
    if (end_of_dropped_container()) return true;
    stack.push_array(items);
    --depth_;
    return true;
  }

  // Keys are gathered here rather than pushed piece by piece: whether one is kept is known only
  // once it is whole.
  bool on_key_part(json::string_view part, std::size_t /*size*/, json::error_code& /*error*/) {
    if (dropped_depth_ == 0) key_.append(part.data(), part.size());
    return true;
  }

  bool on_key(json::string_view last, std::size_t /*size*/, json::error_code& /*error*/) {
    if (dropped_depth_ > 0) return true;
    std::string_view name(last.data(), last.size());
    if (!key_.empty()) {
      key_.append(name);
      name = key_;
    }
    if (in_headers_) {
      header_name_.assign(name);
      key_.clear();
      return true;
    }
    const Kept kept = depth_ <= kCutDepths ? kept_[depth_] : Kept::all;
    // Its key is pushed only once its value turns out not to be taken as a list.
    if (kept == Kept::event_members && name == "headers") {
      headers_next_ = true;
      next_kept_ = Kept::all;
      key_.clear();
      return true;
    }
    if (!keeps(kept, name)) {
      drop_value_ = true;
    } else {
      stack.push_key(json::string_view(name.data(), name.size()));
      if (kept != Kept::all) ++kept_members_[depth_];
      next_kept_ = kept_of_member(kept, name);
      if (next_kept_ == Kept::context_members) context_key_end_ = key_.empty() ? end_in_payload(last) : std::nullopt;
    }
    key_.clear();
    return true;
  }

  // Where the top-level requestContext's value begins: past its key's closing quote, the spaces, the
  // colon and the spaces again, in a payload the parser has found to be JSON.
  [[nodiscard]] std::optional<std::size_t> request_context_at() const {
    if (!context_key_end_) return std::nullopt;
    std::size_t at = *context_key_end_ + 1;
    const auto skip_spaces = [&] {
      while (at < payload_.size() && is_json_space(payload_[at])) ++at;
    };
    skip_spaces();
    if (at == payload_.size() || payload_[at] != ':') return std::nullopt;
    ++at;
    skip_spaces();
    return at;
  }

  bool on_string_part(json::string_view part, std::size_t /*size*/, json::error_code& /*error*/) {
    if (dropped_depth_ > 0 || drop_value_) return true;
    if (in_headers_) {
      header_value_.append(part.data(), part.size());
      return true;
    }
    push_headers_key_if_next();
    stack.push_chars(part);
    return true;
  }

  bool on_string(json::string_view last, std::size_t /*size*/, json::error_code& /*error*/) {
    if (in_headers_ && dropped_depth_ == 0) header_value_.append(last.data(), last.size());
    if (keep_scalar(EventHeader::Kind::string)) stack.push_string(last);
    return true;
  }

  bool on_number_part(json::string_view /*part*/, json::error_code& /*error*/) { return true; }

  bool on_int64(std::int64_t number, json::string_view /*text*/, json::error_code& /*error*/) {
    if (keep_scalar(EventHeader::Kind::other)) stack.push_int64(number);
    return true;
  }

  bool on_uint64(std::uint64_t number, json::string_view /*text*/, json::error_code& /*error*/) {
    if (keep_scalar(EventHeader::Kind::other)) stack.push_uint64(number);
    return true;
  }

  bool on_double(double number, json::string_view /*text*/, json::error_code& /*error*/) {
    if (keep_scalar(EventHeader::Kind::other)) stack.push_double(number);
    return true;
  }

  bool on_bool(bool truth, json::error_code& /*error*/) {
    if (keep_scalar(EventHeader::Kind::other)) stack.push_bool(truth);
    return true;
  }

  bool on_null(json::error_code& /*error*/) {
    if (keep_scalar(EventHeader::Kind::null)) stack.push_null();
    return true;
  }

  bool on_comment_part(json::string_view /*part*/, json::error_code& /*error*/) { return true; }
  bool on_comment(json::string_view /*comment*/, json::error_code& /*error*/) { return true; }

  // Moved out once the parser is done.
  std::optional<std::vector<EventHeader>>& headers() { return headers_; }

  json::value_stack stack;

 private:
  bool begin_container(bool object) {
    if (dropped_depth_ > 0) {
      ++dropped_depth_;
      return true;
    }
    if (drop_value_) {
      drop_value_ = false;
      dropped_depth_ = 1;
      return true;
    }
    // A header's value that is a list or an object: noted as neither string nor null, then dropped.
    if (in_headers_) {
      take_header(EventHeader::Kind::other);
      dropped_depth_ = 1;
      return true;
    }
    if (headers_next_ && object && !headers_in_value_) {
      headers_next_ = false;
      in_headers_ = true;
      headers_.emplace().reserve(kEventHeadersReserved);
      return true;
    }
    push_headers_key_if_next();
    ++depth_;
    if (depth_ <= kCutDepths) {
      // The event is the top-level object; a list's members are whole.
      kept_[depth_] = !object ? Kept::all : depth_ == 1 ? Kept::event_members : next_kept_;
      kept_members_[depth_] = 0;
    }
    next_kept_ = Kept::all;
    return true;
  }

  // Whether the container that ends was dropped (or lies inside one that is).
  bool end_of_dropped_container() {
    if (dropped_depth_ == 0) return false;
    --dropped_depth_;
    return true;
  }

  // Whether the string, number, true, false or null that ends here goes into the value: not when it
  // is dropped, nor when it is a header's (taken as one of `kind`).
  bool keep_scalar(EventHeader::Kind kind) {
    if (drop_scalar()) return false;
    if (in_headers_) {
      take_header(kind);
      return false;
    }
    push_headers_key_if_next();
    return true;
  }

  // A top-level `headers` whose value is not an object, or one after such: json::parse's value has the
  // last, so from here on the value holds it, and the list gives way.
  void push_headers_key_if_next() {
    if (!headers_next_) return;
    headers_next_ = false;
    stack.push_key("headers");
    ++kept_members_[1];
    headers_in_value_ = true;
    headers_.reset();
  }

  // Names given twice are resolved once the object ends (keep_last_value_of_each_name).
  void take_header(EventHeader::Kind kind) {
    headers_->push_back(EventHeader{.name = std::move(header_name_), .value = std::move(header_value_), .kind = kind});
    header_name_.clear();
    header_value_.clear();
  }

  // Whether the string, number, true, false or null that ends here is dropped.
  bool drop_scalar() {
    if (dropped_depth_ > 0) return true;
    if (drop_value_) {
      drop_value_ = false;
      return true;
    }
    next_kept_ = Kept::all;
    return false;
  }

  std::size_t depth_ = 0;          // containers open and kept
  std::size_t dropped_depth_ = 0;  // containers open within a dropped value
  bool drop_value_ = false;        // the value that comes next belongs to a dropped member
  Kept next_kept_ = Kept::all;     // what an object that is the value coming next keeps
  // For the containers open at depths 1 to kCutDepths: what each keeps, and its members pushed so far.
  std::array<Kept, kCutDepths + 1> kept_{};
  std::array<std::size_t, kCutDepths + 1> kept_members_{};
  std::string key_;                // a key's parts so far
  bool headers_next_ = false;      // the value that comes next is the top-level `headers`' (key not pushed)
  bool in_headers_ = false;        // the top-level `headers` object being taken is open
  bool headers_in_value_ = false;  // a top-level `headers` went into the value
  std::optional<std::vector<EventHeader>> headers_;
  std::string header_name_;   // of the header whose value comes next
  std::string header_value_;  // its parts so far

  // Where a key the parser handed over whole ends in the payload (at its closing quote): a key without
  // an escape comes as a view into the text being parsed; one with an escape, decoded elsewhere.
  [[nodiscard]] std::optional<std::size_t> end_in_payload(json::string_view key) const {
    // As addresses: the key may point into another buffer, and pointers into two arrays do not compare.
    const auto begin = reinterpret_cast<std::uintptr_t>(payload_.data());
    const auto first = reinterpret_cast<std::uintptr_t>(key.data());
    if (first <= begin || first + key.size() >= begin + payload_.size()) return std::nullopt;
    const std::size_t offset = first - begin;
    if (payload_[offset - 1] != '"' || payload_[offset + key.size()] != '"') return std::nullopt;
    return offset + key.size();
  }

  std::string_view payload_;
  std::optional<std::size_t> context_key_end_;  // of the last top-level requestContext seen
};

}  // namespace

ParsedEvent parse_event_json(std::string_view payload, json::storage_ptr storage, boost::system::error_code& error) {
  // json::parse's set-up: the parser's own stack starts in this buffer.
  unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
  json::basic_parser<PruningHandler> parser(json::parse_options{}, payload, json::storage_ptr(), temp, sizeof temp);
  parser.handler().stack.reset(std::move(storage));
  const std::size_t used = parser.write_some(false, payload.data(), payload.size(), error);
  if (!error && used < payload.size()) error = json::error::extra_data;
  if (error) return {};
  return ParsedEvent{.value = parser.handler().stack.release(),
                     .request_context_at = parser.handler().request_context_at(),
                     .headers = std::move(parser.handler().headers())};
}

}  // namespace snapbus::lambda
