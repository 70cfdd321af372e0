#include "snapbus/hook_registry.h"

#include <algorithm>
#include <exception>
#include <typeinfo>
#include <utility>

#include <boost/core/demangle.hpp>

#include "snapbus/error.h"

namespace snapbus {

std::string_view hook_phase_name(HookPhase phase) noexcept {
  switch (phase) {
    case HookPhase::before_snapshot: return "before-snapshot";
    case HookPhase::after_restore: return "after-restore";
    case HookPhase::shutdown: return "shutdown";
  }
  return "unknown";
}

std::string HookRunReport::message() const {
  std::string joined;
  for (const std::string& failure : failures) {
    if (!joined.empty()) joined += "; ";
    joined += failure;
  }
  return joined;
}

HookRunReport& HookRunReport::operator+=(const HookRunReport& other) {
  run += other.run;
  failed += other.failed;
  failures.insert(failures.end(), other.failures.begin(), other.failures.end());
  return *this;
}

void HookRegistry::add(HookPhase phase, std::string name, HookFunction hook, HookOptions options) {
  SNAPBUS_REQUIRE(static_cast<bool>(hook), "hook '" + name + "' has no function");
  std::lock_guard lock(mutex_);
  entries_.push_back(Entry{phase, std::move(name), std::make_shared<HookFunction>(std::move(hook)), options.order,
                           next_registration_index_++});
}

std::vector<HookRegistry::Entry> HookRegistry::entries_in_run_order(HookPhase phase) const {
  std::vector<Entry> selected;
  {
    std::lock_guard lock(mutex_);
    std::copy_if(entries_.begin(), entries_.end(), std::back_inserter(selected),
                 [phase](const Entry& entry) { return entry.phase == phase; });
  }
  auto restore_order = [](const Entry& a, const Entry& b) {
    return std::pair(a.order, a.registration_index) < std::pair(b.order, b.registration_index);
  };
  if (phase == HookPhase::after_restore) {
    std::sort(selected.begin(), selected.end(), restore_order);
  } else {
    std::sort(selected.begin(), selected.end(), [&](const Entry& a, const Entry& b) { return restore_order(b, a); });
  }
  return selected;
}

std::vector<std::string> HookRegistry::names_in_run_order(HookPhase phase) const {
  std::vector<std::string> names;
  for (const Entry& entry : entries_in_run_order(phase)) names.push_back(entry.name);
  return names;
}

namespace {

// "ExceptionType: message" for whatever a hook threw.
std::string describe_current_exception() {
  try {
    throw;
  } catch (const std::exception& e) {
    return boost::core::demangle(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    return "unknown exception: (not derived from std::exception)";
  }
}

}  // namespace

HookRunReport HookRegistry::run(HookPhase phase, const StateSnapshot& state, const HookStarting& starting) const {
  HookRunReport report;
  for (const Entry& entry : entries_in_run_order(phase)) {
    ++report.run;
    if (starting) starting(entry.name);
    try {
      (*entry.function)(state);
    } catch (...) {
      ++report.failed;
      report.failures.push_back(std::string(hook_phase_name(phase)) + " hook '" + entry.name +
                                "' failed: " + describe_current_exception());
    }
  }
  return report;
}

}  // namespace snapbus
