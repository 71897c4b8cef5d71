// `otpd serve`, `otpd store init` and `otpd key new`: configuration checks that must stop
// the start, the listeners and threads around a Process, and a graceful stop.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>
#include <vector>

#include "app/backup.hpp"
#include "app/commands.hpp"
#include "app/process.hpp"
#include "app/store_factory.hpp"
#include "config/config.hpp"
#include "core/crypto.hpp"
#include "core/random.hpp"
#include "core/run_blocking.hpp"
#include "http/descriptor_limit.hpp"
#include "http/io_pool.hpp"
#include "http/server.hpp"
#include "obs/log.hpp"

namespace otpd::app {

namespace asio = boost::asio;

namespace {

constexpr auto kDrainLimit = std::chrono::seconds(10);
constexpr std::size_t kAdminConnections = 64;

config::Config load(const std::string& path) {
  auto config = config::load_config(path, config::process_env());
  obs::Level level;
  if (obs::parse_level(config.log_level, level)) obs::set_log_level(level);
  obs::LogFormat format;
  if (obs::parse_log_format(config.log_format, format)) obs::set_log_format(format);
  return config;
}

// Start-up rules that depend on more than one key (protected mode, console exposure).
void check_exposure(const config::Config& config, const config::HostPort& listen, bool test_clock) {
  const bool loopback = config::is_loopback_host(listen.host);
  if (config.protected_mode() && !loopback) {
    throw config::ConfigError(
        "listen: no API keys are configured, so otpd only listens on loopback (protected "
        "mode); add api_keys to a tenant to listen on " +
        listen.host);
  }
  for (const auto& [name, tenant] : config.tenants) {
    if (tenant.console_channel && !loopback) {
      throw config::ConfigError("tenants." + name +
                                ".channels.console: the console channel prints codes to "
                                "stdout and is refused on a non-loopback listener");
    }
  }
  if (test_clock && !loopback) {
    throw config::ConfigError("--unsafe-test-clock is only allowed on a loopback listener");
  }
}

// data_dir/otpd.pid while the server runs, so `otpd store backup` can find it.
class PidFile {
 public:
  explicit PidFile(std::string path) : path_(std::move(path)) {
    std::ofstream out(path_, std::ios::trunc);
    out << ::getpid() << "\n";
    ::chmod(path_.c_str(), 0600);
  }
  ~PidFile() { std::remove(path_.c_str()); }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  std::string path_;
};

// The router, once the process behind it is built; the listener exists before it.
class HandlerSlot final : public api::Handler {
 public:
  api::Handler* target = nullptr;
  Task<api::Response> handle(api::Request request) override {
    co_return co_await target->handle(std::move(request));
  }
};

// Binds a listener, naming the config key (and its variable) when the address is taken.
std::unique_ptr<http::Server> bind_listener(http::IoPool& pool, api::Handler& handler,
                                            const http::ServerOptions& options,
                                            const std::string& key) {
  try {
    return std::make_unique<http::Server>(pool, handler, options);
  } catch (const std::system_error& e) {
    std::string env = "OTPD_" + key;
    for (char& c : env) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    throw config::ConfigError(
        key + ": cannot listen on " + config::format_host_port(options.host, options.port) + ": " +
        e.code().message() + " (set " + key + " or " + env + " to a free address)");
  }
}

}  // namespace

int serve(const ServeOptions& options) {
  // A file-size limit (or a full quota) must fail the write that meets it, which the store
  // answers as unavailable, rather than kill the process with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  const std::jthread crypto_warm_up = core::warm_up_crypto();
  try {
    const config::Config config = load(options.config_path);
    const auto listen = config::parse_listen(config.listen, "listen");
    check_exposure(config, listen, options.unsafe_test_clock);
    config::check_plain_http(config);
    if (options.config_path.empty()) {
      obs::warn(
          "no config file (--config or OTPD_CONFIG): using the defaults and OTPD_* "
          "variables",
          {{"listen", config.listen}, {"store", config.store}, {"data_dir", config.data_dir}});
    }
    if (config.protected_mode()) {
      obs::warn(
          "PROTECTED MODE: no API keys configured; serving tenant \"default\" without "
          "authentication on loopback only. Add api_keys (see `otpd key new`) to expose otpd.",
          {{"listen", config.listen}});
    }

    // One io_context per I/O thread, each connection pinned to one; the services that take
    // a single io_context (the delivery worker, the sweeper, signals) use the first.
    http::IoPool pool(static_cast<unsigned>(std::max(config.threads, 0)));
    asio::io_context& io = pool.context(0);
    // The listeners bind first: a port in use stops the start before anything (the data
    // dir, the secret, the store) is created on disk. They accept only once started.
    HandlerSlot main_handler;
    http::ServerOptions server_options;
    server_options.host = listen.host;
    server_options.port = listen.port;
    const auto descriptors = http::plan_descriptors(
        config.max_connections,
        http::kReservedDescriptors + (config.admin_listen.empty() ? 0 : kAdminConnections));
    server_options.max_connections = descriptors.max_connections;
    if (descriptors.max_connections < config.max_connections) {
      obs::warn("max_connections lowered to fit the file descriptor limit (RLIMIT_NOFILE)",
                {{"max_connections", static_cast<long long>(descriptors.max_connections)},
                 {"configured", static_cast<long long>(config.max_connections)},
                 {"nofile", static_cast<long long>(descriptors.limit)}});
    }
    auto server = bind_listener(pool, main_handler, server_options, "listen");

    HandlerSlot admin_handler;
    std::unique_ptr<http::Server> admin_server;
    if (!config.admin_listen.empty()) {
      const auto admin_listen = config::parse_listen(config.admin_listen, "admin_listen");
      http::ServerOptions admin_options;
      admin_options.host = admin_listen.host;
      admin_options.port = admin_listen.port;
      admin_options.max_connections = kAdminConnections;
      admin_server = bind_listener(pool, admin_handler, admin_options, "admin_listen");
    }

    ProcessOptions process_options;
    process_options.unsafe_test_clock = options.unsafe_test_clock;
    Process process(config, io, process_options);
    main_handler.target = &process.router();
    admin_handler.target = process.admin_router();

    // Graceful shutdown: stop accepting, let in-flight requests and deliveries finish.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer drain_timer(io);
    const auto drain_deadline = std::make_shared<std::chrono::steady_clock::time_point>();
    std::function<void()> wait_for_drain = [&] {
      const bool drained = server->open_connections() == 0 && process.idle();
      if (drained || std::chrono::steady_clock::now() > *drain_deadline) {
        pool.stop();
        return;
      }
      drain_timer.expires_after(std::chrono::milliseconds(20));
      drain_timer.async_wait([&](boost::system::error_code) { wait_for_drain(); });
    };
    signals.async_wait([&](boost::system::error_code ec, int signal) {
      if (ec) return;
      obs::info("shutting down", {{"signal", signal}});
      server->stop();
      if (admin_server) admin_server->stop();
      process.stop();
      *drain_deadline = std::chrono::steady_clock::now() + kDrainLimit;
      wait_for_drain();
    });

    // `otpd store backup` asks for an online copy of the store with SIGUSR1: the process
    // that holds the file is the one that can read it.
    asio::signal_set backup_signal(io, SIGUSR1);
    std::function<void()> wait_for_backup_request = [&] {
      backup_signal.async_wait([&](boost::system::error_code ec, int) {
        if (ec) return;
        asio::co_spawn(
            io,
            [&]() -> Task<void> {
              auto done = co_await process.backup(server_backup_path(config));
              if (done) {
                obs::info("store backup written", {{"path", server_backup_path(config)}});
              } else {
                obs::error("store backup failed", {{"error", done.error().message()}});
              }
            },
            asio::detached);
        wait_for_backup_request();
      });
    };
    wait_for_backup_request();
    PidFile pid_file(pid_file_path(config));

    server->start();
    if (admin_server) admin_server->start();
    process.start();

    obs::info("otpd listening",
              {{"listen", config::format_host_port(listen.host, server->port())},
               {"threads", static_cast<long long>(pool.size())},
               {"max_connections", static_cast<long long>(descriptors.max_connections)},
               {"nofile", static_cast<long long>(descriptors.limit)},
               {"tenants", static_cast<long long>(config.tenants.size())}});
    pool.run();
    obs::info("stopped");
    return 0;
  } catch (const config::ConfigError& e) {
    std::cerr << "otpd: config error: " << e.what() << "\n";
    return 78;  // EX_CONFIG
  } catch (const std::exception& e) {
    std::cerr << "otpd: " << e.what() << "\n";
    return 1;
  }
}

int store_init(const std::string& config_path) {
  try {
    const config::Config config = load(config_path);
    OpenedStore opened = open_store(config.store);
    auto done = run_blocking(opened.store->init_schema());
    if (!done) throw std::runtime_error("store: " + done.error().message());
    std::cout << "store schema is ready: " << config.store << "\n";
    return 0;
  } catch (const config::ConfigError& e) {
    std::cerr << "otpd: config error: " << e.what() << "\n";
    return 78;
  } catch (const std::exception& e) {
    std::cerr << "otpd: " << e.what() << "\n";
    return 1;
  }
}

int key_new(const std::string& tenant) {
  core::OpenSslRandom rng;
  const std::string key = "otpd_" + core::base64url_encode(core::random_bytes(rng, 32));
  std::cout << "key:  " << key << "\n"
            << "hash: sha256:" << core::hex_encode(core::sha256(key)) << "\n\n"
            << "Add the hash to the config (the key itself is shown only now):\n"
            << "[tenants." << tenant << "]\n"
            << "api_keys = [\"sha256:" << core::hex_encode(core::sha256(key)) << "\"]\n";
  return 0;
}

}  // namespace otpd::app
