// Key derivation from the server secrets, and the hashes and seals made with the derived keys.
#include "core/keyring.hpp"

#include <openssl/crypto.h>

#include <stdexcept>

#include "core/crypto.hpp"

namespace otpd::core {
namespace {

constexpr std::size_t kKeySize = 32;
// Distinct HKDF infos make the three keys independent, so a key leaked from one use (say
// a sealing key in a core dump) says nothing about the others.
constexpr std::string_view kCodeInfo = "otpd code v1";
constexpr std::string_view kRecipientInfo = "otpd recipient v1";
constexpr std::string_view kSealInfo = "otpd seal v1";

// The first byte of a sealed blob names its key by a byte of the key's hash rather than by
// position in the list: rotation prepends a new secret, which would shift every position and
// strand blobs already queued under the old one.
char seal_key_id(const std::string& seal_key) { return sha256(seal_key).front(); }

std::string join(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(a.size() + 1 + b.size());
  out.append(a);
  // The NUL keeps ("ab", "c") apart from ("a", "bc"); tenant and verification ids never
  // contain one.
  out.push_back('\0');
  out.append(b);
  return out;
}

}  // namespace

Keyring::Keyring(std::vector<std::string> secrets) {
  if (secrets.empty()) throw std::invalid_argument("otpd keyring: at least one secret is needed");
  keys_.reserve(secrets.size());
  for (const std::string& secret : secrets) {
    if (secret.empty()) throw std::invalid_argument("otpd keyring: a secret is empty");
    keys_.push_back(Derived{hkdf_sha256(secret, kCodeInfo, kKeySize),
                            hkdf_sha256(secret, kRecipientInfo, kKeySize),
                            hkdf_sha256(secret, kSealInfo, kKeySize)});
  }
}

std::string Keyring::code_hash(const TenantId& tenant, const VerificationId& id,
                               std::string_view normalized_code) const {
  return hex_encode(
      hmac_sha256(keys_.front().code_key, join(join(tenant.str(), id.str()), normalized_code)));
}

std::vector<std::string> Keyring::code_hash_candidates(const TenantId& tenant,
                                                       const VerificationId& id,
                                                       std::string_view normalized_code) const {
  const std::string message = join(join(tenant.str(), id.str()), normalized_code);
  std::vector<std::string> out;
  out.reserve(keys_.size());
  for (const Derived& k : keys_) out.push_back(hex_encode(hmac_sha256(k.code_key, message)));
  return out;
}

RecipientHash Keyring::recipient_hash(const TenantId& tenant, std::string_view normalized) const {
  return RecipientHash(
      hex_encode(hmac_sha256(keys_.front().recipient_key, join(tenant.str(), normalized))));
}

std::vector<RecipientHash> Keyring::recipient_hash_candidates(const TenantId& tenant,
                                                              std::string_view normalized) const {
  const std::string message = join(tenant.str(), normalized);
  std::vector<RecipientHash> out;
  out.reserve(keys_.size());
  for (const Derived& k : keys_) {
    out.emplace_back(hex_encode(hmac_sha256(k.recipient_key, message)));
  }
  return out;
}

std::string Keyring::seal(std::string_view plaintext, std::string_view aad,
                          RandomSource& rng) const {
  const std::string& key = keys_.front().seal_key;
  std::string out(1, seal_key_id(key));
  out += aes_gcm_seal(key, plaintext, aad, rng);
  return out;
}

std::optional<std::string> Keyring::open(std::string_view sealed, std::string_view aad) const {
  if (sealed.empty()) return std::nullopt;
  const char id = sealed.front();
  sealed.remove_prefix(1);
  // Two secrets may share an id byte (1 in 256 per pair); GCM's tag tells them apart.
  for (const Derived& k : keys_) {
    if (seal_key_id(k.seal_key) != id) continue;
    if (auto plain = aes_gcm_open(k.seal_key, sealed, aad)) return plain;
  }
  return std::nullopt;
}

}  // namespace otpd::core
