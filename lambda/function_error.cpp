#include "snapbus/function_error.h"

#include <boost/json.hpp>

namespace snapbus::lambda {

std::string function_error_json(const FunctionError& error) {
  boost::json::array trace;
  for (const auto& frame : error.stack_trace) trace.emplace_back(frame);
  return boost::json::serialize(boost::json::object{
      {"errorMessage", error.message}, {"errorType", error.type}, {"stackTrace", std::move(trace)}});
}

}  // namespace snapbus::lambda
