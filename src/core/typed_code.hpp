// What a person typed, read in each alphabet and hashed bound to one verification: the
// comparison with a verification's stored hash, made without hashing again.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/check_rules.hpp"
#include "core/types.hpp"
#include "core/verification.hpp"

namespace otpd::core {

// Declared only: the stores carry TypedCodeHashes and never need the keys.
class Keyring;

// The typed code hashed for one verification id. Hashing never runs under a store lock:
// this is made before the store is asked (a check by id knows the id already) or between
// its read and its commit (a check by recipient learns the id from the read); comparing
// it with what the store holds (match_typed_code) is then cheap enough to do anywhere.
struct TypedCodeHashes {
  struct Reading {
    Alphabet alphabet = Alphabet::kDigits;
    std::size_t length = 0;           // symbols, once normalised
    std::vector<std::string> hashes;  // under every secret, current first (hex)
  };
  std::vector<Reading> readings;  // one per alphabet the typed code can be read in
};

// Reads `typed` in every alphabet (normalize_code's rules) and hashes each reading as the
// code of verification `id` of `tenant`, under every secret of the keyring.
TypedCodeHashes hash_typed_code(const Keyring& keyring, const TenantId& tenant,
                                const VerificationId& id, std::string_view typed);

// Whether the typed code is `v`'s: kMalformed when it cannot be (no reading in v's
// alphabet, or not v's length); otherwise kRight when a hash equals v's stored hash. Every
// hash is compared, each in constant time. `typed` must have been hashed for v's tenant
// and id; hashed for another, it simply never matches.
CodeMatch match_typed_code(const TypedCodeHashes& typed, const Verification& v);

}  // namespace otpd::core
