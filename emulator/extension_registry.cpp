#include "extension_registry.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include <fmt/format.h>
#include <boost/beast/http/status.hpp>
#include <boost/json.hpp>

#include "snapbus/lambda_protocol.h"
#include "snapbus/request_id.h"

namespace snapbus::emulator {
namespace {

namespace http = boost::beast::http;

long long epoch_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// 8-4-4-4-12 hexadecimal digits, the form register's identifiers have.
bool looks_like_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : std::isxdigit(static_cast<unsigned char>(text[i])) == 0) return false;
  }
  return true;
}

}  // namespace

Extension& ExtensionRegistry::add(std::string name) {
  auto ext = std::make_unique<Extension>();
  ext->name = std::move(name);
  ext->alive = true;
  ext->wake = std::make_unique<WakeSignal>(io_.get_executor());
  extensions_.push_back(std::move(ext));
  return *extensions_.back();
}

void ExtensionRegistry::add_launched(std::string name, pid_t pid) {
  Extension& ext = add(std::move(name));
  ext.pid = pid;
  ext.launched = true;
}

bool ExtensionRegistry::has_internal() const {
  return std::any_of(extensions_.begin(), extensions_.end(), [](const auto& ext) { return !ext->launched; });
}

std::vector<std::string> ExtensionRegistry::unregistered() const {
  std::vector<std::string> names;
  for (const auto& ext : extensions_) {
    if (ext->launched && !ext->registered) names.push_back(ext->name);
  }
  return names;
}

std::vector<std::string> ExtensionRegistry::not_waiting() const {
  std::vector<std::string> names;
  for (const auto& ext : extensions_) {
    if (ext->registered && !ext->waiting) names.push_back(ext->name);
  }
  return names;
}

std::variant<ApiError, std::string> ExtensionRegistry::register_extension(const std::string& name, bool invoke,
                                                                          bool shutdown) {
  Extension* ext = nullptr;
  for (auto& candidate : extensions_) {
    if (candidate->name == name) ext = candidate.get();
  }
  if (ext != nullptr && ext->registered) {
    return ApiError{http::status::forbidden, "Extension.InvalidExtensionState",
                    fmt::format("extension {} is already registered", name)};
  }
  // Not one we started: an internal extension registering from the runtime process. It stops with
  // the runtime, so it gets no SHUTDOWN (Lambda's Extensions API; the RIE refuses the same way).
  if (ext == nullptr) {
    if (shutdown) {
      return ApiError{http::status::forbidden, "Extension.InvalidEventType",
                      fmt::format("{} is an internal extension (no executable of that name was started from "
                                  "/opt/extensions): it cannot register for SHUTDOWN",
                                  name)};
    }
    if (extensions_.size() >= kMaxExtensions) {
      return ApiError{http::status::forbidden, "Extension.TooManyExtensions",
                      fmt::format("Extension limit ({}) reached", kMaxExtensions)};
    }
    ext = &add(name);
  }
  ext->registered = true;
  ext->identifier = lambda::new_request_id();
  ext->wants_invoke = invoke;
  ext->wants_shutdown = shutdown;
  return ext->identifier;
}

std::variant<ApiError, Extension*> ExtensionRegistry::find(const std::string& identifier) {
  for (auto& ext : extensions_) {
    if (ext->registered && ext->identifier == identifier) return ext.get();
  }
  // As the RIE tells them apart: no identifier Lambda could have issued, or one it did not issue.
  if (!looks_like_uuid(identifier)) {
    return ApiError{http::status::forbidden, "Extension.InvalidExtensionIdentifier",
                    fmt::format("'{}' is not an extension identifier (a UUID that register returned)", identifier)};
  }
  return ApiError{http::status::forbidden, "Extension.UnknownExtensionIdentifier",
                  fmt::format("Unknown extension {}: no registered extension has this identifier", identifier)};
}

std::variant<ApiError, Extension*> ExtensionRegistry::begin_next(const std::string& identifier) {
  auto found = find(identifier);
  if (auto* ext = std::get_if<Extension*>(&found)) {
    if ((*ext)->waiting) {
      return ApiError{http::status::forbidden, "InvalidStateTransition",
                      fmt::format("extension {} is already waiting in event/next", (*ext)->name)};
    }
    (*ext)->waiting = true;
  }
  return found;
}

boost::asio::awaitable<std::string> ExtensionRegistry::next_event(Extension& ext) {
  while (ext.events.empty()) co_await ext.wake->wait();
  ext.waiting = false;
  std::string event = std::move(ext.events.front());
  ext.events.pop_front();
  co_return event;
}

bool ExtensionRegistry::ready(bool invoke_only) const {
  for (const auto& ext : extensions_) {
    if (!ext->registered || !ext->alive) continue;
    if (invoke_only && !ext->wants_invoke) continue;
    if (!ext->waiting || !ext->events.empty()) return false;
  }
  return true;
}

bool ExtensionRegistry::shutdown_acknowledged() const {
  for (const auto& ext : extensions_) {
    if (!ext->alive || !ext->wants_shutdown || !ext->registered) continue;
    if (!(ext->waiting && ext->events.empty())) return false;
  }
  return true;
}

void ExtensionRegistry::post_invoke(const std::string& request_id, std::chrono::system_clock::time_point deadline,
                                    const std::string& function_arn, const std::string& trace_id) {
  for (auto& ext : extensions_) {
    if (!ext->alive || !ext->wants_invoke) continue;
    boost::json::object event;
    event["eventType"] = lambda::kEventInvoke;
    event["deadlineMs"] = epoch_ms(deadline);
    event["requestId"] = request_id;
    event["invokedFunctionArn"] = function_arn;
    event["tracing"] = {{"type", "X-Amzn-Trace-Id"}, {"value", trace_id}};
    ext->events.push_back(boost::json::serialize(event));
    ext->wake->notify();
  }
}

void ExtensionRegistry::post_shutdown(const std::string& reason, std::chrono::system_clock::time_point deadline) {
  for (auto& ext : extensions_) {
    if (!ext->alive || !ext->registered || !ext->wants_shutdown) continue;
    boost::json::object event;
    event["eventType"] = lambda::kEventShutdown;
    event["shutdownReason"] = reason;
    event["deadlineMs"] = epoch_ms(deadline);
    ext->events.push_back(boost::json::serialize(event));
    ext->wake->notify();
  }
}

const Extension* ExtensionRegistry::exited(pid_t pid) {
  for (auto& ext : extensions_) {
    if (ext->pid != pid) continue;
    ext->alive = false;
    ext->waiting = false;
    return ext.get();
  }
  return nullptr;
}

std::vector<pid_t> ExtensionRegistry::live_pids() const {
  std::vector<pid_t> pids;
  for (const auto& ext : extensions_) {
    if (ext->alive && ext->pid > 0) pids.push_back(ext->pid);
  }
  return pids;
}

void ExtensionRegistry::wake_all() {
  for (auto& ext : extensions_) ext->wake->notify();
}

}  // namespace snapbus::emulator
