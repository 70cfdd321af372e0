#include "json_mutator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include <boost/json.hpp>

namespace snapbus::lambda::fuzzing {
namespace {

namespace json = boost::json;
using Random = std::minstd_rand;

// The names the decoders look up (events, the streamed prelude, error bodies), and near misses.
// clang-format off
constexpr std::array<std::string_view, 30> kNames = {
    "httpMethod", "path", "rawPath", "rawQueryString", "headers", "Headers", "multiValueHeaders",
    "queryStringParameters", "multiValueQueryStringParameters", "cookies", "body", "isBase64Encoded",
    "requestContext", "http", "method", "elb", "domainName", "version", "routeKey", "statusCode",
    "statusDescription", "content-type", "content-encoding", "set-cookie", "cookie",
    "x-lambda-http-content-encoding", "errorMessage", "errorType", "stackTrace", ""};

// Strings at the decoders' edges: methods, paths with dot segments and bad escapes, charsets, base64
// and not, a NUL, UTF-8 and bytes that are not, header injection.
constexpr std::array<std::string_view, 27> kStrings = {
    "", "GET", "get", "HEAD", "/", "//", "/api", "/api/../../x", "/%2e%2e/x", "%", "%zz", "a=1&a=2&b", "a b",
    "text/plain; charset=latin1", "application/octet-stream", "gzip", "Zm9vYmFy", "not base64!", "===", "true",
    std::string_view("\0x", 2), "\xc3\xa9", "\xff\xfe", "\r\n", "a\r\nx-injected: 1", "2.0", "1.0"};
// clang-format on

// One value of the document, and where it sits, for taking it out or renaming it.
struct Slot {
  json::value* value = nullptr;
  json::value* parent = nullptr;  // an object or an array; null for the root
  std::string key;                // in an object parent
  std::size_t index = 0;          // in an array parent
};

void collect(json::value& value, json::value* parent, std::string key, std::size_t index, std::vector<Slot>& slots) {
  slots.push_back({&value, parent, std::move(key), index});
  if (json::object* object = value.if_object()) {
    for (auto& [name, member] : *object) collect(member, &value, std::string(name), 0, slots);
  } else if (json::array* array = value.if_array()) {
    for (std::size_t at = 0; at < array->size(); ++at) collect((*array)[at], &value, {}, at, slots);
  }
}

template <typename Range>
auto pick(const Range& range, Random& random) -> decltype(range[0]) {
  return range[random() % range.size()];
}

json::value edge_value(Random& random) {
  switch (random() % 13) {
    case 0: return nullptr;
    case 1: return true;
    case 2: return false;
    case 3: return 0;
    case 4: return -1;
    case 5: return 1.5;
    case 6: return std::numeric_limits<std::uint64_t>::max();
    case 7: return std::numeric_limits<std::int64_t>::min();
    case 8: return 1e308;
    case 9: return json::object();
    case 10: return json::array();
    case 11: return json::string(5000, 'a');
    default: {
      const std::string_view text = pick(kStrings, random);
      return json::string(text.data(), text.size());
    }
  }
}

// A value to put somewhere: an edge case, or a copy of a value already in the document (a header
// object where the body was, requestContext inside itself).
json::value new_value(const std::vector<Slot>& slots, Random& random) {
  if (random() % 4 == 0) return *pick(slots, random).value;
  return edge_value(random);
}

void rename_member(json::value& parent, const std::string& from, std::string_view to) {
  json::object renamed;
  for (auto& [name, member] : parent.get_object()) {
    renamed.emplace(name == from ? json::string_view(to.data(), to.size()) : name, std::move(member));
  }
  parent = std::move(renamed);
}

void remove(const Slot& slot) {
  if (json::object* object = slot.parent->if_object()) {
    object->erase(slot.key);
  } else {
    json::array& array = slot.parent->get_array();
    array.erase(array.begin() + static_cast<std::ptrdiff_t>(slot.index));
  }
}

void change_tree(json::value& root, Random& random) {
  std::vector<Slot> slots;
  collect(root, nullptr, {}, 0, slots);
  // The root is only added to or wrapped: replacing it loses the whole document.
  const Slot& any = pick(slots, random);
  const Slot& inner = slots.size() > 1 ? slots[1 + random() % (slots.size() - 1)] : any;
  switch (random() % 6) {
    case 0:
      if (inner.parent != nullptr) {
        remove(inner);
        return;
      }
      break;
    case 1:
      // The value is made first: it may copy a value of the tree, which inserting could move.
      if (json::object* object = any.value->if_object()) {
        const std::string_view name = pick(kNames, random);
        json::value added = new_value(slots, random);
        (*object)[json::string_view(name.data(), name.size())] = std::move(added);
        return;
      }
      if (json::array* array = any.value->if_array()) {
        json::value added = new_value(slots, random);
        array->push_back(std::move(added));
        return;
      }
      break;
    case 2:
      if (inner.parent != nullptr && inner.parent->is_object()) {
        rename_member(*inner.parent, inner.key, pick(kNames, random));
        return;
      }
      break;
    case 3: {
      json::value wrapped = std::move(*any.value);
      if (random() % 2 == 0) {
        json::array wrapper;
        wrapper.push_back(std::move(wrapped));
        *any.value = std::move(wrapper);
      } else {
        json::object wrapper;
        const std::string_view name = pick(kNames, random);
        wrapper[json::string_view(name.data(), name.size())] = std::move(wrapped);
        *any.value = std::move(wrapper);
      }
      return;
    }
    default: break;
  }
  // Replacing is also what the other changes fall back to where they do not apply (a string has no
  // members to add to). A document that is one value or an empty container has only its root to replace.
  json::value replacement = new_value(slots, random);
  *inner.value = std::move(replacement);
}

// What json::value cannot hold, done while writing one of the document's objects.
struct Twist {
  enum class Kind { none, member_twice, escaped_keys, spaced };
  Kind kind = Kind::none;
  const json::object* object = nullptr;
  std::size_t at = 0;       // member_twice: before the member at this place
  std::string name;         // member_twice: the name given twice
  json::value first_value;  // member_twice: the value written first; the member's own comes second
};

Twist choose_twist(json::value& root, Random& random) {
  std::vector<Slot> slots;
  collect(root, nullptr, {}, 0, slots);
  std::vector<const json::object*> objects;
  for (const Slot& slot : slots) {
    if (const json::object* object = slot.value->if_object()) objects.push_back(object);
  }
  Twist twist;
  const auto kind = random() % 4;
  if (objects.empty() || kind == 0) return twist;
  twist.object = pick(objects, random);
  if (kind == 2) {
    twist.kind = Twist::Kind::escaped_keys;
  } else if (kind == 3) {
    twist.kind = Twist::Kind::spaced;
  } else if (!twist.object->empty()) {
    // The earlier of two members of one name has its own value, and the later one wins in
    // json::parse; writing the new value first keeps the document's value and tests the rule.
    twist.kind = Twist::Kind::member_twice;
    twist.at = random() % twist.object->size();
    twist.name = std::string(std::next(twist.object->begin(), static_cast<std::ptrdiff_t>(twist.at))->key());
    twist.first_value = new_value(slots, random);
  }
  return twist;
}

class Writer {
 public:
  explicit Writer(const Twist& twist) : twist_(twist) {}

  void value(const json::value& value) {
    if (const json::object* object = value.if_object()) {
      this->object(*object);
    } else if (const json::array* array = value.if_array()) {
      out_ += '[';
      for (std::size_t at = 0; at < array->size(); ++at) {
        if (at != 0) out_ += ',';
        this->value((*array)[at]);
      }
      out_ += ']';
    } else if (value.is_double() && !std::isfinite(value.get_double())) {
      // json::serialize writes these as NaN and Infinity, which are not JSON; Boost.JSON reads these
      // back as what they were (0 times infinity is NaN).
      const double number = value.get_double();
      out_ += std::isnan(number) ? "0e9999" : number > 0 ? "1e9999" : "-1e9999";
    } else {
      out_ += json::serialize(value);
    }
  }

  std::string take() && { return std::move(out_); }

 private:
  void object(const json::object& object) {
    const bool twisted = &object == twist_.object;
    const std::string_view space = twisted && twist_.kind == Twist::Kind::spaced ? " \n\t" : "";
    out_ += '{';
    out_ += space;
    std::size_t at = 0;
    for (const auto& [name, member] : object) {
      if (at != 0) out_ += ',';
      if (twisted && twist_.kind == Twist::Kind::member_twice && at == twist_.at) {
        this->member(twist_.name, twist_.first_value, space, false);
        out_ += ',';
      }
      this->member(name, member, space, twisted && twist_.kind == Twist::Kind::escaped_keys);
      ++at;
    }
    out_ += space;
    out_ += '}';
  }

  void member(std::string_view name, const json::value& member, std::string_view space, bool escaped) {
    if (escaped) {
      out_ += '"';
      for (const char c : name) {
        if (static_cast<unsigned char>(c) < 0x80) {
          constexpr std::string_view kHex = "0123456789abcdef";
          out_ += "\\u00";
          out_ += kHex[static_cast<unsigned char>(c) >> 4];
          out_ += kHex[static_cast<unsigned char>(c) & 0xF];
        } else {
          out_ += c;  // a byte of a UTF-8 sequence, which \u would have to name as a whole
        }
      }
      out_ += '"';
    } else {
      out_ += json::serialize(json::string_view(name.data(), name.size()));
    }
    out_ += space;
    out_ += ':';
    out_ += space;
    value(member);
  }

  const Twist& twist_;
  std::string out_;
};

}  // namespace

std::optional<std::string> mutate_json(std::string_view document, std::uint32_t seed) {
  boost::system::error_code error;
  json::value root = json::parse(json::string_view(document.data(), document.size()), error);
  if (error) return std::nullopt;
  // minstd_rand takes seeds 0 and 1 to the same state.
  Random random(seed % (Random::modulus - 1) + 1);
  for (auto changes = 1 + random() % 3; changes > 0; --changes) change_tree(root, random);
  const Twist twist = choose_twist(root, random);
  Writer writer(twist);
  writer.value(root);
  return std::move(writer).take();
}

std::size_t mutate_json_or_bytes(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned int seed,
                                 ByteMutator byte_mutator) {
  if (seed % 2 == 0) {
    const std::optional<std::string> mutated =
        mutate_json(std::string_view(reinterpret_cast<const char*>(data), size), seed / 2);
    if (mutated && mutated->size() <= max_size) {
      std::copy(mutated->begin(), mutated->end(), data);
      return mutated->size();
    }
  }
  return byte_mutator(data, size, max_size);
}

}  // namespace snapbus::lambda::fuzzing
