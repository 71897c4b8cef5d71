// The server secrets and every key derived from them. The first secret signs and seals;
// all of them verify and open, so secrets can be rotated without losing live codes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/random.hpp"
#include "core/types.hpp"

namespace otpd::core {

class Keyring {
 public:
  // `secrets` must not be empty, nor any secret in it (std::invalid_argument otherwise); each
  // is used as input keying material as given.
  explicit Keyring(std::vector<std::string> secrets);

  // HMAC-SHA256 of the normalised code, bound to tenant and verification id, under the
  // current secret (hex). What the store keeps instead of the code.
  std::string code_hash(const TenantId& tenant, const VerificationId& id,
                        std::string_view normalized_code) const;
  // The same under every secret, current first: a check accepts any of them.
  std::vector<std::string> code_hash_candidates(const TenantId& tenant, const VerificationId& id,
                                                std::string_view normalized_code) const;

  // Keyed hash of a normalised recipient within a tenant, under the current secret.
  RecipientHash recipient_hash(const TenantId& tenant, std::string_view normalized) const;
  // Under every secret, current first (lookups by `to` across a rotation).
  std::vector<RecipientHash> recipient_hash_candidates(const TenantId& tenant,
                                                       std::string_view normalized) const;

  // AES-256-GCM under the current sealing key; the output starts with a one-byte key id (a
  // byte of the key's hash, stable when secrets are added or reordered).
  std::string seal(std::string_view plaintext, std::string_view aad, RandomSource& rng) const;
  // Opens a blob sealed under any of the secrets; nullopt when none of them (with this aad)
  // authenticates it.
  std::optional<std::string> open(std::string_view sealed, std::string_view aad) const;

 private:
  struct Derived {
    std::string code_key;
    std::string recipient_key;
    std::string seal_key;
  };
  std::vector<Derived> keys_;
};

}  // namespace otpd::core
