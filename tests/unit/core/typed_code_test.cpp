// Hashing a typed code ahead of the comparison: every alphabet's reading, the verification's
// length, rotation, and the binding to one verification.
#include "core/typed_code.hpp"

#include <gtest/gtest.h>

#include "core/keyring.hpp"

namespace otpd::core {
namespace {

const TenantId kAcme("acme");
const VerificationId kId1("v_1");
const VerificationId kId2("v_2");

Verification stored_with(const Keyring& ring, Alphabet alphabet, const std::string& code,
                         const VerificationId& id = kId1) {
  Verification v;
  v.tenant = kAcme;
  v.id = id;
  v.alphabet = alphabet;
  v.code_length = static_cast<int>(code.size());
  v.code_hash = ring.code_hash(kAcme, id, code);
  return v;
}

CodeMatch typed_against(const Keyring& ring, const std::string& typed, const Verification& v) {
  return match_typed_code(hash_typed_code(ring, kAcme, v.id, typed), v);
}

TEST(TypedCode, RightWrongAndMalformedDigits) {
  const Keyring ring({"secret A"});
  const Verification v = stored_with(ring, Alphabet::kDigits, "123456");
  EXPECT_EQ(typed_against(ring, "123456", v), CodeMatch::kRight);
  EXPECT_EQ(typed_against(ring, "123-456", v), CodeMatch::kRight);  // separators
  EXPECT_EQ(typed_against(ring, " 12 34 56 ", v), CodeMatch::kRight);
  EXPECT_EQ(typed_against(ring, "654321", v), CodeMatch::kWrong);
  EXPECT_EQ(typed_against(ring, "12345", v), CodeMatch::kMalformed);    // not its length
  EXPECT_EQ(typed_against(ring, "1234567", v), CodeMatch::kMalformed);  // nor this
  EXPECT_EQ(typed_against(ring, "12345A", v), CodeMatch::kMalformed);   // not its alphabet
  EXPECT_EQ(typed_against(ring, "", v), CodeMatch::kMalformed);
}

TEST(TypedCode, AlnumReadsCrockfordsSubstitutions) {
  const Keyring ring({"secret A"});
  const Verification v = stored_with(ring, Alphabet::kAlnum, "10AB7Z");
  EXPECT_EQ(typed_against(ring, "10AB7Z", v), CodeMatch::kRight);
  EXPECT_EQ(typed_against(ring, "io-ab7z", v), CodeMatch::kRight);  // I -> 1, O -> 0, case
  EXPECT_EQ(typed_against(ring, "l0ab7z", v), CodeMatch::kRight);   // L -> 1
  EXPECT_EQ(typed_against(ring, "10AB7Y", v), CodeMatch::kWrong);
  EXPECT_EQ(typed_against(ring, "10AB7", v), CodeMatch::kMalformed);
  EXPECT_EQ(typed_against(ring, "10AB7U", v), CodeMatch::kMalformed);  // U is not Crockford's
}

// A code of digits reads the same in both alphabets and is hashed once; it matches an
// alnum code made of digits as well as a digits code.
TEST(TypedCode, DigitsAreReadInBothAlphabets) {
  const Keyring ring({"secret A"});
  const TypedCodeHashes typed = hash_typed_code(ring, kAcme, kId1, "123456");
  ASSERT_EQ(typed.readings.size(), 2u);
  EXPECT_EQ(typed.readings[0].hashes, typed.readings[1].hashes);
  EXPECT_EQ(match_typed_code(typed, stored_with(ring, Alphabet::kDigits, "123456")),
            CodeMatch::kRight);
  EXPECT_EQ(match_typed_code(typed, stored_with(ring, Alphabet::kAlnum, "123456")),
            CodeMatch::kRight);
  // Letters have only the alnum reading.
  EXPECT_EQ(hash_typed_code(ring, kAcme, kId1, "ABCDEF").readings.size(), 1u);
}

// Hashed for one verification, the typed code never matches another's, even with the same
// code: the hash binds the tenant and the id.
TEST(TypedCode, BoundToOneVerification) {
  const Keyring ring({"secret A"});
  const TypedCodeHashes for_id1 = hash_typed_code(ring, kAcme, kId1, "123456");
  EXPECT_EQ(match_typed_code(for_id1, stored_with(ring, Alphabet::kDigits, "123456", kId2)),
            CodeMatch::kWrong);
  const TypedCodeHashes other_tenant = hash_typed_code(ring, TenantId("globex"), kId1, "123456");
  EXPECT_EQ(match_typed_code(other_tenant, stored_with(ring, Alphabet::kDigits, "123456")),
            CodeMatch::kWrong);
}

// After a rotation a code stored under the retired secret still matches.
TEST(TypedCode, AnySecretOfTheKeyringMatches) {
  const Keyring old_ring({"secret A"});
  const Keyring rotated({"secret B", "secret A"});
  const Verification v = stored_with(old_ring, Alphabet::kDigits, "123456");
  EXPECT_EQ(typed_against(rotated, "123456", v), CodeMatch::kRight);
  EXPECT_EQ(typed_against(rotated, "123457", v), CodeMatch::kWrong);
  EXPECT_EQ(typed_against(Keyring({"secret B"}), "123456", v), CodeMatch::kWrong);
}

// A verification with no stored hash (or a corrupt length) matches nothing.
TEST(TypedCode, NothingStoredMatchesNothing) {
  const Keyring ring({"secret A"});
  Verification v = stored_with(ring, Alphabet::kDigits, "123456");
  v.code_hash.clear();
  EXPECT_EQ(typed_against(ring, "123456", v), CodeMatch::kWrong);
  v.code_length = 0;
  EXPECT_EQ(typed_against(ring, "123456", v), CodeMatch::kMalformed);
}

}  // namespace
}  // namespace otpd::core
