#include "event_scan.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <boost/json/value_stack.hpp>

#include "json_text.h"
#include "snapbus/text.h"
#include "snapbus/utf8_text.h"

namespace snapbus::lambda {
namespace {

namespace json = boost::json;

// json::parse fails past 32 containers open at once; text nested nearly as deep is left to it.
constexpr std::size_t kDeepestScanned = 30;

// json::parse's exponent_overflow depends on a number's digits as well as on its exponent's: a number
// longer than this, or with an exponent of more digits, is left to it. Events carry short numbers
// (epoch times in milliseconds), and these bounds keep json::parse far from its INT_MAX.
constexpr std::size_t kLongestNumber = 40;
constexpr std::size_t kLongestExponent = 9;

// Where the first byte that a string's scan must look at lies in [p, end): a quote, a backslash, a
// control character (which JSON forbids in a string), or, unless `MultiBytePlain`, a byte of a
// multi-byte UTF-8 sequence (checked once the string ends); `end` when there is none. Sixteen bytes
// at a time with SSE2 (as Boost.JSON's parser steps), eight at a time elsewhere: a word's tests flag
// its first such byte exactly (a borrow only carries towards later bytes).
template <bool MultiBytePlain>
const char* first_special(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i minus_one = _mm_set1_epi8(-1);
  while (end - p >= 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // As signed bytes, those of a multi-byte sequence are negative, so below 0x20 too.
    __m128i below_space = _mm_cmplt_epi8(bytes, space);
    if constexpr (MultiBytePlain) below_space = _mm_and_si128(below_space, _mm_cmpgt_epi8(bytes, minus_one));
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)), below_space);
    if (const auto mask = static_cast<unsigned>(_mm_movemask_epi8(special)); mask != 0) {
      return p + std::countr_zero(mask);
    }
    p += 16;
  }
#endif
  if constexpr (std::endian::native == std::endian::little) {
    constexpr std::uint64_t kEachByte = 0x0101010101010101ULL;
    constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
    const auto zero_bytes = [](std::uint64_t word) { return (word - kEachByte) & ~word & kHighBits; };
    while (end - p >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, p, sizeof word);
      std::uint64_t special = zero_bytes(word ^ (kEachByte * '"')) | zero_bytes(word ^ (kEachByte * '\\')) |
                              ((word - kEachByte * 0x20) & ~word & kHighBits);
      if constexpr (!MultiBytePlain) special |= word & kHighBits;
      if (special != 0) return p + std::countr_zero(special) / 8;
      p += 8;
    }
  }
  for (; p != end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20 || (!MultiBytePlain && c >= 0x80)) return p;
  }
  return end;
}

// The code unit of the four hex digits at `p` (which the scan has checked).
unsigned code_unit(const char* p) {
  unsigned unit = 0;
  for (int i = 0; i < 4; ++i) unit = unit * 16 + static_cast<unsigned>(hex_digit(p[i]));
  return unit;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// kDecodedEventMembers by the length of their names: the indexes of those of each length, then -1s.
// An event names a dozen members, most of them not decoded, and a name's length rules out all but one
// or two at once, where a walk through the list cost about fifty instructions per member. A name
// longer than the longest here, or a fourth of one length, makes at() throw, which a constant's
// initializer cannot: the build fails, and these two numbers grow.
constexpr std::size_t kLongestMemberName = 31;
constexpr std::size_t kMostOfOneLength = 3;
constexpr auto kMembersByLength = [] {
  std::array<std::array<int, kMostOfOneLength>, kLongestMemberName + 1> table{};
  for (auto& same_length : table) same_length.fill(-1);
  for (std::size_t at = 0; at < kDecodedEventMembers.size(); ++at) {
    auto& same_length = table.at(kDecodedEventMembers[at].size());
    std::size_t slot = 0;
    while (same_length.at(slot) >= 0) ++slot;
    same_length.at(slot) = static_cast<int>(at);
  }
  return table;
}();

// Where `name` stands in kDecodedEventMembers, or -1.
int member_index(std::string_view name) {
  if (name.size() > kLongestMemberName) return -1;
  for (const int index : kMembersByLength[name.size()]) {
    if (index < 0) return -1;
    if (kDecodedEventMembers[static_cast<std::size_t>(index)] == name) return index;
  }
  return -1;
}

class EventScanner {
 public:
  // `temp`: where the value stack starts (as json::parse's does, on the caller's stack).
  EventScanner(std::string_view payload, json::storage_ptr storage, unsigned char* temp, std::size_t temp_size)
      : stack_(json::storage_ptr(), temp, temp_size),
        begin_(payload.data()),
        at_(payload.data()),
        end_(payload.data() + payload.size()) {
    stack_.reset(std::move(storage));
  }

  std::optional<ParsedEvent> scan() {
    skip_spaces();
    if (!at('{')) return std::nullopt;
    ++at_;
    std::size_t kept = 0;
    std::uint32_t named = 0;  // a bit per member of kDecodedEventMembers met so far
    if (!members([&](std::string_view name, bool escaped) {
          if (escaped) return false;
          const int index = member_index(name);
          if (index < 0) return skip_value(1);
          if ((named & (1U << index)) != 0) return false;
          named |= 1U << index;
          if (name == "headers") return headers();
          ++kept;
          stack_.push_key(name);
          return name == "requestContext" ? request_context() : build_value(1);
        })) {
      return std::nullopt;
    }
    skip_spaces();
    if (at_ != end_) return std::nullopt;
    stack_.push_object(kept);
    return ParsedEvent{.value = stack_.release(),
                       .request_context_at = context_at_,
                       .request_context_text = context_text_,
                       .headers = std::move(headers_)};
  }

 private:
  [[nodiscard]] bool at(char c) const { return at_ != end_ && *at_ == c; }

  // Steps over the spaces before a token; says whether there were any. Called before and after every
  // token, it mostly finds none (Lambda's events have no spaces): the usual answer is one test inline,
  // as every byte that begins a token is above the space character.
  bool skip_spaces() {
    if (at_ == end_ || static_cast<unsigned char>(*at_) > ' ') return false;
    return skip_spaces_from_here();
  }

  [[gnu::noinline]] bool skip_spaces_from_here() {
    const char* before = at_;
    while (at_ != end_ && is_json_space(*at_)) ++at_;
    return at_ != before;
  }

  // After an object's '{': each member's name to `member` (as written, and whether it holds an escape:
  // text_of decodes it), which takes the value that follows; false when the text is not an object's
  // or `member` declines.
  template <typename Member>
  bool members(Member member) {
    return elements('}', [&] {
      std::string_view name;
      bool escaped = false;
      if (!string(name, escaped)) return false;
      spaced_ |= skip_spaces();
      if (!at(':')) return false;
      ++at_;
      spaced_ |= skip_spaces();
      return member(name, escaped);
    });
  }

  // After a list's '[': each item to `item`.
  template <typename Item>
  bool items(Item item) {
    return elements(']', item);
  }

  // After an object's '{' or a list's '[': each element to `element`, which reads it, until `close`.
  template <typename Element>
  bool elements(char close, Element element) {
    spaced_ |= skip_spaces();
    if (at(close)) {
      ++at_;
      return true;
    }
    while (true) {
      if (!element()) return false;
      spaced_ |= skip_spaces();
      if (at(',')) {
        ++at_;
        spaced_ |= skip_spaces();
        continue;
      }
      if (!at(close)) return false;
      ++at_;
      return true;
    }
  }

  // The string that begins here, its quotes left out: `raw` as written, `escaped` when it holds an
  // escape. False when it is not a JSON string json::parse takes as this scan would. The usual string,
  // plain ASCII to its closing quote, ends here; one with an escape or a multi-byte character goes on
  // out of line, so that this part stays small (it ran 80 instructions a string, most of them the
  // set-up of the whole loop).
  bool string(std::string_view& raw, bool& escaped) {
    if (!at('"')) return false;
    const char* const first = at_ + 1;
    const char* const special = first_special<false>(first, end_);
    if (special != end_ && *special == '"') {
      raw = std::string_view(first, static_cast<std::size_t>(special - first));
      at_ = special + 1;
      return true;
    }
    return string_from_special(first, special, raw, escaped);
  }

  // The rest of string(): from `special`, the first byte of the string after `first` that is not plain
  // ASCII text (or its end).
  [[gnu::noinline]] bool string_from_special(const char* first, const char* special, std::string_view& raw,
                                             bool& escaped) {
    at_ = special;
    bool multi_byte = false;
    while (true) {
      if (at_ == end_) return false;
      const auto c = static_cast<unsigned char>(*at_);
      if (c == '"') break;
      if (c == '\\') {
        escaped = true;
        if (!skip_escape()) return false;
      } else if (c < 0x20) {
        return false;
      } else {
        multi_byte = true;
        ++at_;
      }
      at_ = multi_byte ? first_special<true>(at_, end_) : first_special<false>(at_, end_);
    }
    raw = std::string_view(first, static_cast<std::size_t>(at_ - first));
    ++at_;
    // Escapes are ASCII, so the text as written is UTF-8 exactly when the decoded text is.
    return !multi_byte || is_valid_utf8(raw);
  }

  // A backslash's escape. One of a surrogate, which json::parse pairs or refuses, is left to it.
  bool skip_escape() {
    if (end_ - at_ < 2) return false;
    const char kind = at_[1];
    if (std::string_view("\"\\/bfnrt").find(kind) != std::string_view::npos) {
      at_ += 2;
      return true;
    }
    if (kind != 'u' || end_ - at_ < 6) return false;
    if (!std::all_of(at_ + 2, at_ + 6, [](char c) { return hex_digit(c) >= 0; })) return false;
    const unsigned unit = code_unit(at_ + 2);
    if (unit >= 0xD800 && unit <= 0xDFFF) return false;
    at_ += 6;
    return true;
  }

  // A string's text, its escapes decoded (into a buffer the next decoded string reuses).
  std::string_view text_of(std::string_view raw, bool escaped) {
    if (!escaped) return raw;
    decoded_.clear();
    for (std::size_t from = 0; from < raw.size();) {
      const std::size_t backslash = std::min(raw.find('\\', from), raw.size());
      decoded_.append(raw.substr(from, backslash - from));
      if (backslash == raw.size()) break;
      const char kind = raw[backslash + 1];
      from = backslash + 2;
      switch (kind) {
        case 'b': decoded_ += '\b'; break;
        case 'f': decoded_ += '\f'; break;
        case 'n': decoded_ += '\n'; break;
        case 'r': decoded_ += '\r'; break;
        case 't': decoded_ += '\t'; break;
        case 'u':
          append_code_point(decoded_, code_unit(raw.data() + from));
          from += 4;
          break;
        default: decoded_ += kind;  // '"', '\\' or '/'
      }
    }
    return decoded_;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - at_) < word.size() || std::string_view(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  bool number() {
    const char* first = at_;
    if (at('-')) ++at_;
    const auto digits = [&] {
      const char* before = at_;
      while (at_ != end_ && is_digit(*at_)) ++at_;
      return at_ != before;
    };
    if (at('0')) {
      ++at_;
    } else if (!digits()) {
      return false;
    }
    if (at('.')) {
      ++at_;
      if (!digits()) return false;
    }
    if (at('e') || at('E')) {
      ++at_;
      if (at('+') || at('-')) ++at_;
      const char* exponent = at_;
      if (!digits() || static_cast<std::size_t>(at_ - exponent) > kLongestExponent) return false;
    }
    return static_cast<std::size_t>(at_ - first) <= kLongestNumber;
  }

  // Steps over the value that begins here, checking it; `depth`: the containers open around it.
  bool skip_value(std::size_t depth) {
    if (at_ == end_) return false;
    switch (*at_) {
      case '{':
        if (depth >= kDeepestScanned) return false;
        ++at_;
        return members([&](std::string_view /*name*/, bool /*escaped*/) { return skip_value(depth + 1); });
      case '[':
        if (depth >= kDeepestScanned) return false;
        ++at_;
        return items([&] { return skip_value(depth + 1); });
      case '"': {
        std::string_view raw;
        bool escaped = false;
        return string(raw, escaped);
      }
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number();
    }
  }

  // The value that begins here, built onto the stack as json::parser builds it. A number is left to
  // json::parse: decoding refuses one wherever it reads, and json::parse words its value.
  bool build_value(std::size_t depth) {
    if (at_ == end_) return false;
    switch (*at_) {
      case '{': {
        if (depth >= kDeepestScanned) return false;
        ++at_;
        std::size_t count = 0;
        if (!members([&](std::string_view name, bool escaped) {
              ++count;
              stack_.push_key(text_of(name, escaped));
              return build_value(depth + 1);
            })) {
          return false;
        }
        stack_.push_object(count);
        return true;
      }
      case '[': {
        if (depth >= kDeepestScanned) return false;
        ++at_;
        std::size_t count = 0;
        if (!items([&] {
              ++count;
              return build_value(depth + 1);
            })) {
          return false;
        }
        stack_.push_array(count);
        return true;
      }
      case '"': {
        std::string_view raw;
        bool escaped = false;
        if (!string(raw, escaped)) return false;
        stack_.push_string(text_of(raw, escaped));
        return true;
      }
      case 't':
        if (!literal("true")) return false;
        stack_.push_bool(true);
        return true;
      case 'f':
        if (!literal("false")) return false;
        stack_.push_bool(false);
        return true;
      case 'n':
        if (!literal("null")) return false;
        stack_.push_null();
        return true;
      default: return false;
    }
  }

  // The top-level `headers` object, taken as a list (ParsedEvent::headers). A name given twice, whose
  // value json::object's rule picks, is left to parse_event_json.
  bool headers() {
    if (!at('{')) return false;
    ++at_;
    std::vector<EventHeader>& list = headers_.emplace();
    list.reserve(kEventHeadersReserved);
    return members([&](std::string_view raw_name, bool escaped_name) {
      const std::string_view name = text_of(raw_name, escaped_name);
      const bool named_before = std::any_of(list.begin(), list.end(), [name](const EventHeader& header) {
        return header.name.size() == name.size() && header.name == name;
      });
      if (named_before) return false;
      // Made in place and its name appended: a temporary moved in, or an assignment, costs as much again.
      EventHeader& header = list.emplace_back();
      header.name.append(name);
      if (at('"')) {
        std::string_view raw;
        bool escaped = false;
        if (!string(raw, escaped)) return false;
        header.value.append(text_of(raw, escaped));
        return true;
      }
      header.kind = at('n') ? EventHeader::Kind::null : EventHeader::Kind::other;
      return skip_value(2);
    });
  }

  // requestContext: only domainName, http's method and whether elb is there are built; its text as
  // written is placed, and kept when it is on one line.
  bool request_context() {
    const char* first = at_;
    context_at_ = static_cast<std::size_t>(first - begin_);
    spaced_ = false;
    if (!at('{')) {
      if (!build_value(1)) return false;
    } else {
      ++at_;
      std::size_t count = 0;
      std::uint32_t named = 0;
      const bool scanned = members([&](std::string_view name, bool escaped) {
        if (escaped) return false;
        const auto index =
            static_cast<std::size_t>(std::find(kDecodedContextMembers.begin(), kDecodedContextMembers.end(), name) -
                                     kDecodedContextMembers.begin());
        if (index == kDecodedContextMembers.size()) return skip_value(2);
        if ((named & (1U << index)) != 0) return false;
        named |= 1U << index;
        ++count;
        stack_.push_key(name);
        if (name == "http" && at('{')) return http_method();
        if (name == "elb" && at('{')) {
          if (!skip_value(2)) return false;
          stack_.push_object(0);
          return true;
        }
        return build_value(2);
      });
      if (!scanned) return false;
      stack_.push_object(count);
    }
    if (!spaced_) context_text_ = std::string_view(first, static_cast<std::size_t>(at_ - first));
    return true;
  }

  // requestContext.http, of which only the method is built.
  bool http_method() {
    ++at_;
    std::size_t count = 0;
    if (!members([&](std::string_view name, bool escaped) {
          if (escaped) return false;
          if (name != "method") return skip_value(3);
          if (count++ > 0) return false;
          stack_.push_key(name);
          return build_value(3);
        })) {
      return false;
    }
    stack_.push_object(count);
    return true;
  }

  json::value_stack stack_;
  const char* begin_;
  const char* at_;
  const char* end_;
  std::string decoded_;
  bool spaced_ = false;  // a space between tokens since request_context() began
  std::optional<std::size_t> context_at_;
  std::optional<std::string_view> context_text_;
  std::optional<std::vector<EventHeader>> headers_;
};

}  // namespace

std::optional<ParsedEvent> scan_event_json(std::string_view payload, json::storage_ptr storage) {
  unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
  return EventScanner(payload, std::move(storage), temp, sizeof temp).scan();
}

}  // namespace snapbus::lambda
