// Hashing a typed code ahead of the comparison, and the comparison itself.
#include "core/typed_code.hpp"

#include <openssl/crypto.h>

#include "core/code.hpp"
#include "core/keyring.hpp"

namespace otpd::core {

TypedCodeHashes hash_typed_code(const Keyring& keyring, const TenantId& tenant,
                                const VerificationId& id, std::string_view typed) {
  TypedCodeHashes out;
  std::string previous;  // the reading hashed last
  for (const Alphabet alphabet : {Alphabet::kDigits, Alphabet::kAlnum}) {
    auto normalized = read_code(typed, alphabet);
    if (!normalized) continue;
    TypedCodeHashes::Reading reading{alphabet, normalized->size(), {}};
    // A code of digits reads the same in both alphabets: it is hashed once.
    reading.hashes = !out.readings.empty() && *normalized == previous
                         ? out.readings.back().hashes
                         : keyring.code_hash_candidates(tenant, id, *normalized);
    previous = std::move(*normalized);
    out.readings.push_back(std::move(reading));
  }
  return out;
}

CodeMatch match_typed_code(const TypedCodeHashes& typed, const Verification& v) {
  for (const auto& reading : typed.readings) {
    if (reading.alphabet != v.alphabet) continue;
    if (v.code_length <= 0 || reading.length != static_cast<std::size_t>(v.code_length)) {
      return CodeMatch::kMalformed;
    }
    bool matched = false;
    for (const std::string& hash : reading.hashes) {
      const bool equal = !v.code_hash.empty() && hash.size() == v.code_hash.size() &&
                         CRYPTO_memcmp(hash.data(), v.code_hash.data(), v.code_hash.size()) == 0;
      matched = matched || equal;
    }
    return matched ? CodeMatch::kRight : CodeMatch::kWrong;
  }
  return CodeMatch::kMalformed;
}

}  // namespace otpd::core
