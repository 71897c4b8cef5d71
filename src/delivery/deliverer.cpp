// Deliverer: the attempt itself and the mapping of a channel's answer to an outcome.
#include "delivery/deliverer.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <exception>
#include <vector>

#include "delivery/payload.hpp"
#include "delivery/templates.hpp"
#include "obs/log.hpp"

namespace otpd::delivery {

core::Millis retry_backoff(int attempt, core::RandomSource& rng) {
  const int doublings = std::clamp(attempt - 1, 0, 5);  // 2^5 s already passes the cap
  const long long base_ms = std::min<long long>(30000, 1000LL << doublings);
  std::array<std::uint8_t, 8> bytes{};
  rng.fill(bytes);
  std::uint64_t x = 0;
  for (auto b : bytes) x = (x << 8) | b;
  // 53 bits map exactly onto doubles in [0, 1], both ends included.
  const double unit =
      static_cast<double>(x >> 11) / static_cast<double>((std::uint64_t{1} << 53) - 1);
  const double factor = 0.5 + 0.5 * unit;
  return core::Millis(std::llround(static_cast<double>(base_ms) * factor));
}

Deliverer::Deliverer(const core::Keyring& keyring, const core::TimeSource& clock,
                     core::RandomSource& rng, const config::Config& config, ChannelMap channels,
                     DeliveryCounters counters)
    : keyring_(keyring),
      clock_(clock),
      rng_(rng),
      config_(config),
      channels_(std::move(channels)),
      counters_(std::move(counters)) {}

void Deliverer::count(core::ChannelKind channel, const char* outcome) const {
  if (counters_.on_attempt) counters_.on_attempt(channel, outcome);
}

AttemptOutcome Deliverer::fail(const store::DeliveryJob& job, const std::string& detail) {
  obs::warn("delivery failed", {{"tenant", job.tenant.str()},
                                {"id", job.id.str()},
                                {"channel", core::to_string(job.channel)},
                                {"attempt", job.attempts + 1},
                                {"detail", detail}});
  count(job.channel, "failed");
  return {AttemptOutcome::Kind::kFailed, {}};
}

Task<AttemptOutcome> Deliverer::attempt(const store::DeliveryJob& job) {
  try {
    co_return co_await try_attempt(job);
  } catch (...) {
    // what() could quote a payload: log only that it happened. The job stays leased and is
    // taken again when the lease runs out.
    obs::error("delivery attempt raised an exception", {{"tenant", job.tenant.str()},
                                                        {"id", job.id.str()},
                                                        {"channel", core::to_string(job.channel)}});
  }
  co_return AttemptOutcome{};
}

Task<AttemptOutcome> Deliverer::try_attempt(const store::DeliveryJob& job) {
  const auto now = clock_.now();
  if (now >= job.expires_at) co_return fail(job, "code expired before delivery");
  const auto plain = keyring_.open(job.sealed, payload_aad(job.tenant.str(), job.id.str()));
  if (!plain) {
    co_return fail(job, "sealed payload could not be opened (unknown secret or tampered)");
  }
  const auto payload = decode_payload(*plain);
  if (!payload) co_return fail(job, "payload could not be decoded");
  const auto tenant = config_.tenants.find(job.tenant.str());
  if (tenant == config_.tenants.end()) co_return fail(job, "tenant is not configured");
  const auto channel = channels_.find({job.tenant.str(), job.channel});
  if (channel == channels_.end() || !channel->second) {
    co_return fail(job, "channel is not configured for the tenant");
  }

  Message message;
  message.tenant = job.tenant;
  message.id = job.id;
  message.channel = job.channel;
  message.to = payload->to;
  message.code = payload->code;
  // No locale asked for means the default wording, which is English: say so to receivers.
  message.locale = payload->locale.empty() ? "en" : payload->locale;
  message.expires_at = job.expires_at;
  // The wording states the time actually left, which a retry has less of.
  const long long left_ms = (job.expires_at - now).count();
  render_message(tenant->second, static_cast<int>((left_ms + 999) / 1000), message);

  const Attempt result = co_await channel->second->deliver(message);

  switch (result.result) {
    case AttemptResult::kDelivered:
      obs::info("delivery sent", {{"tenant", job.tenant.str()},
                                  {"id", job.id.str()},
                                  {"channel", core::to_string(job.channel)},
                                  {"attempt", job.attempts + 1},
                                  {"detail", result.detail}});
      count(job.channel, "sent");
      co_return AttemptOutcome{AttemptOutcome::Kind::kSent, {}};
    case AttemptResult::kPermanent:
      co_return fail(job, result.detail);
    case AttemptResult::kTransient:
      break;
  }
  core::Millis wait;
  {
    std::lock_guard lock(rng_mu_);
    wait = retry_backoff(job.attempts + 1, rng_);
  }
  const auto next = clock_.now() + wait;
  if (next >= job.expires_at) {
    co_return fail(job, result.detail + "; no retry before the code expires");
  }
  obs::warn("delivery will be retried", {{"tenant", job.tenant.str()},
                                         {"id", job.id.str()},
                                         {"channel", core::to_string(job.channel)},
                                         {"attempt", job.attempts + 1},
                                         {"retry_in_ms", static_cast<long long>(wait.count())},
                                         {"detail", result.detail}});
  count(job.channel, "retry");
  co_return AttemptOutcome{AttemptOutcome::Kind::kRetry, next};
}

store::FinishedDelivery finished_delivery(const store::DeliveryJob& job,
                                          const AttemptOutcome& outcome) {
  return {job.tenant, job.id,
          outcome.kind == AttemptOutcome::Kind::kSent ? core::DeliveryStatus::kSent
                                                      : core::DeliveryStatus::kFailed};
}

void log_record_error(const core::TenantId& tenant, const core::VerificationId& id,
                      core::ChannelKind channel, const char* op,
                      const boost::system::error_code& ec) {
  obs::error("could not record delivery outcome", {{"tenant", tenant.str()},
                                                   {"id", id.str()},
                                                   {"channel", core::to_string(channel)},
                                                   {"op", op},
                                                   {"error", ec.message()}});
}

Task<bool> record_outcome(store::DeliveryQueue& store, const store::DeliveryJob& job,
                          const AttemptOutcome& outcome) {
  switch (outcome.kind) {
    case AttemptOutcome::Kind::kUnknown:
      co_return true;
    case AttemptOutcome::Kind::kRetry: {
      auto r = co_await store.retry(job.tenant, job.id, outcome.retry_at);
      if (r.has_error()) log_record_error(job.tenant, job.id, job.channel, "retry", r.error());
      co_return !r.has_error();
    }
    case AttemptOutcome::Kind::kSent:
    case AttemptOutcome::Kind::kFailed:
      break;
  }
  std::vector<store::FinishedDelivery> done{finished_delivery(job, outcome)};
  auto r = co_await store.finish(std::move(done));
  if (r.has_error()) log_record_error(job.tenant, job.id, job.channel, "finish", r.error());
  co_return !r.has_error();
}

}  // namespace otpd::delivery
