// The sample API Gateway events of tests/lambda/events/, read as text or as JSON to alter.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace otpd::lambda::testing {

inline std::string sample_text(const std::string& name) {
  const char* dir = std::getenv("OTPD_LAMBDA_EVENTS");
  if (!dir) ADD_FAILURE() << "OTPD_LAMBDA_EVENTS is not set (ctest sets it)";
  std::ifstream in(std::string(dir ? dir : ".") + "/" + name);
  if (!in) ADD_FAILURE() << "cannot read sample event " << name;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline boost::json::object sample(const std::string& name) {
  return boost::json::parse(sample_text(name)).as_object();
}

inline std::string text(const boost::json::object& event) { return boost::json::serialize(event); }

}  // namespace otpd::lambda::testing
