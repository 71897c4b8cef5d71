// [twilio]: the account a Twilio Verify v2-compatible client authenticates as, and the checks
// that tie it to the tenants' twilio_service_sid keys.
#include <algorithm>
#include <set>

#include "config/reader.hpp"

namespace otpd::config::detail {
namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// "SK…:sha256:<hex>": an API key SID and the hash of its secret.
TwilioApiKey read_twilio_api_key(const std::string& key, const std::string& value) {
  const auto colon = value.find(':');
  const std::string sid = value.substr(0, colon);
  if (colon == std::string::npos || !is_twilio_sid(sid, "SK")) {
    fail(key, "expected \"SK<32 hex digits>:sha256:<64 hex digits>\"");
  }
  return TwilioApiKey{sid, read_sha256(key, value.substr(colon + 1))};
}

// The scheme and authority the `url` members start with: no path, query or trailing '/'.
void check_public_url(const std::string& key, const std::string& url) {
  if (!is_http_url(url)) fail(key, "expected an http:// or https:// URL");
  const auto authority = url.find("://") + 3;
  if (url.find_first_of("/?#", authority) != std::string::npos) {
    fail(key, "must be a scheme and host only, like \"https://verify.example.com\" (no path)");
  }
}

}  // namespace

bool is_twilio_sid(std::string_view value, std::string_view prefix) {
  return value.size() == prefix.size() + 32 && value.starts_with(prefix) &&
         std::all_of(value.begin() + static_cast<std::ptrdiff_t>(prefix.size()), value.end(),
                     is_hex);
}

TwilioConfig read_twilio(const toml::table& table) {
  const TableReader r(table, "twilio", {"account_sid", "auth_tokens", "api_keys", "public_url"});
  TwilioConfig twilio;
  twilio.enabled = true;
  auto account = r.string("account_sid");
  if (!account) fail(r.key("account_sid"), "required (\"AC\" and 32 hex digits)");
  if (!is_twilio_sid(*account, "AC")) {
    fail(r.key("account_sid"),
         "expected an Account SID: \"AC\" and 32 hex digits (got " + quote(*account) + ")");
  }
  twilio.account_sid = *account;

  const auto tokens = r.strings("auth_tokens").value_or(std::vector<std::string>{});
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto key = index_key(r.key("auth_tokens"), i);
    auto hash = read_sha256(key, tokens[i]);
    if (std::find(twilio.auth_token_hashes.begin(), twilio.auth_token_hashes.end(), hash) !=
        twilio.auth_token_hashes.end()) {
      fail(key, "listed twice");
    }
    twilio.auth_token_hashes.push_back(std::move(hash));
  }
  const auto keys = r.strings("api_keys").value_or(std::vector<std::string>{});
  std::set<std::string> sids;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto key = index_key(r.key("api_keys"), i);
    auto api_key = read_twilio_api_key(key, keys[i]);
    if (!sids.insert(api_key.sid).second)
      fail(key, "the key SID " + api_key.sid + " is listed twice");
    twilio.api_keys.push_back(std::move(api_key));
  }
  if (twilio.auth_token_hashes.empty() && twilio.api_keys.empty()) {
    fail(r.key("auth_tokens"),
         "required: at least one \"sha256:<hex of SHA-256 of the token>\" (or api_keys)");
  }
  if (auto url = r.string("public_url")) {
    check_public_url(r.key("public_url"), *url);
    twilio.public_url = *url;
  }
  return twilio;
}

void check_twilio(const Config& c) {
  std::map<std::string, std::string> owner;
  for (const auto& [name, tenant] : c.tenants) {
    if (tenant.twilio_service_sid.empty()) continue;
    const auto key = join_key(join_key("tenants", name), "twilio_service_sid");
    if (!c.twilio.enabled) {
      fail(key, "needs a [twilio] table (account_sid, auth_tokens) to be served");
    }
    const auto [it, added] = owner.emplace(tenant.twilio_service_sid, key);
    if (!added) fail(key, "the same Service SID is already " + it->second);
  }
  if (c.twilio.enabled && owner.empty()) {
    fail("twilio", "no tenant sets twilio_service_sid, so no Verify Service would answer");
  }
}

}  // namespace otpd::config::detail
