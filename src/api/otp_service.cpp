// Send, verify, status and cancel: PRODUCT.md section 2's outcome tables, in one place.
#include "api/otp_service.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "api/json_input.hpp"
#include "api/problem.hpp"
#include "core/code.hpp"
#include "core/country_code.hpp"
#include "core/crypto.hpp"
#include "core/recipient.hpp"
#include "core/time_format.hpp"
#include "delivery/payload.hpp"
#include "obs/log.hpp"

namespace otpd::api {

namespace json = boost::json;
using core::ChannelKind;

namespace {

constexpr std::size_t kMaxMetadataBytes = 1024;
constexpr std::size_t kMaxIdempotencyKey = 128;
constexpr auto kIdempotencyLease = core::Millis(30'000);
constexpr auto kIdempotencyKeep = core::Seconds(24 * 3600);
constexpr int kMinTtl = 30;
constexpr int kMaxTtl = 3600;

Response json_response(int status, const json::object& body) {
  Response r;
  r.status = status;
  r.set_header("Content-Type", "application/json");
  r.body = json::serialize(body);
  return r;
}

Response text_response(int status, std::string text) {
  Response r;
  r.status = status;
  r.set_header("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(text);
  return r;
}

Response unavailable(const boost::system::error_code& ec) {
  obs::error("store operation failed", {{"error", ec.message()}});
  return problem(503, "unavailable", "the store is unavailable; try again shortly", {}, 1);
}

long long seconds_ceil(core::Seconds s) { return std::max<long long>(1, s.count()); }

json::object view(const core::Verification& v, core::TimePoint now) {
  json::object o;
  o["id"] = v.id.str();
  o["to"] = v.masked_to;
  o["channel"] = core::to_string(v.channel);
  o["status"] = core::to_string(v.effective_status(now));
  o["created_at"] = core::format_rfc3339(v.created_at);
  o["expires_at"] = core::format_rfc3339(v.expires_at);
  o["resend_at"] = core::format_rfc3339(v.resend_at);
  if (v.approved_at) o["approved_at"] = core::format_rfc3339(*v.approved_at);
  o["attempts_remaining"] = v.attempts_remaining();
  json::object delivery;
  delivery["status"] = core::to_string(v.delivery);
  o["delivery"] = std::move(delivery);
  if (!v.locale.empty()) o["locale"] = v.locale;
  if (!v.metadata_json.empty()) {
    boost::system::error_code ec;
    auto metadata = json::parse(v.metadata_json, ec);
    if (!ec) o["metadata"] = std::move(metadata);
  }
  return o;
}

bool channel_configured(const config::TenantConfig& tenant, ChannelKind kind) {
  switch (kind) {
    case ChannelKind::kConsole:
      return tenant.console_channel;
    case ChannelKind::kWebhook:
      return tenant.webhook.has_value();
    case ChannelKind::kEmail:
      return tenant.email.has_value();
    case ChannelKind::kSms:
      return tenant.sms.has_value();
  }
  return false;
}

bool valid_locale(std::string_view locale) {
  if (locale.empty() || locale.size() > 35) return false;
  for (char c : locale) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

bool starts_with_any(const std::string& number, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes) {
    if (number.starts_with(p)) return true;
  }
  return false;
}

std::optional<int> as_int(const json::value& v) {
  if (v.is_int64()) {
    auto i = v.as_int64();
    if (i >= INT32_MIN && i <= INT32_MAX) return static_cast<int>(i);
  }
  if (v.is_uint64() && v.as_uint64() <= INT32_MAX) return static_cast<int>(v.as_uint64());
  return std::nullopt;
}

}  // namespace

struct OtpService::SendInput {
  core::Recipient recipient;
  ChannelKind channel = ChannelKind::kConsole;
  std::string locale;
  int code_length = 6;
  int ttl_seconds = 300;
  std::string metadata_json;
};

Response OtpService::send(const config::TenantConfig& tenant, const Request& request) {
  std::optional<Response> error;
  auto body = parse_json_object(request, error);
  if (!body) return *error;

  FieldErrors errors;
  SendInput input;
  input.code_length = tenant.policy.code_length;
  input.ttl_seconds = tenant.policy.ttl_seconds;
  std::optional<ChannelKind> channel;
  bool have_recipient = false;

  for (const auto& [key, value] : *body) {
    if (key == "to") {
      if (!value.is_string()) {
        errors.add("to", "must be a string");
        continue;
      }
      std::string why;
      auto recipient = core::parse_recipient(value.as_string(), &why);
      if (!recipient) {
        errors.add("to", "must be an email address or an E.164 phone number (" + why + ")");
        continue;
      }
      input.recipient = std::move(*recipient);
      have_recipient = true;
    } else if (key == "channel") {
      ChannelKind kind;
      if (!value.is_string() || !core::parse_channel(value.as_string(), kind)) {
        errors.add("channel", "must be one of email, sms, webhook, console");
        continue;
      }
      channel = kind;
    } else if (key == "locale") {
      if (!value.is_string() || !valid_locale(value.as_string())) {
        errors.add("locale", "must be a language tag such as \"de\" or \"pt-BR\"");
        continue;
      }
      input.locale = value.as_string();
    } else if (key == "code_length") {
      auto n = as_int(value);
      if (!n || *n < core::kMinCodeLength || *n > core::kMaxCodeLength) {
        errors.add("code_length", "must be an integer from 4 to 10");
        continue;
      }
      input.code_length = *n;
    } else if (key == "ttl_seconds") {
      auto n = as_int(value);
      if (!n || *n < kMinTtl || *n > kMaxTtl) {
        errors.add("ttl_seconds", "must be an integer from 30 to 3600");
        continue;
      }
      input.ttl_seconds = *n;
    } else if (key == "metadata") {
      if (!value.is_object()) {
        errors.add("metadata", "must be a JSON object");
        continue;
      }
      input.metadata_json = json::serialize(value);
      if (input.metadata_json.size() > kMaxMetadataBytes) {
        errors.add("metadata", "must be at most 1024 bytes of JSON");
      }
    } else {
      errors.add(std::string(key), "unknown field");
    }
  }
  if (!have_recipient && !body->contains("to")) errors.add("to", "is required");

  if (errors.empty()) {
    if (!channel) {
      channel = tenant.policy.default_channel.value_or(
          input.recipient.kind == core::RecipientKind::kEmail ? ChannelKind::kEmail
                                                              : ChannelKind::kSms);
    }
    input.channel = *channel;
    if (!channel_configured(tenant, input.channel)) {
      errors.add("channel", std::string("channel \"") + core::to_string(input.channel) +
                                "\" is not configured for this tenant");
    } else if (input.channel == ChannelKind::kEmail &&
               input.recipient.kind != core::RecipientKind::kEmail) {
      errors.add("to", "the email channel needs an email address");
    } else if (input.channel == ChannelKind::kSms &&
               input.recipient.kind != core::RecipientKind::kPhone) {
      errors.add("to", "the sms channel needs an E.164 phone number");
    }
  }

  const std::string* idempotency_key = nullptr;
  std::string key_storage;
  if (auto key = request.header("Idempotency-Key")) {
    key_storage = std::string(*key);
    bool printable =
        !key_storage.empty() && std::all_of(key_storage.begin(), key_storage.end(),
                                            [](unsigned char c) { return c > 0x20 && c < 0x7f; });
    if (!printable || key_storage.size() > kMaxIdempotencyKey) {
      errors.add("Idempotency-Key", "must be 1 to 128 visible ASCII characters");
    }
    idempotency_key = &key_storage;
  }
  if (!errors.empty()) return errors.response();

  std::string request_hash;
  if (idempotency_key) request_hash = core::hex_encode(core::sha256(canonical_json(*body)));
  return start(tenant, input, idempotency_key, request_hash);
}

Response OtpService::start(const config::TenantConfig& tenant, const SendInput& input,
                           const std::string* idempotency_key, const std::string& request_hash) {
  const core::TenantId tenant_id(tenant.name);
  const auto now = clock_.now();
  const auto channel_label = core::to_string(input.channel);

  if (idempotency_key) {
    auto reserved = store_.reserve_idempotency(tenant_id, *idempotency_key, request_hash, now,
                                               kIdempotencyLease);
    if (!reserved) return unavailable(reserved.error());
    using Kind = store::IdempotencyReservation::Kind;
    switch (reserved->kind) {
      case Kind::kReserved:
        break;
      case Kind::kReplay: {
        Response r;
        r.status = reserved->status;
        r.set_header("Content-Type", "application/json");
        r.set_header("Idempotent-Replayed", "true");
        boost::system::error_code ec;
        auto stored = json::parse(reserved->response_body, ec);
        if (!ec && stored.is_object() && stored.as_object().contains("id") &&
            stored.as_object().at("id").is_string()) {
          r.set_header("Location",
                       "/v1/otp/" + std::string(stored.as_object().at("id").as_string()));
        }
        r.body = reserved->response_body;
        return r;
      }
      case Kind::kConflict:
        return problem(409, "idempotency_conflict",
                       "this Idempotency-Key was already used with a different request body");
      case Kind::kInProgress:
        return problem(409, "idempotency_conflict",
                       "a request with this Idempotency-Key is still in progress");
    }
  }
  auto release = [&] {
    if (idempotency_key) (void)store_.release_idempotency(tenant_id, *idempotency_key);
  };

  if (input.channel == ChannelKind::kSms) {
    const auto& policy = tenant.policy;
    const auto& number = input.recipient.normalized;
    if (starts_with_any(number, policy.sms_deny_prefixes) ||
        (!policy.sms_allow_prefixes.empty() &&
         !starts_with_any(number, policy.sms_allow_prefixes))) {
      release();
      metrics_.add("otpd_sends_total", {{"channel", channel_label}, {"outcome", "denied"}});
      return problem(403, "destination_not_allowed",
                     "this tenant does not send to that destination");
    }
  }

  const auto& policy = tenant.policy;
  if (policy.send_rate_per_second > 0) {
    store::TokenRequest bucket;
    bucket.key = "send:" + tenant.name;
    bucket.rate_per_second = policy.send_rate_per_second;
    bucket.burst = std::max(1.0, policy.send_rate_per_second);
    bucket.now = now;
    auto token = store_.take_token(bucket);
    if (!token) {
      release();
      return unavailable(token.error());
    }
    if (!token->allowed) {
      release();
      metrics_.add("otpd_sends_total", {{"channel", channel_label}, {"outcome", "rate_limited"}});
      const long long retry = seconds_ceil(token->retry_after);
      return problem(429, "rate_limited", "this tenant's send rate is exceeded",
                     {{"retry_after", retry}}, retry);
    }
  }

  core::Verification v;
  v.tenant = tenant_id;
  v.id = core::new_verification_id(rng_);
  v.recipient = keyring_.recipient_hash(tenant_id, input.recipient.normalized);
  v.masked_to = core::mask_recipient(input.recipient);
  v.channel = input.channel;
  v.alphabet = policy.alphabet;
  v.code_length = input.code_length;
  const std::string code = core::generate_code(rng_, policy.alphabet, input.code_length);
  v.code_hash = keyring_.code_hash(tenant_id, v.id, code);
  v.status = core::Status::kPending;
  v.max_attempts = policy.max_attempts;
  v.created_at = now;
  v.expires_at = now + core::Seconds(input.ttl_seconds);
  v.delete_after = v.expires_at + core::Seconds(policy.retention_seconds);
  v.locale = input.locale;
  v.metadata_json = input.metadata_json;

  store::StartRequest start_request;
  start_request.resend_cooldown_seconds = policy.resend_cooldown_seconds;
  start_request.max_sends_per_window = policy.max_sends_per_window;
  start_request.send_window_seconds = policy.send_window_seconds;
  start_request.sealed_delivery =
      keyring_.seal(delivery::encode_payload({input.recipient.normalized, code, input.locale}),
                    delivery::payload_aad(tenant.name, v.id.str()), rng_);
  start_request.verification = std::move(v);
  // Problem codes of the counters, index for index.
  std::vector<std::pair<const char*, const char*>> counter_codes;
  if (auto cap = policy.daily_send_cap.find(input.channel);
      cap != policy.daily_send_cap.end() && cap->second > 0) {
    start_request.counters.push_back(
        {"daily:" + tenant.name + ":" + channel_label, cap->second, core::Seconds(86400)});
    counter_codes.emplace_back("daily_cap",
                               "this tenant's daily send cap for the channel is reached");
  }
  if (input.channel == ChannelKind::kSms && policy.sms_sends_per_prefix_per_minute > 0) {
    start_request.counters.push_back(
        {"prefix:" + tenant.name + ":" + core::country_calling_code(input.recipient.normalized),
         policy.sms_sends_per_prefix_per_minute, core::Seconds(60)});
    counter_codes.emplace_back("prefix_rate_limited",
                               "too many codes were sent to this country prefix recently");
  }

  // The job goes straight to this process's worker, leased as if it had taken it, so the
  // worker need not fetch it back from the store (one transaction fewer per send).
  const bool hand_over = notifier_ != nullptr && notifier_->accepting();
  if (hand_over) start_request.delivery_leased_until = now + notifier_->lease();
  auto outcome = store_.start(start_request);
  if (!outcome) {
    release();
    return unavailable(outcome.error());
  }
  using Kind = store::StartOutcome::Kind;
  if (outcome->kind == Kind::kCooldown) {
    release();
    metrics_.add("otpd_sends_total", {{"channel", channel_label}, {"outcome", "resend_cooldown"}});
    return problem(429, "resend_cooldown", "a code was sent to this recipient moments ago",
                   {{"retry_after", seconds_ceil(outcome->retry_after)}},
                   seconds_ceil(outcome->retry_after));
  }
  if (outcome->kind == Kind::kCounterLimit && outcome->counter_index < counter_codes.size()) {
    release();
    const auto [code, detail] = counter_codes[outcome->counter_index];
    metrics_.add("otpd_sends_total", {{"channel", channel_label}, {"outcome", code}});
    return problem(429, code, detail, {{"retry_after", seconds_ceil(outcome->retry_after)}},
                   seconds_ceil(outcome->retry_after));
  }
  if (outcome->kind == Kind::kSendLimit) {
    release();
    metrics_.add("otpd_sends_total", {{"channel", channel_label}, {"outcome", "send_limit"}});
    return problem(429, "send_limit", "too many codes were sent to this recipient recently",
                   {{"retry_after", seconds_ceil(outcome->retry_after)}},
                   seconds_ceil(outcome->retry_after));
  }

  const auto& stored = outcome->verification;
  Response response = json_response(201, view(stored, now));
  response.set_header("Location", "/v1/otp/" + stored.id.str());
  if (idempotency_key) {
    auto done = store_.complete_idempotency(tenant_id, *idempotency_key, 201, response.body,
                                            now + kIdempotencyKeep);
    if (!done) obs::warn("idempotency record not completed", {{"error", done.error().message()}});
  }
  metrics_.add("otpd_sends_total", {{"channel", channel_label}, {"outcome", "accepted"}});
  obs::info("verification started", {{"tenant", tenant.name},
                                     {"id", stored.id.str()},
                                     {"to", stored.masked_to},
                                     {"channel", channel_label},
                                     {"superseded", outcome->superseded.has_value()}});
  if (hand_over) {
    store::DeliveryJob job;
    job.tenant = stored.tenant;
    job.id = stored.id;
    job.channel = stored.channel;
    job.sealed = std::move(start_request.sealed_delivery);
    job.expires_at = stored.expires_at;
    // Refused when the worker began stopping meanwhile or has too many jobs waiting: the
    // job then waits out its lease in the store and is taken from there.
    (void)notifier_->take_over(std::move(job));
  } else if (notifier_) {
    notifier_->notify();
  }
  return response;
}

Response OtpService::verify(const config::TenantConfig& tenant, const Request& request) {
  std::optional<Response> error;
  auto body = parse_json_object(request, error);
  if (!body) return *error;

  FieldErrors errors;
  std::optional<std::string> id, to, code;
  for (const auto& [key, value] : *body) {
    std::optional<std::string>* slot = key == "id"     ? &id
                                       : key == "to"   ? &to
                                       : key == "code" ? &code
                                                       : nullptr;
    if (!slot) {
      errors.add(std::string(key), "unknown field");
    } else if (!value.is_string()) {
      errors.add(std::string(key), "must be a string");
    } else {
      *slot = std::string(value.as_string());
    }
  }
  if (!code && !body->contains("code")) errors.add("code", "is required");
  if (!id && !to && !body->contains("id") && !body->contains("to")) {
    errors.add("id", "give the verification's id or its recipient as to");
  }
  if (id && to) errors.add("id", "give either id or to, not both");
  if (code && !core::plausible_code(*code)) {
    errors.add("code", "must be 4 to 10 letters or digits");
  }
  if (id && (id->empty() || id->size() > 64)) errors.add("id", "is not a verification id");
  std::optional<core::Recipient> recipient;
  if (to) {
    std::string why;
    recipient = core::parse_recipient(*to, &why);
    if (!recipient) errors.add("to", "must be an email address or an E.164 phone number");
  }
  if (!errors.empty()) return errors.response();

  const core::TenantId tenant_id(tenant.name);
  const auto now = clock_.now();
  auto count = [&](const char* outcome) {
    metrics_.add("otpd_verifications_total", {{"outcome", outcome}});
  };
  auto not_found = [&] {
    count("not_found");
    return problem(404, "not_found", "no pending verification matches");
  };

  // One store step finds the verification, judges the code against it and counts the
  // attempt: the code's expected alphabet and length come from the record, so the hashing
  // happens inside the check rather than after a separate read.
  store::CheckRequest check;
  check.tenant = tenant_id;
  if (recipient) {
    check.recipients = keyring_.recipient_hash_candidates(tenant_id, recipient->normalized);
  } else {
    check.id = core::VerificationId(*id);
  }
  check.hash_code =
      [&](const core::Verification& record) -> std::optional<std::vector<std::string>> {
    auto normalized = core::normalize_code(*code, record.alphabet, record.code_length);
    if (!normalized) return std::nullopt;
    return keyring_.code_hash_candidates(tenant_id, record.id, *normalized);
  };
  check.now = now;
  check.failures_per_recipient_per_hour = tenant.policy.failures_per_recipient_per_hour;
  auto outcome = store_.check(check);
  if (!outcome) return unavailable(outcome.error());

  using Kind = store::CheckOutcome::Kind;
  const auto& after = outcome->verification;
  switch (outcome->kind) {
    case Kind::kApproved: {
      count("approved");
      json::object o;
      o["id"] = after.id.str();
      o["status"] = "approved";
      o["approved_at"] = core::format_rfc3339(after.approved_at.value_or(now));
      obs::info("verification approved", {{"tenant", tenant.name}, {"id", after.id.str()}});
      return json_response(200, o);
    }
    case Kind::kInvalid:
      count("invalid_code");
      return problem(422, "invalid_code", "the code is not right",
                     {{"attempts_remaining", after.attempts_remaining()}});
    case Kind::kLocked:
      count("max_attempts");
      return problem(429, "max_attempts",
                     "too many wrong codes for this verification; a new send is needed",
                     {{"attempts_remaining", 0}});
    case Kind::kExpired:
      count("expired");
      return problem(410, "expired", "the code has expired; a new send is needed");
    case Kind::kTooManyFailures:
      count("too_many_failures");
      return problem(429, "too_many_failures",
                     "too many wrong codes for this recipient; try again later",
                     {{"retry_after", seconds_ceil(outcome->retry_after)}},
                     seconds_ceil(outcome->retry_after));
    case Kind::kMalformed: {
      count("malformed");
      FieldErrors e;
      e.add("code", "must be " + std::to_string(after.code_length) +
                        (after.alphabet == core::Alphabet::kDigits ? " digits" : " characters"));
      return e.response();
    }
    case Kind::kNotFound:
      return not_found();
  }
  return not_found();
}

Response OtpService::status(const config::TenantConfig& tenant, const std::string& id) {
  auto found = store_.get(core::TenantId(tenant.name), core::VerificationId(id));
  if (!found) return unavailable(found.error());
  if (!*found) return problem(404, "not_found", "no such verification");
  return json_response(200, view(**found, clock_.now()));
}

Response OtpService::cancel(const config::TenantConfig& tenant, const std::string& id) {
  auto outcome = store_.cancel(core::TenantId(tenant.name), core::VerificationId(id), clock_.now());
  if (!outcome) return unavailable(outcome.error());
  switch (*outcome) {
    case store::CancelOutcome::kCanceled: {
      json::object o;
      o["id"] = id;
      o["status"] = "canceled";
      return json_response(200, o);
    }
    case store::CancelOutcome::kAlreadyApproved:
      return problem(409, "already_approved", "the verification was already approved");
    case store::CancelOutcome::kNotPending:
      return problem(409, "not_pending", "the verification is no longer pending");
    case store::CancelOutcome::kNotFound:
      break;
  }
  return problem(404, "not_found", "no such verification");
}

Response OtpService::compat_send(const config::TenantConfig& tenant, const std::string& email) {
  auto recipient = core::parse_recipient(email);
  if (!recipient || recipient->kind != core::RecipientKind::kEmail) {
    return text_response(400, "invalid email");
  }
  SendInput input;
  input.recipient = std::move(*recipient);
  input.code_length = 6;
  input.ttl_seconds = tenant.policy.ttl_seconds;
  input.channel = tenant.email ? ChannelKind::kEmail
                               : tenant.policy.default_channel.value_or(ChannelKind::kEmail);
  if (!channel_configured(tenant, input.channel)) {
    return text_response(503, "email channel not configured");
  }
  // The original answered 409 while any unexpired code was pending, not only during the
  // resend cooldown.
  const core::TenantId tenant_id(tenant.name);
  auto latest = store_.find_latest(
      tenant_id, keyring_.recipient_hash_candidates(tenant_id, input.recipient.normalized));
  if (!latest) return text_response(503, "service unavailable");
  if (*latest && (*latest)->effective_status(clock_.now()) == core::Status::kPending) {
    return text_response(409, "current otp not expired");
  }
  // The original service generated 6-digit codes whatever else the tenant uses.
  config::TenantConfig digits = tenant;
  digits.policy.alphabet = core::Alphabet::kDigits;
  Response r = start(digits, input, nullptr, "");
  if (r.status == 201) return text_response(200, "otp send successfully");
  if (r.status == 429) {
    if (r.body.find("\"resend_cooldown\"") != std::string::npos) {
      return text_response(409, "current otp not expired");
    }
    Response limited = text_response(429, "too many requests");
    if (auto retry = r.header("Retry-After"))
      limited.set_header("Retry-After", std::string(*retry));
    return limited;
  }
  if (r.status >= 500) return text_response(r.status, "service unavailable");
  return text_response(r.status, "invalid request");
}

Response OtpService::compat_verify(const config::TenantConfig& tenant, const Request& request) {
  boost::system::error_code ec;
  auto value = json::parse(request.body, ec);
  if (ec || !value.is_object()) return text_response(400, "invalid request");
  const auto& body = value.as_object();
  const auto* email = body.if_contains("email");
  const auto* otp = body.if_contains("otp");
  if (!email || !email->is_string() || !otp) return text_response(400, "invalid request");
  std::string code;
  if (otp->is_string()) {
    code = otp->as_string();
  } else if (otp->is_int64() && otp->as_int64() >= 0) {
    code = std::to_string(otp->as_int64());
  } else if (otp->is_uint64()) {
    code = std::to_string(otp->as_uint64());
  } else {
    return text_response(400, "invalid request");
  }
  auto recipient = core::parse_recipient(email->as_string());
  if (!recipient) return text_response(400, "invalid request");
  // A JSON number loses leading zeros; the original stored integers, so pad back.
  if (!otp->is_string() && code.size() < 6) code.insert(0, 6 - code.size(), '0');

  Request inner;
  inner.method = "POST";
  inner.headers = {{"Content-Type", "application/json"}};
  json::object o;
  o["to"] = recipient->normalized;
  o["code"] = code;
  inner.body = json::serialize(o);
  Response r = verify(tenant, inner);
  switch (r.status) {
    case 200:
      return text_response(200, "otp verified successfully");
    case 410:
      return text_response(401, "otp expired");
    case 404:
      return text_response(404, "invalid otp");
    case 422:
    case 400:
      return text_response(403, "invalid otp");
    case 429:
      if (r.body.find("\"max_attempts\"") != std::string::npos) {
        return text_response(403, "invalid otp");
      } else {
        Response limited = text_response(429, "too many requests");
        if (auto retry = r.header("Retry-After")) {
          limited.set_header("Retry-After", std::string(*retry));
        }
        return limited;
      }
    default:
      return text_response(r.status >= 500 ? r.status : 400, "invalid request");
  }
}

}  // namespace otpd::api
