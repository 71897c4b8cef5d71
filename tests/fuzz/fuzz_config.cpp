// libFuzzer target: config::parse_config on arbitrary text. It must either return a Config
// or throw config::ConfigError; anything else escaping (another exception, a crash, a
// sanitizer report) is a bug. A Config it returns must satisfy the rules the loader promises
// (the README's Configuration reference), and an error must name its key ("key: what").
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/config.hpp"

namespace {

[[noreturn]] void violation(const char* what, const std::string& detail) {
  std::fprintf(stderr, "\n*** invariant violated: %s (%s)\n", what, detail.c_str());
  std::abort();
}

bool valid_tenant_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

bool has_channel(const otpd::config::TenantConfig& t, otpd::core::ChannelKind kind) {
  switch (kind) {
    case otpd::core::ChannelKind::kConsole:
      return t.console_channel;
    case otpd::core::ChannelKind::kEmail:
      return t.email.has_value();
    case otpd::core::ChannelKind::kSms:
      return t.sms.has_value();
    case otpd::core::ChannelKind::kWebhook:
      return t.webhook.has_value();
  }
  return false;
}

void check(const otpd::config::Config& c) {
  if (c.protected_mode() && !c.tenants.contains("default")) {
    violation("protected mode without the default tenant", "");
  }
  if (c.compat.enabled && !c.tenants.contains(c.compat.tenant)) {
    violation("compat names a tenant that does not exist", c.compat.tenant);
  }
  if (c.compat.path.empty() || c.compat.path.front() != '/')
    violation("compat path", c.compat.path);
  if (c.store.empty()) violation("empty store", "");
  for (const auto& secret : c.secrets) {
    if (secret.size() < 16) violation("short secret accepted", "");
  }
  for (const auto& [name, t] : c.tenants) {
    if (!valid_tenant_name(name) || t.name != name) violation("tenant name", name);
    const auto& p = t.policy;
    if (p.code_length < 4 || p.code_length > 10) violation("code_length", name);
    if (p.ttl_seconds < 30 || p.ttl_seconds > 3600) violation("ttl_seconds", name);
    if (p.max_attempts < 1) violation("max_attempts", name);
    if (p.max_sends_per_window < 1 || p.send_window_seconds < 1) violation("send window", name);
    if (p.resend_cooldown_seconds < 0 || p.retention_seconds < 0) violation("negative", name);
    if (!(p.send_rate_per_second >= 0) || !(p.requests_per_second_per_key >= 0)) {
      violation("negative or NaN rate", name);
    }
    for (const auto& hash : t.api_key_hashes) {
      if (hash.size() != 64) violation("api key hash length", name);
      for (char ch : hash) {
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) violation("hash hex", name);
      }
    }
    if (p.default_channel) {
      const bool configured = has_channel(t, *p.default_channel);
      if (!configured) violation("default_channel not configured", name);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool trace = std::getenv("OTPD_FUZZ_TRACE") != nullptr;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    check(otpd::config::parse_config(text, {}));
    if (trace) std::fprintf(stderr, "fuzz: config accepted\n");
  } catch (const otpd::config::ConfigError& e) {
    const std::string what = e.what();
    if (trace) std::fprintf(stderr, "fuzz: %s\n", what.c_str());
    if (what.find(": ") == std::string::npos || what.starts_with(": ")) {
      violation("a ConfigError that names no key", what);
    }
  }
  return 0;
}
