// [tenants.NAME]: a tenant's API keys, policy, templates and channels, checked key by key.
#include <algorithm>
#include <limits>

#include "config/reader.hpp"

namespace otpd::config::detail {
namespace {

constexpr long long kIntMax = std::numeric_limits<int>::max();
constexpr long long kThirtyDays = 30LL * 24 * 3600;
constexpr std::size_t kMinSigningSecret = 16;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string read_api_key(const std::string& key, const std::string& value) {
  return read_sha256(key, value);
}

// The Twilio `Channel` values a tenant can map, and which recipients each one reaches.
bool twilio_channel_reaches(std::string_view twilio_channel, core::ChannelKind kind) {
  if (kind == core::ChannelKind::kConsole || kind == core::ChannelKind::kWebhook) return true;
  if (twilio_channel == "email") return kind == core::ChannelKind::kEmail;
  return kind == core::ChannelKind::kSms;  // sms, whatsapp, call: a phone number
}

}  // namespace

std::string read_sha256(const std::string& key, const std::string& value) {
  constexpr std::string_view kPrefix = "sha256:";
  const auto hex = std::string_view(value).substr(std::min(value.size(), kPrefix.size()));
  // The value is a hash, not a key, but it is still not echoed: people paste the wrong thing.
  if (!value.starts_with(kPrefix) || hex.size() != 64 ||
      !std::all_of(hex.begin(), hex.end(), is_hex)) {
    fail(key, "expected \"sha256:<64 hex digits>\"");
  }
  std::string lower(hex);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return lower;
}

namespace {

// "+1" .. "+999999": a string prefix of an E.164 number.
bool is_phone_prefix(std::string_view value) {
  return value.size() >= 2 && value.size() <= 7 && value.front() == '+' &&
         std::all_of(value.begin() + 1, value.end(), is_digit);
}

// A DNS name: the WebOTP line carries a host, never a scheme, port or path.
bool is_host_name(std::string_view value) {
  if (value.empty() || value.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = value.find('.', start);
    const auto label =
        value.substr(start, dot == std::string_view::npos ? value.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '-'; })) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// A BCP 47 tag as far as matching needs it: "de", "pt-BR", "zh-Hant-TW".
bool is_locale(std::string_view value) {
  std::size_t start = 0;
  bool first = true;
  while (true) {
    const auto dash = value.find('-', start);
    const auto part =
        value.substr(start, dash == std::string_view::npos ? value.npos : dash - start);
    const bool ok = first ? (part.size() >= 2 && part.size() <= 8 &&
                             std::all_of(part.begin(), part.end(), is_alpha))
                          : (!part.empty() && part.size() <= 8 &&
                             std::all_of(part.begin(), part.end(),
                                         [](char c) { return is_alpha(c) || is_digit(c); }));
    if (!ok) return false;
    if (dash == std::string_view::npos) return true;
    start = dash + 1;
    first = false;
  }
}

// The renderer leaves unknown {{names}} in place, so a typo would reach the recipient
// verbatim. Returns whether the text contains {{code}}.
bool check_placeholders(const std::string& key, const std::string& text) {
  bool has_code = false;
  for (auto open = text.find("{{"); open != std::string::npos; open = text.find("{{", open + 2)) {
    const auto close = text.find("}}", open + 2);
    if (close == std::string::npos) break;
    const auto name = std::string_view(text).substr(open + 2, close - open - 2);
    if (name == "code") {
      has_code = true;
    } else if (name != "ttl_minutes" && name != "app_name") {
      fail(key, "unknown placeholder " + quote("{{" + std::string(name) + "}}") +
                    " (known: {{code}}, {{ttl_minutes}}, {{app_name}})");
    }
  }
  return has_code;
}

Template read_template(const toml::table& table, const std::string& path) {
  const TableReader r(table, path, {"sms", "email_subject", "email_text", "email_html"});
  Template t;
  t.sms = r.string("sms").value_or("");
  t.email_subject = r.string("email_subject").value_or("");
  t.email_text = r.string("email_text").value_or("");
  t.email_html = r.string("email_html").value_or("");
  // A message without its code is useless. An unset part falls back to built-in wording,
  // and the code may sit in the subject alone, so only a replaced email body that has
  // no {{code}} anywhere in the email is refused.
  if (!check_placeholders(r.key("sms"), t.sms) && !t.sms.empty()) {
    fail(r.key("sms"), "must contain {{code}}");
  }
  const bool subject_code = check_placeholders(r.key("email_subject"), t.email_subject);
  const bool text_code = check_placeholders(r.key("email_text"), t.email_text);
  const bool html_code = check_placeholders(r.key("email_html"), t.email_html);
  if ((!t.email_text.empty() || !t.email_html.empty()) && !subject_code && !text_code &&
      !html_code) {
    fail(r.key(t.email_text.empty() ? "email_html" : "email_text"),
         "must contain {{code}} (or the subject or the other part must)");
  }
  return t;
}

std::string required(const TableReader& r, std::string_view name) {
  auto value = r.string(name);
  if (!value) fail(r.key(name), "required");
  if (value->empty()) fail(r.key(name), "must not be empty");
  return *value;
}

void refuse(const TableReader& r, std::initializer_list<std::string_view> names,
            const std::string& why) {
  for (auto name : names) {
    if (r.has(name)) fail(r.key(name), why);
  }
}

WebhookChannelConfig read_webhook(const toml::table& table, const std::string& path) {
  const TableReader r(table, path, {"url", "secret"});
  WebhookChannelConfig c;
  c.url = required(r, "url");
  if (!is_http_url(c.url)) fail(r.key("url"), "expected an http:// or https:// URL");
  check_outbound_url(r.key("url"), c.url, "every code and its signature");
  c.secret = required(r, "secret");
  // Receivers check the HMAC with this key; a short one can be guessed offline from a single
  // signed event. The value is never echoed.
  if (c.secret.size() < kMinSigningSecret) {
    fail(r.key("secret"), "must be at least " + std::to_string(kMinSigningSecret) + " characters");
  }
  return c;
}

// An AWS region goes into a host name and the signature's scope: "eu-west-1", "us-gov-west-1".
std::string read_region(const TableReader& r) {
  auto region = required(r, "region");
  if (!std::all_of(region.begin(), region.end(),
                   [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-'; })) {
    fail(r.key("region"), "expected an AWS region like \"eu-west-1\" (got " + quote(region) + ")");
  }
  return region;
}

// An SES- or SNS-compatible endpoint instead of AWS's regional one (emulators, tests).
std::string read_endpoint(const TableReader& r) {
  auto endpoint = r.string("endpoint").value_or("");
  if (r.has("endpoint") && !is_http_url(endpoint)) {
    fail(r.key("endpoint"), "expected an http:// or https:// URL");
  }
  check_outbound_url(r.key("endpoint"), endpoint,
                     "every message with its code, and AWS session tokens");
  return endpoint;
}

EmailChannelConfig read_email(const toml::table& table, const std::string& path) {
  const TableReader r(table, path, {"smtp", "provider", "region", "from", "endpoint"});
  EmailChannelConfig c;
  const auto provider = r.string("provider").value_or("smtp");
  if (provider == "ses") {
    c.provider = "ses";
    c.region = read_region(r);
    c.endpoint = read_endpoint(r);
    refuse(r, {"smtp"}, "not used with provider \"ses\"");
  } else if (provider == "smtp") {
    c.smtp = required(r, "smtp");
    // The URL usually carries a password: never echoed.
    if (!is_url(c.smtp, "smtp://") && !is_url(c.smtp, "smtps://")) {
      fail(r.key("smtp"), "expected an smtp:// or smtps:// URL");
    }
    refuse(r, {"region", "endpoint"}, "only used with provider \"ses\"");
  } else {
    fail(r.key("provider"), "must be \"smtp\" or \"ses\" (got " + quote(provider) + ")");
  }
  c.from = required(r, "from");
  return c;
}

SmsChannelConfig read_sms(const toml::table& table, const std::string& path) {
  const TableReader r(
      table, path,
      {"provider", "account_sid", "auth_token", "from", "base_url", "region", "endpoint"});
  SmsChannelConfig c;
  const auto provider = r.string("provider");
  if (!provider) fail(r.key("provider"), "required (\"twilio\" or \"sns\")");
  c.provider = *provider;
  if (c.provider == "twilio") {
    c.account_sid = required(r, "account_sid");
    c.auth_token = required(r, "auth_token");
    c.from = required(r, "from");
    if (auto base_url = r.string("base_url")) {
      if (!is_http_url(*base_url)) fail(r.key("base_url"), "expected an http:// or https:// URL");
      check_outbound_url(r.key("base_url"), *base_url, "the auth token and every code");
      c.base_url = *base_url;
    }
    refuse(r, {"region", "endpoint"}, "not used with provider \"twilio\"");
  } else if (c.provider == "sns") {
    c.region = read_region(r);
    c.endpoint = read_endpoint(r);
    refuse(r, {"account_sid", "auth_token", "from", "base_url"}, "not used with provider \"sns\"");
  } else {
    fail(r.key("provider"), "must be \"twilio\" or \"sns\" (got " + quote(c.provider) + ")");
  }
  return c;
}

void read_channels(const toml::table& table, const std::string& path, TenantConfig& tenant) {
  const TableReader r(table, path, {"console", "webhook", "email", "sms"});
  if (const auto* console = r.table("console")) {
    const TableReader nothing(*console, r.key("console"), {});
    tenant.console_channel = true;
  }
  if (const auto* t = r.table("webhook")) tenant.webhook = read_webhook(*t, r.key("webhook"));
  if (const auto* t = r.table("email")) tenant.email = read_email(*t, r.key("email"));
  if (const auto* t = r.table("sms")) tenant.sms = read_sms(*t, r.key("sms"));
}

std::vector<std::string> read_prefixes(const TableReader& r, std::string_view name) {
  auto prefixes = r.strings(name).value_or(std::vector<std::string>{});
  for (std::size_t i = 0; i < prefixes.size(); ++i) {
    if (!is_phone_prefix(prefixes[i])) {
      fail(index_key(r.key(name), i),
           "expected a phone prefix like \"+1\" or \"+4420\" (got " + quote(prefixes[i]) + ")");
    }
  }
  return prefixes;
}

std::map<core::ChannelKind, long long> read_daily_cap(const toml::table& table,
                                                      const std::string& path) {
  const TableReader r(table, path, {"console", "email", "sms", "webhook"});
  std::map<core::ChannelKind, long long> caps;
  for (auto kind : {core::ChannelKind::kConsole, core::ChannelKind::kEmail, core::ChannelKind::kSms,
                    core::ChannelKind::kWebhook}) {
    if (auto cap = r.integer(core::to_string(kind), 0, std::numeric_limits<long long>::max())) {
      caps[kind] = *cap;
    }
  }
  return caps;
}

void read_policy(const TableReader& r, core::Policy& p) {
  auto set_int = [&r](std::string_view name, long long min, long long max, int& out) {
    if (auto v = r.integer(name, min, max)) out = static_cast<int>(*v);
  };
  set_int("code_length", 4, 10, p.code_length);
  set_int("ttl_seconds", 30, 3600, p.ttl_seconds);
  set_int("max_attempts", 1, 20, p.max_attempts);
  set_int("resend_cooldown_seconds", 0, 86400, p.resend_cooldown_seconds);
  set_int("max_sends_per_window", 1, 1000, p.max_sends_per_window);
  set_int("send_window_seconds", 1, 86400, p.send_window_seconds);
  set_int("retention_seconds", 0, kThirtyDays, p.retention_seconds);
  set_int("failures_per_recipient_per_hour", 0, kIntMax, p.failures_per_recipient_per_hour);
  set_int("sms_sends_per_prefix_per_minute", 0, kIntMax, p.sms_sends_per_prefix_per_minute);
  if (auto v = r.number("send_rate_per_second", 0)) p.send_rate_per_second = *v;
  if (auto v = r.number("requests_per_second_per_key", 0)) p.requests_per_second_per_key = *v;

  if (auto v = r.string("alphabet")) {
    if (!core::parse_alphabet(*v, p.alphabet)) {
      fail(r.key("alphabet"), "must be \"digits\" or \"alnum\" (got " + quote(*v) + ")");
    }
  }
  if (auto v = r.string("default_channel")) {
    core::ChannelKind kind{};
    if (!core::parse_channel(*v, kind)) {
      fail(r.key("default_channel"),
           "must be one of console, email, sms, webhook (got " + quote(*v) + ")");
    }
    p.default_channel = kind;
  }
  if (auto v = r.string("app_name")) {
    if (v->empty()) fail(r.key("app_name"), "must not be empty");
    p.app_name = *v;
  }
  if (auto v = r.string("webotp_origin")) {
    // Empty is the same as absent: no origin line.
    if (!v->empty() && !is_host_name(*v)) {
      fail(r.key("webotp_origin"),
           "expected a host name like \"example.com\" (got " + quote(*v) + ")");
    }
    p.webotp_origin = *v;
  }
  if (const auto* t = r.table("daily_send_cap")) {
    p.daily_send_cap = read_daily_cap(*t, r.key("daily_send_cap"));
  }
  p.sms_allow_prefixes = read_prefixes(r, "sms_allow_prefixes");
  p.sms_deny_prefixes = read_prefixes(r, "sms_deny_prefixes");
}

bool has_channel(const TenantConfig& t, core::ChannelKind kind) {
  switch (kind) {
    case core::ChannelKind::kConsole:
      return t.console_channel;
    case core::ChannelKind::kEmail:
      return t.email.has_value();
    case core::ChannelKind::kSms:
      return t.sms.has_value();
    case core::ChannelKind::kWebhook:
      return t.webhook.has_value();
  }
  return false;
}

// twilio_service_sid and twilio_channels; whether a [twilio] table goes with them is
// checked once the whole file is read (check_twilio).
void read_twilio_keys(const TableReader& r, TenantConfig& tenant) {
  if (auto sid = r.string("twilio_service_sid")) {
    if (!is_twilio_sid(*sid, "VA")) {
      fail(r.key("twilio_service_sid"),
           "expected a Verify Service SID: \"VA\" and 32 hex digits (got " + quote(*sid) + ")");
    }
    tenant.twilio_service_sid = *sid;
  }
  const toml::table* mapping = r.table("twilio_channels");
  if (mapping == nullptr) {
    if (tenant.sms) tenant.twilio_channels["sms"] = core::ChannelKind::kSms;
    if (tenant.email) tenant.twilio_channels["email"] = core::ChannelKind::kEmail;
    return;
  }
  const TableReader m(*mapping, r.key("twilio_channels"), {"sms", "email", "whatsapp", "call"});
  for (std::string_view name : {"sms", "email", "whatsapp", "call"}) {
    auto value = m.string(name);
    if (!value) continue;
    core::ChannelKind kind{};
    if (!core::parse_channel(*value, kind)) {
      fail(m.key(name), "must be one of console, email, sms, webhook (got " + quote(*value) + ")");
    }
    if (!has_channel(tenant, kind)) {
      fail(m.key(name), "channel " + quote(*value) + " is not configured for this tenant");
    }
    if (!twilio_channel_reaches(name, kind)) {
      fail(m.key(name), "channel " + quote(*value) + " cannot reach the recipients of Twilio's " +
                            quote(name) + " channel");
    }
    tenant.twilio_channels[std::string(name)] = kind;
  }
}

}  // namespace

TenantConfig read_tenant(const toml::table& table, const std::string& name) {
  const TableReader r(table, join_key("tenants", name),
                      {"api_keys",
                       "code_length",
                       "ttl_seconds",
                       "max_attempts",
                       "resend_cooldown_seconds",
                       "max_sends_per_window",
                       "send_window_seconds",
                       "default_channel",
                       "app_name",
                       "alphabet",
                       "retention_seconds",
                       "failures_per_recipient_per_hour",
                       "send_rate_per_second",
                       "daily_send_cap",
                       "requests_per_second_per_key",
                       "sms_allow_prefixes",
                       "sms_deny_prefixes",
                       "sms_sends_per_prefix_per_minute",
                       "webotp_origin",
                       "templates",
                       "channels",
                       "twilio_service_sid",
                       "twilio_channels"});
  TenantConfig tenant;
  tenant.name = name;

  const auto keys = r.strings("api_keys").value_or(std::vector<std::string>{});
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto hash = read_api_key(index_key(r.key("api_keys"), i), keys[i]);
    if (std::find(tenant.api_key_hashes.begin(), tenant.api_key_hashes.end(), hash) !=
        tenant.api_key_hashes.end()) {
      fail(index_key(r.key("api_keys"), i), "listed twice");
    }
    tenant.api_key_hashes.push_back(std::move(hash));
  }

  read_policy(r, tenant.policy);

  if (const auto* templates = r.table("templates")) {
    for (auto&& [locale, node] : *templates) {
      const auto path = join_key(r.key("templates"), locale.str());
      if (!is_locale(locale.str())) fail(path, "expected a locale like \"de\" or \"pt-BR\"");
      const auto* t = node.as_table();
      if (t == nullptr) fail(path, "expected a table");
      tenant.templates[std::string(locale.str())] = read_template(*t, path);
    }
  }

  if (const auto* channels = r.table("channels"))
    read_channels(*channels, r.key("channels"), tenant);

  if (const auto& kind = tenant.policy.default_channel; kind && !has_channel(tenant, *kind)) {
    fail(r.key("default_channel"),
         "channel " + quote(core::to_string(*kind)) + " is not configured");
  }
  read_twilio_keys(r, tenant);
  return tenant;
}

}  // namespace otpd::config::detail
