// Building a process from its config: the one place that knows every concrete type.
#include "app/process.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>

#include "api/otp_service.hpp"
#include "api/router.hpp"
#include "api/tenants.hpp"
#include "app/openapi.hpp"
#include "app/secret_file.hpp"
#include "app/store_factory.hpp"
#include "aws/credentials.hpp"
#include "core/keyring.hpp"
#include "core/run_blocking.hpp"
#include "delivery/console_channel.hpp"
#include "delivery/deliverer.hpp"
#include "delivery/inline_dispatcher.hpp"
#include "delivery/ses_channel.hpp"
#include "delivery/sms_channel.hpp"
#include "delivery/smtp_channel.hpp"
#include "delivery/sns_channel.hpp"
#include "delivery/webhook_channel.hpp"
#include "delivery/worker.hpp"
#include "net/http_client.hpp"
#include "obs/log.hpp"
#include "store/metered_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace otpd::app {

namespace asio = boost::asio;

namespace {

constexpr auto kSweepInterval = std::chrono::seconds(60);
constexpr auto kFirstSweepDelay = std::chrono::seconds(5);

std::vector<std::string> server_secrets(const config::Config& config) {
  if (!config.secrets.empty()) return config.secrets;
  return {load_or_create_secret(config.data_dir)};
}

delivery::ChannelMap build_channels(const config::Config& config, asio::io_context& io,
                                    const core::TimeSource& clock) {
  delivery::ChannelMap channels;
  auto console = std::make_shared<delivery::ConsoleChannel>();
  auto client = std::make_shared<net::HttpClient>(io.get_executor());
  // One credential source for every tenant's AWS channels: fetched credentials are cached.
  auto aws_credentials = std::make_shared<aws::CredentialProvider>(client, clock);
  for (const auto& [name, tenant] : config.tenants) {
    if (tenant.console_channel) channels[{name, core::ChannelKind::kConsole}] = console;
    if (tenant.webhook) {
      channels[{name, core::ChannelKind::kWebhook}] = std::make_shared<delivery::WebhookChannel>(
          client, clock, tenant.webhook->url, tenant.webhook->secret);
    }
    if (tenant.sms && tenant.sms->provider == "sns") {
      channels[{name, core::ChannelKind::kSms}] = std::make_shared<delivery::SnsSmsChannel>(
          client, aws_credentials, clock, tenant.sms->region, tenant.sms->endpoint);
    } else if (tenant.sms) {
      channels[{name, core::ChannelKind::kSms}] = std::make_shared<delivery::TwilioSmsChannel>(
          client, delivery::TwilioSettings{tenant.sms->base_url, tenant.sms->account_sid,
                                           tenant.sms->auth_token, tenant.sms->from});
    }
    if (tenant.email && tenant.email->provider == "ses") {
      channels[{name, core::ChannelKind::kEmail}] = std::make_shared<delivery::SesEmailChannel>(
          client, aws_credentials, clock, tenant.email->region, tenant.email->from,
          tenant.email->endpoint);
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

// How long the sweeper keeps counters and failures: the longest window any rule reads.
core::Seconds counter_horizon(const config::Config& config) {
  int longest = 3600;  // the failure budget's hour
  for (const auto& [name, tenant] : config.tenants) {
    longest = std::max(longest, tenant.policy.send_window_seconds);
  }
  return core::Seconds(longest + 60);
}

}  // namespace

struct Process::Parts {
  Parts(const config::Config& config, asio::io_context& io, ProcessOptions options)
      : config(config),
        options(options),
        io(io),
        sweep_strand(asio::make_strand(io)),
        sweep_timer(sweep_strand) {
    if (options.unsafe_test_clock) {
      test_clock = std::make_unique<core::OffsetTimeSource>();
      clock = test_clock.get();
      obs::warn("UNSAFE TEST CLOCK enabled: POST /_test/clock moves time; never in production");
    }
    opened = open_store(config.store);
    if (opened.is_new) {
      auto done = run_blocking(io, opened.store->init_schema());
      if (!done) {
        throw std::runtime_error("store: cannot create the schema: " + done.error().message());
      }
      obs::info("created the store schema", {{"store", config.store}});
    }
    auto problem = run_blocking(io, opened.store->schema_problem());
    if (!problem) throw std::runtime_error("store: " + problem.error().message());
    if (*problem) throw std::runtime_error("store: " + **problem);

    keyring = std::make_unique<core::Keyring>(server_secrets(config));
    metered = std::make_unique<store::MeteredStore>(*opened.store, metrics);
    metrics.gauge("otpd_delivery_queue_depth", "Deliveries waiting in the store's queue",
                  [this] { return queue_depth.load(); });
    metrics.describe("otpd_deliveries_total", "counter",
                     "Delivery attempts by channel and outcome");
    delivery::DeliveryCounters counters;
    counters.on_attempt = [this](core::ChannelKind channel, const char* outcome) {
      metrics.add("otpd_deliveries_total",
                  {{"channel", core::to_string(channel)}, {"outcome", outcome}});
    };
    deliverer = std::make_unique<delivery::Deliverer>(*keyring, *clock, rng, config,
                                                      build_channels(config, io, *clock), counters);
    delivery::Dispatcher* dispatcher = nullptr;
    if (options.background_delivery) {
      worker = std::make_unique<delivery::Worker>(io, *metered, *deliverer, *clock);
      dispatcher = worker.get();
    } else {
      // Nothing runs between Lambda invocations: no worker loop, no timers.
      inline_delivery = std::make_unique<delivery::InlineDispatcher>(*metered, *deliverer, *clock);
      dispatcher = inline_delivery.get();
    }
    tenants = std::make_unique<api::TenantDirectory>(config);
    service =
        std::make_unique<api::OtpService>(*metered, *keyring, *clock, rng, metrics, dispatcher);
    api::RouterOptions router_options;
    router_options.openapi_json = std::string(openapi_json());
    router_options.test_clock = test_clock.get();
    router_options.serve_operations = config.admin_listen.empty();
    router = std::make_unique<api::Router>(config, *tenants, *service, *metered, *metered, metrics,
                                           *clock, router_options);
    if (!config.admin_listen.empty()) {
      admin_router = std::make_unique<api::OperationsRouter>(*metered, metrics);
    }
  }

  // The sweeper is the embedded store's TTL; it also refreshes the queue depth gauge, so a
  // scrape never waits for the store. Both run once a minute; the gauge is read from the
  // start, but the first sweep waits until the start is over (at once, it would compete with
  // the start for the CPU and for the store's writer, and it has nothing urgent to do).
  static asio::awaitable<void> sweep_loop(Parts* self) {
    using Clock = std::chrono::steady_clock;
    const auto horizon = counter_horizon(self->config);
    auto next_depth = Clock::now();
    auto next_sweep = next_depth + kFirstSweepDelay;
    while (!self->stopping) {
      if (Clock::now() >= next_depth) {
        auto depth = co_await self->metered->depth();
        self->queue_depth = depth ? static_cast<double>(*depth) : -1.0;
        next_depth = Clock::now() + kSweepInterval;
      }
      if (Clock::now() >= next_sweep) {
        auto swept = co_await self->metered->sweep(self->clock->now(), horizon);
        if (!swept) {
          obs::warn("sweep failed", {{"error", swept.error().message()}});
        } else if (*swept > 0) {
          obs::info("swept expired records", {{"rows", static_cast<long long>(*swept)}});
        }
        next_sweep = Clock::now() + kSweepInterval;
      }
      self->sweep_timer.expires_at(std::min(next_depth, next_sweep));
      // stop() sets `stopping` before it posts the cancel to this strand: either the cancel
      // finds the wait below, or this check finds the flag.
      if (self->stopping) break;
      auto [ec] = co_await self->sweep_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) break;
    }
    self->sweeping = false;
  }

  const config::Config& config;
  const ProcessOptions options;
  asio::io_context& io;
  core::SystemTimeSource system_clock;
  std::unique_ptr<core::OffsetTimeSource> test_clock;
  const core::TimeSource* clock = &system_clock;
  core::OpenSslRandom rng;
  obs::Metrics metrics;
  OpenedStore opened;
  std::unique_ptr<core::Keyring> keyring;
  std::unique_ptr<store::MeteredStore> metered;
  std::atomic<double> queue_depth{0};
  std::unique_ptr<delivery::Deliverer> deliverer;
  std::unique_ptr<delivery::Worker> worker;                     // serve
  std::unique_ptr<delivery::InlineDispatcher> inline_delivery;  // Lambda
  std::unique_ptr<api::TenantDirectory> tenants;
  std::unique_ptr<api::OtpService> service;
  std::unique_ptr<api::Router> router;
  std::unique_ptr<api::OperationsRouter> admin_router;
  // The sweeper's loop and its timer live on a strand, where stop() cancels the timer.
  asio::strand<asio::io_context::executor_type> sweep_strand;
  asio::steady_timer sweep_timer;
  std::atomic<bool> stopping{false};
  std::atomic<bool> sweeping{false};
};

Process::Process(const config::Config& config, asio::io_context& io, ProcessOptions options)
    : parts_(std::make_unique<Parts>(config, io, options)) {}

Process::~Process() = default;

api::Handler& Process::router() { return *parts_->router; }
api::Handler* Process::admin_router() { return parts_->admin_router.get(); }
store::Store& Process::store() { return *parts_->metered; }
obs::Metrics& Process::metrics() { return parts_->metrics; }
const core::TimeSource& Process::clock() const { return *parts_->clock; }

Task<store::Result<void>> Process::backup(std::string destination) {
  auto* sqlite = dynamic_cast<store::SqliteStore*>(parts_->opened.store.get());
  if (sqlite == nullptr) co_return store::make_error(store::StoreErrc::kUnavailable);
  co_return co_await sqlite->backup(std::move(destination));
}

void Process::start() {
  // A frozen Lambda runs no timer between invocations: its store expires records itself.
  if (!parts_->options.background_delivery) return;
  parts_->worker->start();
  parts_->sweeping = true;
  asio::co_spawn(parts_->sweep_strand, Parts::sweep_loop(parts_.get()), asio::detached);
}

void Process::stop() {
  parts_->stopping = true;
  if (parts_->worker) parts_->worker->stop();
  asio::post(parts_->sweep_strand, [parts = parts_.get()] { parts->sweep_timer.cancel(); });
}

bool Process::idle() const {
  return (!parts_->worker || parts_->worker->idle()) && !parts_->sweeping;
}

}  // namespace otpd::app
