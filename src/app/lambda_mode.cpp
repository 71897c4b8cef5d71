// Lambda mode: the same binary as a custom runtime (`bootstrap`, or AWS_LAMBDA_RUNTIME_API
// set): configuration from the environment and the packaged file, the same Process as
// `serve`, and the Runtime API loop in place of the HTTP listener.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "api/handler.hpp"
#include "app/commands.hpp"
#include "app/process.hpp"
#include "config/config.hpp"
#include "core/crypto.hpp"
#include "lambda/runtime.hpp"
#include "lambda/runtime_client.hpp"
#include "obs/log.hpp"

namespace otpd::app {

namespace asio = boost::asio;

namespace {

constexpr const char* kPackagedConfig = "/var/task/otpd.toml";
// Lambda delivers at most 6 MB synchronously; a bound above it never refuses a real event.
constexpr std::size_t kMaxEventBytes = 7 * 1024 * 1024;
// Where trusted CA certificates live on Amazon Linux 2023 and on Debian. The bundled
// OpenSSL looks under Debian's /usr/lib/ssl, which Lambda does not have.
constexpr const char* kCaBundles[] = {"/etc/pki/tls/certs/ca-bundle.crt",
                                      "/etc/ssl/certs/ca-certificates.crt"};

const char* env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

config::Config load(const LambdaOptions& options) {
  const auto environment = config::process_env();
  config::Config config;
  if (!options.config_text.empty()) {
    if (!options.config_path.empty() && options.config_path != kPackagedConfig) {
      throw config::ConfigError("OTPD_CONFIG_TOML: set either OTPD_CONFIG or OTPD_CONFIG_TOML");
    }
    config = config::parse_config(options.config_text, environment);
  } else {
    config = config::load_config(options.config_path, environment);
  }
  obs::Level level;
  if (obs::parse_level(config.log_level, level)) obs::set_log_level(level);
  return config;
}

// A function behind API Gateway is reachable from the internet, and every instance is a
// separate process: what `serve` allows on loopback alone, or generates per data dir, is
// refused here.
void check_lambda_config(const config::Config& config) {
  if (config.protected_mode()) {
    throw config::ConfigError(
        "tenants: no API keys are configured; Lambda mode is reachable from the internet and "
        "refuses protected mode (add api_keys to a tenant; see `otpd key new`)");
  }
  for (const auto& [name, tenant] : config.tenants) {
    if (tenant.console_channel) {
      throw config::ConfigError("tenants." + name +
                                ".channels.console: the console channel prints codes to the "
                                "function's logs and is refused in Lambda mode");
    }
  }
  if (config.secrets.empty()) {
    throw config::ConfigError(
        "secrets: Lambda mode needs the server secrets (secrets or OTPD_SECRETS): a secret "
        "generated per instance could not check codes sent through another instance");
  }
  if (config.store.starts_with("sqlite://")) {
    obs::warn("lambda: the store is SQLite, private to this instance: for tests only",
              {{"store", config.store}});
  }
}

void use_system_ca_bundle() {
  if (env("SSL_CERT_FILE") || env("SSL_CERT_DIR")) return;
  for (const char* path : kCaBundles) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) {
      ::setenv("SSL_CERT_FILE", path, 1);
      return;
    }
  }
}

// Reports a failed start to the Runtime API, as Lambda expects before the process exits.
void report_init_error(const std::string& runtime_api, const lambda::RuntimeError& error) {
  try {
    asio::io_context io(1);
    lambda::RuntimeClient client(io.get_executor(), runtime_api, kMaxEventBytes);
    asio::co_spawn(
        io,
        [&client, &error]() -> Task<void> {
          auto posted = co_await client.post_init_error(error);
          if (!posted) {
            obs::error("lambda: cannot report the start-up error",
                       {{"error", posted.error().message()}});
          }
        },
        asio::detached);
    io.run();
  } catch (const std::invalid_argument&) {
    // A malformed AWS_LAMBDA_RUNTIME_API: the message on stderr is all that can be said.
  }
}

}  // namespace

bool lambda_requested(const char* argv0) {
  if (env("AWS_LAMBDA_RUNTIME_API")) return true;
  return argv0 && std::filesystem::path(argv0).filename() == "bootstrap";
}

LambdaOptions lambda_options_from_env() {
  LambdaOptions options;
  if (const char* api = env("AWS_LAMBDA_RUNTIME_API")) options.runtime_api = api;
  if (const char* text = env("OTPD_CONFIG_TOML")) options.config_text = text;
  if (const char* path = env("OTPD_CONFIG")) {
    options.config_path = path;
  } else {
    std::error_code ec;
    if (std::filesystem::is_regular_file(kPackagedConfig, ec))
      options.config_path = kPackagedConfig;
  }
  return options;
}

int run_lambda(const LambdaOptions& options) {
  if (options.runtime_api.empty()) {
    std::cerr << "otpd: started as a Lambda runtime, but AWS_LAMBDA_RUNTIME_API is not set\n";
    return 1;
  }
  use_system_ca_bundle();
  const std::jthread crypto_warm_up = core::warm_up_crypto();
  try {
    const config::Config config = load(options);
    check_lambda_config(config);
    // One thread: Lambda sends an instance one invocation at a time.
    asio::io_context io(1);
    lambda::RuntimeClient client(io.get_executor(), options.runtime_api, kMaxEventBytes);
    ProcessOptions process_options;
    process_options.background_delivery = false;
    // Each send delivers inline (delivery::InlineDispatcher) and records the outcome before
    // it is answered: a frozen function runs nothing between invocations.
    Process process(config, io, process_options);

    // Lambda sends SIGTERM only to runtimes with extensions; either way, stop at once.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&io](boost::system::error_code ec, int) {
      if (!ec) io.stop();
    });
    process.start();
    obs::info("otpd lambda runtime ready",
              {{"tenants", static_cast<long long>(config.tenants.size())}});
    int status = 0;
    asio::co_spawn(io, lambda::run_runtime(client, process.router(), lambda::RuntimeOptions{}),
                   [&](std::exception_ptr failure, int result) {
                     status = failure ? 1 : result;
                     io.stop();
                   });
    io.run();
    process.stop();
    return status;
  } catch (const config::ConfigError& e) {
    std::cerr << "otpd: config error: " << e.what() << "\n";
    report_init_error(options.runtime_api,
                      {"otpd.ConfigError", std::string("config error: ") + e.what()});
    return 78;  // EX_CONFIG
  } catch (const std::exception& e) {
    std::cerr << "otpd: " << e.what() << "\n";
    report_init_error(options.runtime_api, {"otpd.StartError", e.what()});
    return 1;
  }
}

}  // namespace otpd::app
