// Shared helpers for the config tests: parse without env, capture a ConfigError's message.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/config.hpp"

namespace otpd::config::testing {

using Env = std::map<std::string, std::string>;

inline Config parse(const std::string& toml, const Env& env = {}) {
  return parse_config(toml, env);
}

// The message of the ConfigError that parsing throws, or "" (and a test failure) if none.
inline std::string error_of(const std::string& toml, const Env& env = {}) {
  try {
    parse_config(toml, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << toml;
  return "";
}

inline constexpr const char* kKeyHash =
    "ebfbfd0414bb0cb52b149c7596a65b6892c759178bdc540e50a3c9b3575775e3";

}  // namespace otpd::config::testing
