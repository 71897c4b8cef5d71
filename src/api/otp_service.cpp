// The OTP operations as typed outcomes: validation, code generation and sealing, one store
// operation per request, delivery hand-over, and the domain metrics and log lines.
#include "api/otp_service.hpp"

#include <algorithm>
#include <cctype>

#include "core/code.hpp"
#include "core/country_code.hpp"
#include "core/crypto.hpp"
#include "core/placement.hpp"
#include "core/recipient.hpp"
#include "core/typed_code.hpp"
#include "delivery/payload.hpp"
#include "obs/log.hpp"

namespace otpd::api {

using core::ChannelKind;

namespace {

constexpr int kOriginalCodeLength = 6;

bool valid_locale(std::string_view locale) {
  if (locale.empty() || locale.size() > 35) return false;
  return std::all_of(locale.begin(), locale.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool starts_with_any(const std::string& number, const std::vector<std::string>& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return number.starts_with(p); });
}

// 1 to 128 visible ASCII characters.
bool valid_idempotency_key(std::string_view key) {
  return !key.empty() && key.size() <= OtpService::kMaxIdempotencyKey &&
         std::all_of(key.begin(), key.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

Problem unavailable(const boost::system::error_code& ec, const char* op) {
  obs::error("store operation failed", {{"op", op}, {"error", ec.message()}});
  return Problem::of(Errc::kUnavailable, "the store is unavailable; try again shortly",
                     core::Seconds(1));
}

// Parses `to`; adds a field error a person can act on when it is not a recipient.
std::optional<core::Recipient> read_recipient(const std::string& to, FieldErrors& errors) {
  std::string why;
  auto recipient = core::parse_recipient(to, &why);
  if (!recipient) {
    // `why` names the part that is wrong; for input that is neither kind it would only
    // repeat the rule.
    errors.add("to", why == core::kNotARecipient
                         ? "must be an email address or an E.164 phone number"
                         : "must be an email address or an E.164 phone number: " + why);
  }
  return recipient;
}

}  // namespace

bool plausible_verification_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

OtpService::OtpService(store::VerificationStore& store, const core::Keyring& keyring,
                       const core::TimeSource& clock, core::RandomSource& rng,
                       obs::Metrics& metrics, delivery::Dispatcher* dispatcher)
    : store_(store),
      keyring_(keyring),
      clock_(clock),
      rng_(rng),
      metrics_(metrics),
      dispatcher_(dispatcher) {
  metrics_.describe("otpd_sends_total", "counter", "Send requests by channel and outcome");
  metrics_.describe("otpd_verifications_total", "counter", "Code checks by outcome");
}

Task<Outcome<Started>> OtpService::send(const Tenant& tenant, SendCommand command) {
  const core::Policy& policy = tenant.policy;
  FieldErrors& errors = command.errors;

  const auto recipient = read_recipient(command.to, errors);
  const int code_length = command.original_rules ? kOriginalCodeLength
                                                 : command.code_length.value_or(policy.code_length);
  const int ttl_seconds = command.ttl_seconds.value_or(policy.ttl_seconds);
  if (code_length < core::kMinCodeLength || code_length > core::kMaxCodeLength) {
    errors.add("code_length", "must be an integer from 4 to 10");
  }
  if (ttl_seconds < kMinTtl || ttl_seconds > kMaxTtl) {
    errors.add("ttl_seconds", "must be an integer from 30 to 3600");
  }
  if (!command.locale.empty() && !valid_locale(command.locale)) {
    errors.add("locale", "must be a language tag such as \"de\" or \"pt-BR\"");
  }
  if (command.metadata_json.size() > kMaxMetadataBytes) {
    errors.add("metadata", "must be at most 1024 bytes of JSON");
  }
  if (command.idempotency_key && !valid_idempotency_key(*command.idempotency_key)) {
    errors.add("Idempotency-Key", "must be 1 to 128 visible ASCII characters");
  }
  ChannelKind channel = ChannelKind::kEmail;
  if (recipient) {
    channel = command.channel.value_or(policy.default_channel.value_or(
        recipient->kind == core::RecipientKind::kEmail ? ChannelKind::kEmail : ChannelKind::kSms));
    if (!tenant.has_channel(channel)) {
      errors.add("channel", std::string("channel \"") + core::to_string(channel) +
                                "\" is not configured for this tenant");
    } else if (channel == ChannelKind::kEmail && recipient->kind != core::RecipientKind::kEmail) {
      errors.add("to", "the email channel needs an email address");
    } else if (channel == ChannelKind::kSms && recipient->kind != core::RecipientKind::kPhone) {
      errors.add("to", "the sms channel needs an E.164 phone number");
    }
  }
  if (!errors.empty()) co_return errors.problem();

  const char* channel_label = core::to_string(channel);
  auto count = [&](const char* outcome) {
    metrics_.add("otpd_sends_total", {{"channel", channel_label}, {"outcome", outcome}});
  };
  if (channel == ChannelKind::kSms &&
      (starts_with_any(recipient->canonical, policy.sms_deny_prefixes) ||
       (!policy.sms_allow_prefixes.empty() &&
        !starts_with_any(recipient->canonical, policy.sms_allow_prefixes)))) {
    count("denied");
    co_return Problem::of(Errc::kForbiddenDestination,
                          "this tenant does not send to that destination");
  }

  const auto now = clock_.now();
  const core::Alphabet alphabet =
      command.original_rules ? core::Alphabet::kDigits : policy.alphabet;
  const std::string code = core::generate_code(rng_, alphabet, code_length);

  store::StartRequest request;
  core::Verification& v = request.verification;
  v.tenant = tenant.id;
  request.history = keyring_.recipient_hash_candidates(tenant.id, recipient->canonical);
  v.recipient = request.history.front();
  v.id = core::new_verification_id(rng_, command.id_style, now,
                                   core::placement_of(tenant.id, v.recipient));
  v.masked_to = core::mask_recipient(*recipient);
  v.channel = channel;
  v.alphabet = alphabet;
  v.code_length = code_length;
  v.code_hash = keyring_.code_hash(tenant.id, v.id, code);
  v.max_attempts = policy.max_attempts;
  v.created_at = now;
  v.expires_at = now + core::Seconds(ttl_seconds);
  v.resend_at = now;
  v.delete_after = v.expires_at + core::Seconds(policy.retention_seconds);
  v.locale = command.locale;
  v.metadata_json = std::move(command.metadata_json);

  request.rules = core::SendRules::from(policy);
  request.rules.hold_while_pending = command.original_rules;
  if (command.idempotency_key) {
    request.idempotency =
        core::IdempotencyClaim{std::move(*command.idempotency_key), std::move(command.request_hash),
                               now + kIdempotencyKeep};
  }
  if (policy.send_rate_per_second > 0) {
    request.rate = core::TokenSpec{"send:" + tenant.name(), policy.send_rate_per_second,
                                   std::max(1.0, policy.send_rate_per_second)};
  }
  // The problem code of each counter, index for index.
  std::vector<Errc> counter_codes;
  if (auto cap = policy.daily_send_cap.find(channel);
      cap != policy.daily_send_cap.end() && cap->second > 0) {
    request.counters.push_back(
        {"daily:" + tenant.name() + ":" + channel_label, cap->second, core::Seconds(86400)});
    counter_codes.push_back(Errc::kDailyCap);
  }
  if (channel == ChannelKind::kSms && policy.sms_sends_per_prefix_per_minute > 0) {
    request.counters.push_back(
        {"prefix:" + tenant.name() + ":" + core::country_calling_code(recipient->canonical),
         policy.sms_sends_per_prefix_per_minute, core::Seconds(60)});
    counter_codes.push_back(Errc::kPrefixRateLimited);
  }
  request.sealed_delivery =
      keyring_.seal(delivery::encode_payload({recipient->address, code, command.locale}),
                    delivery::payload_aad(tenant.name(), v.id.str()), rng_);
  const std::optional<core::TimePoint> leased =
      dispatcher_ ? dispatcher_->lease_until(now) : std::nullopt;
  request.delivery_leased_until = leased;
  std::string sealed = request.sealed_delivery;

  auto outcome = co_await store_.start(std::move(request));
  if (!outcome) co_return unavailable(outcome.error(), "start");

  const core::SendDecision& decision = outcome->decision;
  using core::SendVerdict;
  switch (decision.verdict) {
    case SendVerdict::kStart:
      break;
    case SendVerdict::kReplay:
      count("replayed");
      co_return Started{std::move(outcome->verification), true, std::nullopt};
    case SendVerdict::kIdempotencyConflict:
      co_return Problem::of(Errc::kIdempotencyConflict,
                            "this Idempotency-Key was already used with a different request body");
    case SendVerdict::kRateLimited:
      count("rate_limited");
      co_return Problem::of(Errc::kRateLimited, "this tenant's send rate is exceeded",
                            decision.retry_after);
    case SendVerdict::kCooldown:
      count("resend_cooldown");
      co_return Problem::of(Errc::kResendCooldown, "a code was sent to this recipient moments ago",
                            decision.retry_after);
    case SendVerdict::kSendLimit:
      count("send_limit");
      co_return Problem::of(Errc::kSendLimit, "too many codes were sent to this recipient recently",
                            decision.retry_after);
    case SendVerdict::kTooManyFailures:
      count("too_many_failures");
      co_return Problem::of(Errc::kTooManyFailures,
                            "too many wrong codes for this recipient; try again later",
                            decision.retry_after);
    case SendVerdict::kCounterLimit: {
      const Errc code = decision.counter_index < counter_codes.size()
                            ? counter_codes[decision.counter_index]
                            : Errc::kRateLimited;
      count(code_name(code).data());
      co_return Problem::of(code,
                            code == Errc::kDailyCap
                                ? "this tenant's daily send cap for the channel is reached"
                                : "too many codes were sent to this country prefix recently",
                            decision.retry_after);
    }
  }

  Started started{std::move(outcome->verification), false, outcome->superseded};
  const core::Verification& stored = started.verification;
  count("accepted");
  obs::info("verification started", {{"tenant", tenant.name()},
                                     {"id", stored.id.str()},
                                     {"to", stored.masked_to},
                                     {"channel", channel_label},
                                     {"superseded", started.superseded.has_value()}});
  if (dispatcher_) {
    store::DeliveryJob job{stored.tenant,     stored.id, stored.channel,
                           std::move(sealed), 0,         stored.expires_at};
    started.verification.delivery =
        co_await dispatcher_->dispatch(std::move(job), leased.has_value());
  }
  co_return started;
}

Task<Outcome<core::Verification>> OtpService::verify(const Tenant& tenant, VerifyCommand command) {
  Checked checked = co_await check(tenant, std::move(command));
  co_return std::move(checked.outcome);
}

Task<Checked> OtpService::check(const Tenant& tenant, VerifyCommand command) {
  FieldErrors& errors = command.errors;
  if (command.id && command.to) errors.add("id", "give either id or to, not both");
  if (!command.id && !command.to)
    errors.add("id", "give the verification's id or its recipient as to");
  if (command.code ? !core::plausible_code(*command.code) : !command.original_rules) {
    errors.add("code", "must be 4 to 10 letters or digits");
  }
  if (command.id && !plausible_verification_id(*command.id)) {
    errors.add("id", "is not a verification id");
  }
  std::optional<core::Recipient> recipient;
  if (command.to) recipient = read_recipient(*command.to, errors);
  if (!errors.empty()) co_return Checked{errors.problem(), std::nullopt};

  auto count = [&](const char* outcome) {
    metrics_.add("otpd_verifications_total", {{"outcome", outcome}});
  };
  store::CheckRequest check;
  check.tenant = tenant.id;
  if (recipient) {
    check.recipients = keyring_.recipient_hash_candidates(tenant.id, recipient->canonical);
  } else {
    check.id = core::VerificationId(*command.id);
  }
  // The code is hashed bound to the verification's id. By id, that is now, before the
  // store is asked; by recipient the id comes from the store's read, so the store asks for
  // the comparison between its read and its commit. Either way, outside any store lock.
  const std::optional<std::string>& typed = command.code;
  std::optional<core::TypedCodeHashes> by_id;
  if (check.id && typed) by_id = core::hash_typed_code(keyring_, tenant.id, *check.id, *typed);
  check.typed = by_id;
  check.match = [&](const core::Verification& v) {
    if (!typed) return core::CodeMatch::kMalformed;
    if (by_id) return core::match_typed_code(*by_id, v);
    return core::match_typed_code(core::hash_typed_code(keyring_, tenant.id, v.id, *typed), v);
  };
  check.failures_per_hour = tenant.policy.failures_per_recipient_per_hour;
  check.now = clock_.now();
  auto outcome = co_await store_.check(std::move(check));
  if (!outcome) co_return Checked{unavailable(outcome.error(), "check"), std::nullopt};

  core::CheckDecision& decision = *outcome;
  // Called last in each case: it moves the state after the check out of `decision`.
  auto answer = [&](Outcome<core::Verification> result) {
    return Checked{std::move(result), std::move(decision.after), decision.write};
  };
  using core::CheckVerdict;
  switch (decision.verdict) {
    case CheckVerdict::kApproved:
      count("approved");
      obs::info("verification approved",
                {{"tenant", tenant.name()}, {"id", decision.after->id.str()}});
      co_return answer(*decision.after);
    case CheckVerdict::kInvalid: {
      count("invalid_code");
      Problem p = Problem::of(Errc::kInvalidCode, "the code is not right");
      p.attempts_remaining = decision.after->attempts_remaining();
      co_return answer(p);
    }
    case CheckVerdict::kLocked: {
      count("max_attempts");
      Problem p = Problem::of(Errc::kMaxAttempts,
                              "too many wrong codes for this verification; a new send is needed");
      p.attempts_remaining = 0;
      co_return answer(p);
    }
    case CheckVerdict::kExpired:
      if (command.original_rules && decision.match != core::CodeMatch::kRight) {
        count("invalid_code");
        co_return answer(Problem::of(Errc::kInvalidCode, "the code is not right"));
      }
      count("expired");
      co_return answer(Problem::of(Errc::kExpired, "the code has expired; a new send is needed"));
    case CheckVerdict::kTooManyFailures:
      count("too_many_failures");
      co_return answer(Problem::of(Errc::kTooManyFailures,
                                   "too many wrong codes for this recipient; try again later",
                                   decision.retry_after));
    case CheckVerdict::kMalformed: {
      count("malformed");
      FieldErrors e;
      e.add("code",
            "must be " + std::to_string(decision.after->code_length) +
                (decision.after->alphabet == core::Alphabet::kDigits ? " digits" : " characters"));
      co_return answer(e.problem());
    }
    case CheckVerdict::kNotFound:
      break;
  }
  count("not_found");
  Problem p = Problem::of(Errc::kNotFound, "no pending verification matches");
  // Whoever holds the id already knows it exists; saying what became of it saves a read.
  if (decision.after && command.id) {
    p.status = decision.after->status;
    p.detail = decision.after->status == core::Status::kApproved
                   ? "this verification was already approved; a code is single use"
                   : "this verification was canceled (a newer code replaces it)";
  }
  co_return answer(p);
}

Task<Outcome<core::Verification>> OtpService::status(const Tenant& tenant, std::string id) {
  if (!plausible_verification_id(id))
    co_return Problem::of(Errc::kNotFound, "no such verification");
  auto found = co_await store_.get(tenant.id, core::VerificationId(std::move(id)));
  if (!found) co_return unavailable(found.error(), "get");
  if (!*found) co_return Problem::of(Errc::kNotFound, "no such verification");
  co_return std::move(**found);
}

Task<Outcome<core::Verification>> OtpService::cancel(const Tenant& tenant, std::string id) {
  return transition(tenant, std::move(id), core::Transition::kCancel);
}

Task<Outcome<core::Verification>> OtpService::approve(const Tenant& tenant, std::string id) {
  return transition(tenant, std::move(id), core::Transition::kApprove);
}

Task<Outcome<core::Verification>> OtpService::transition(const Tenant& tenant, std::string id,
                                                         core::Transition transition) {
  if (!plausible_verification_id(id))
    co_return Problem::of(Errc::kNotFound, "no such verification");
  store::TransitionRequest request{tenant.id, core::VerificationId(std::move(id)), transition,
                                   clock_.now()};
  auto outcome = co_await store_.transition(std::move(request));
  if (!outcome) co_return unavailable(outcome.error(), "transition");
  switch (outcome->verdict) {
    case core::TransitionVerdict::kDone:
      co_return std::move(*outcome->after);
    case core::TransitionVerdict::kAlreadyApproved:
      co_return Problem::of(Errc::kAlreadyApproved, "the verification was already approved");
    case core::TransitionVerdict::kNotPending:
      co_return Problem::of(Errc::kNotPending, "the verification is no longer pending");
    case core::TransitionVerdict::kNotFound:
      break;
  }
  co_return Problem::of(Errc::kNotFound, "no such verification");
}

}  // namespace otpd::api
