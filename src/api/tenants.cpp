// The tenant directory, from the config.
#include "api/tenants.hpp"

namespace otpd::api {

TenantDirectory::TenantDirectory(const config::Config& config)
    : protected_mode_(config.protected_mode()) {
  for (const auto& [name, t] : config.tenants) {
    Tenant tenant;
    tenant.id = core::TenantId(name);
    tenant.policy = t.policy;
    if (t.console_channel) tenant.channels.insert(core::ChannelKind::kConsole);
    if (t.webhook) tenant.channels.insert(core::ChannelKind::kWebhook);
    if (t.email) tenant.channels.insert(core::ChannelKind::kEmail);
    if (t.sms) tenant.channels.insert(core::ChannelKind::kSms);
    tenant.twilio_service_sid = t.twilio_service_sid;
    tenant.twilio_channels = t.twilio_channels;
    tenants_.emplace(name, std::move(tenant));
  }
  for (const auto& [name, t] : config.tenants) {
    for (const auto& hash : t.api_key_hashes) by_key_hash_[hash] = &tenants_.at(name);
    if (!t.twilio_service_sid.empty()) by_service_sid_[t.twilio_service_sid] = &tenants_.at(name);
  }
}

const Tenant* TenantDirectory::find(const std::string& name) const {
  auto it = tenants_.find(name);
  return it == tenants_.end() ? nullptr : &it->second;
}

const Tenant* TenantDirectory::by_key_hash(const std::string& key_hash) const {
  auto it = by_key_hash_.find(key_hash);
  return it == by_key_hash_.end() ? nullptr : it->second;
}

}  // namespace otpd::api

namespace otpd::api {

const Tenant* TenantDirectory::by_service_sid(std::string_view sid) const {
  auto it = by_service_sid_.find(sid);
  return it == by_service_sid_.end() ? nullptr : it->second;
}

std::vector<const Tenant*> TenantDirectory::twilio_services() const {
  std::vector<const Tenant*> out;
  out.reserve(by_service_sid_.size());
  for (const auto& [sid, tenant] : by_service_sid_) out.push_back(tenant);
  return out;
}

}  // namespace otpd::api
