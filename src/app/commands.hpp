// The subcommands of the otpd binary; each returns the process exit status.
#pragma once

#include <string>

namespace otpd::app {

struct ServeOptions {
  std::string config_path;
  bool unsafe_test_clock = false;  // POST /_test/clock; loopback only, for the e2e suite
};

// Lambda mode (src/app/lambda_mode.cpp): the binary as a Lambda custom runtime.
struct LambdaOptions {
  std::string runtime_api;  // AWS_LAMBDA_RUNTIME_API, "host:port"
  std::string config_path;  // OTPD_CONFIG, else /var/task/otpd.toml when present, else none
  std::string config_text;  // OTPD_CONFIG_TOML: the whole TOML file in one variable
};

int serve(const ServeOptions& options);
// Started as `bootstrap`, or with AWS_LAMBDA_RUNTIME_API set.
bool lambda_requested(const char* argv0);
LambdaOptions lambda_options_from_env();
int run_lambda(const LambdaOptions& options);
int store_init(const std::string& config_path);
int key_new(const std::string& tenant);

}  // namespace otpd::app
