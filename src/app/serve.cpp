// `otpd serve`, `otpd store init` and `otpd key new`: configuration checks that must stop
// the start, and the wiring of store, keyring, channels, worker, router and listeners.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iostream>
#include <thread>
#include <vector>

#include "api/otp_service.hpp"
#include "api/router.hpp"
#include "app/commands.hpp"
#include "app/openapi.hpp"
#include "app/secret_file.hpp"
#include "app/store_factory.hpp"
#include "config/config.hpp"
#include "core/crypto.hpp"
#include "core/keyring.hpp"
#include "delivery/console_channel.hpp"
#include "delivery/ses_channel.hpp"
#include "delivery/sms_channel.hpp"
#include "delivery/smtp_channel.hpp"
#include "delivery/sns_channel.hpp"
#include "delivery/webhook_channel.hpp"
#include "delivery/worker.hpp"
#include "http/server.hpp"
#include "net/aws_credentials.hpp"
#include "net/http_client.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "store/metered_store.hpp"

namespace otpd::app {

namespace asio = boost::asio;

namespace {

constexpr auto kSweepInterval = std::chrono::seconds(60);
constexpr auto kDrainLimit = std::chrono::seconds(10);

config::Config load(const std::string& path) {
  auto config = config::load_config(path, config::process_env());
  obs::Level level;
  if (obs::parse_level(config.log_level, level)) obs::set_log_level(level);
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

std::vector<std::string> server_secrets(const config::Config& config) {
  if (!config.secrets.empty()) return config.secrets;
  return {load_or_create_secret(config.data_dir)};
}

OpenedStore open_checked_store(const config::Config& config, bool init_if_new) {
  OpenedStore opened = open_store(config.store);
  if (opened.is_new && init_if_new) {
    auto done = opened.store->init_schema();
    if (!done)
      throw std::runtime_error("store: cannot create the schema: " + done.error().message());
    obs::info("created the store schema", {{"store", "sqlite"}});
  }
  std::string missing;
  auto ok = opened.store->check_schema(&missing);
  if (!ok) {
    throw std::runtime_error("store: " + (missing.empty() ? ok.error().message() : missing));
  }
  return opened;
}

delivery::ChannelMap build_channels(const config::Config& config, asio::io_context& io,
                                    const core::TimeSource& clock) {
  delivery::ChannelMap channels;
  auto console = std::make_shared<delivery::ConsoleChannel>();
  auto client = std::make_shared<net::HttpClient>(io.get_executor());
  // One credential source for every tenant's AWS channels: fetched credentials are cached.
  auto aws = std::make_shared<net::AwsCredentialProvider>(client, clock);
  for (const auto& [name, tenant] : config.tenants) {
    if (tenant.console_channel) channels[{name, core::ChannelKind::kConsole}] = console;
    if (tenant.webhook) {
      channels[{name, core::ChannelKind::kWebhook}] = std::make_shared<delivery::WebhookChannel>(
          client, clock, tenant.webhook->url, tenant.webhook->secret);
    }
    if (tenant.sms && tenant.sms->provider == "sns") {
      channels[{name, core::ChannelKind::kSms}] = std::make_shared<delivery::SnsSmsChannel>(
          client, aws, clock, tenant.sms->region, tenant.sms->endpoint);
    } else if (tenant.sms) {
      channels[{name, core::ChannelKind::kSms}] = std::make_shared<delivery::TwilioSmsChannel>(
          client, delivery::TwilioSettings{tenant.sms->base_url, tenant.sms->account_sid,
                                           tenant.sms->auth_token, tenant.sms->from});
    }
    if (tenant.email && tenant.email->provider == "ses") {
      channels[{name, core::ChannelKind::kEmail}] = std::make_shared<delivery::SesEmailChannel>(
          client, aws, clock, tenant.email->region, tenant.email->from, tenant.email->endpoint);
    } else if (tenant.email) {
      try {
        channels[{name, core::ChannelKind::kEmail}] = std::make_shared<delivery::SmtpChannel>(
            io.get_executor(), clock, tenant.email->smtp, tenant.email->from);
      } catch (const std::invalid_argument& e) {
        // The channel's parser is the one that will use the URL: it judges it, at start.
        throw config::ConfigError("tenants." + name + ".channels.email: " + e.what());
      }
    }
  }
  return channels;
}

core::Seconds counter_horizon(const config::Config& config) {
  int longest = 3600;  // the failure budget's hour
  for (const auto& [name, tenant] : config.tenants) {
    longest = std::max(longest, tenant.policy.send_window_seconds);
  }
  return core::Seconds(longest + 60);
}

}  // namespace

int serve(const ServeOptions& options) {
  try {
    const config::Config config = load(options.config_path);
    const auto listen = config::parse_listen(config.listen, "listen");
    check_exposure(config, listen, options.unsafe_test_clock);
    if (config.protected_mode()) {
      obs::warn(
          "PROTECTED MODE: no API keys configured; serving tenant \"default\" without "
          "authentication on loopback only. Add api_keys (see `otpd key new`) to expose otpd.",
          {{"listen", config.listen}});
    }

    OpenedStore opened = open_checked_store(config, /*init_if_new=*/true);
    const core::Keyring keyring(server_secrets(config));

    core::SystemTimeSource system_clock;
    std::unique_ptr<core::OffsetTimeSource> test_clock;
    const core::TimeSource* clock = &system_clock;
    if (options.unsafe_test_clock) {
      test_clock = std::make_unique<core::OffsetTimeSource>();
      clock = test_clock.get();
      obs::warn("UNSAFE TEST CLOCK enabled: POST /_test/clock moves time; never in production");
    }
    core::OpenSslRandom rng;
    obs::Metrics metrics;
    store::MeteredStore store(*opened.store, metrics);
    metrics.gauge("otpd_delivery_queue_depth", "Deliveries waiting in the store's queue", [&store] {
      auto depth = store.delivery_queue_depth();
      return depth ? static_cast<double>(*depth) : -1.0;
    });

    asio::io_context io;
    delivery::WorkerCounters counters;
    metrics.describe("otpd_deliveries_total", "counter",
                     "Delivery attempts by channel and outcome");
    counters.on_attempt = [&metrics](core::ChannelKind channel, const char* outcome) {
      metrics.add("otpd_deliveries_total",
                  {{"channel", core::to_string(channel)}, {"outcome", outcome}});
    };
    delivery::Worker worker(io, store, keyring, *clock, rng, config,
                            build_channels(config, io, *clock), counters);

    api::OtpService service(store, keyring, *clock, rng, metrics, &worker);
    api::RouterOptions router_options;
    router_options.openapi_json = std::string(openapi_json());
    router_options.test_clock = test_clock.get();
    router_options.serve_operations = config.admin_listen.empty();
    api::Router router(config, service, store, metrics, *clock, rng, router_options);

    http::ServerOptions server_options;
    server_options.host = listen.host;
    server_options.port = listen.port;
    server_options.max_connections = config.max_connections;
    http::Server server(io, router, server_options);

    std::unique_ptr<api::OperationsRouter> admin_router;
    std::unique_ptr<http::Server> admin_server;
    if (!config.admin_listen.empty()) {
      const auto admin = config::parse_listen(config.admin_listen, "admin_listen");
      admin_router = std::make_unique<api::OperationsRouter>(store, metrics, rng);
      http::ServerOptions admin_options;
      admin_options.host = admin.host;
      admin_options.port = admin.port;
      admin_options.max_connections = 64;
      admin_server = std::make_unique<http::Server>(io, *admin_router, admin_options);
    }

    // Expiry sweeper: the embedded store's TTL.
    asio::steady_timer sweep_timer(io);
    const auto horizon = counter_horizon(config);
    std::function<void()> schedule_sweep = [&] {
      sweep_timer.expires_after(kSweepInterval);
      sweep_timer.async_wait([&](boost::system::error_code ec) {
        if (ec) return;
        auto swept = store.sweep(clock->now(), horizon);
        if (!swept) {
          obs::warn("sweep failed", {{"error", swept.error().message()}});
        } else if (*swept > 0) {
          obs::info("swept expired records", {{"rows", static_cast<long long>(*swept)}});
        }
        schedule_sweep();
      });
    };

    // Graceful shutdown: stop accepting, let in-flight requests and deliveries finish.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer drain_timer(io);
    const auto drain_deadline = std::make_shared<std::chrono::steady_clock::time_point>();
    std::function<void()> wait_for_drain = [&] {
      const bool drained = server.open_connections() == 0 && worker.idle();
      if (drained || std::chrono::steady_clock::now() > *drain_deadline) {
        io.stop();
        return;
      }
      drain_timer.expires_after(std::chrono::milliseconds(20));
      drain_timer.async_wait([&](boost::system::error_code) { wait_for_drain(); });
    };
    signals.async_wait([&](boost::system::error_code ec, int signal) {
      if (ec) return;
      obs::info("shutting down", {{"signal", signal}});
      server.stop();
      if (admin_server) admin_server->stop();
      worker.stop();
      sweep_timer.cancel();
      *drain_deadline = std::chrono::steady_clock::now() + kDrainLimit;
      wait_for_drain();
    });

    server.start();
    if (admin_server) admin_server->start();
    worker.start();
    schedule_sweep();

    const unsigned threads = config.threads > 0 ? static_cast<unsigned>(config.threads)
                                                : std::max(1u, std::thread::hardware_concurrency());
    obs::info("otpd listening", {{"listen", listen.host + ":" + std::to_string(server.port())},
                                 {"threads", static_cast<long long>(threads)},
                                 {"tenants", static_cast<long long>(config.tenants.size())}});
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
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
    auto done = opened.store->init_schema();
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
