// Basic credentials against the [twilio] table's hashes, in time independent of where a
// guess differs.
#include "api/twilio_auth.hpp"

#include <openssl/evp.h>

#include "core/crypto.hpp"

namespace otpd::api {
namespace {

constexpr std::size_t kMaxHeader = 1024;

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the bytes the '=' padding stands for.
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '=' && size > 0; --i) --size;
  out.resize(size);
  return out;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> parse_basic_authorization(
    std::string_view header) {
  if (header.size() > kMaxHeader || header.size() < 6 || !iequals(header.substr(0, 6), "Basic "))
    return std::nullopt;
  std::string_view encoded = header.substr(6);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  auto decoded = base64_decode(encoded);
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

std::optional<std::string> TwilioCredentials::authenticate(const Request& request) const {
  auto header = request.header("Authorization");
  if (!header) return std::nullopt;
  auto credentials = parse_basic_authorization(*header);
  if (!credentials || credentials->second.empty()) return std::nullopt;
  const auto& [user, secret] = *credentials;
  const std::string hash = core::hex_encode(core::sha256(secret));
  bool matched = false;
  if (user == config_.account_sid) {
    // Every configured token is compared, so the time says nothing about which one is near.
    for (const auto& token : config_.auth_token_hashes) {
      matched |= core::constant_time_equal(hash, token);
    }
  } else {
    for (const auto& key : config_.api_keys) {
      if (key.sid == user) matched = core::constant_time_equal(hash, key.secret_hash);
    }
  }
  if (!matched) return std::nullopt;
  return hash;
}

}  // namespace otpd::api
