// What the API knows of a tenant: its name, policy and which channels it can send through —
// never a channel's credentials — and the directory that finds one by API key.
#pragma once

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "core/policy.hpp"
#include "core/types.hpp"

namespace otpd::api {

struct Tenant {
  core::TenantId id;
  core::Policy policy;
  std::set<core::ChannelKind> channels;
  // The Twilio-compatible API: the Verify Service SID this tenant answers as ("" = none), and
  // the channel each Twilio `Channel` value ("sms", "email", "whatsapp", "call") sends through.
  std::string twilio_service_sid;
  std::map<std::string, core::ChannelKind> twilio_channels;

  const std::string& name() const { return id.str(); }
  bool has_channel(core::ChannelKind kind) const { return channels.contains(kind); }
};

// Built once from the config; read-only afterwards, so any thread may use it.
class TenantDirectory {
 public:
  explicit TenantDirectory(const config::Config& config);

  // By name; nullptr when there is none.
  const Tenant* find(const std::string& name) const;
  // By the SHA-256 (lower-case hex) of an API key; nullptr when it is nobody's.
  const Tenant* by_key_hash(const std::string& key_hash) const;
  // By Twilio Verify Service SID (exact); nullptr when no tenant answers as it.
  const Tenant* by_service_sid(std::string_view sid) const;
  // The tenants that answer as a Verify Service, in Service SID order.
  std::vector<const Tenant*> twilio_services() const;
  // Protected mode (no API keys anywhere): every request is tenant "default".
  bool protected_mode() const { return protected_mode_; }

 private:
  std::map<std::string, Tenant> tenants_;
  std::unordered_map<std::string, const Tenant*> by_key_hash_;
  std::map<std::string, const Tenant*, std::less<>> by_service_sid_;
  bool protected_mode_ = false;
};

}  // namespace otpd::api
