// The subcommands of the otpd binary; each returns the process exit status.
#pragma once

#include <string>

namespace otpd::app {

struct ServeOptions {
  std::string config_path;
  bool unsafe_test_clock = false;  // POST /_test/clock; loopback only, for the e2e suite
};

int serve(const ServeOptions& options);
int store_init(const std::string& config_path);
int key_new(const std::string& tenant);

}  // namespace otpd::app
