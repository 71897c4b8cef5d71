// Keyring: binding of hashes to their context, and rotation across secrets.
#include "core/keyring.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "core/crypto.hpp"
#include "fake_random.hpp"

namespace otpd::core {
namespace {

const TenantId kAcme("acme");
const TenantId kGlobex("globex");
const VerificationId kId1("id-1");
const VerificationId kId2("id-2");

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Keyring, NeedsSecrets) {
  EXPECT_THROW(Keyring({}), std::invalid_argument);
  EXPECT_THROW(Keyring({"good", ""}), std::invalid_argument);
}

TEST(Keyring, CodeHashIsDeterministicHexHmac) {
  const Keyring ring({"secret A"});
  const std::string h = ring.code_hash(kAcme, kId1, "123456");
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(h, Keyring({"secret A"}).code_hash(kAcme, kId1, "123456"));
  EXPECT_EQ(h.find("123456"), std::string::npos);
}

// The hash is exactly the documented construction, so other implementations (or a later
// version of this one) can reproduce it.
TEST(Keyring, CodeHashConstruction) {
  const Keyring ring({"secret A"});
  const std::string key = hkdf_sha256("secret A", "otpd code v1", 32);
  EXPECT_EQ(ring.code_hash(kAcme, kId1, "123456"),
            hex_encode(hmac_sha256(key, std::string("acme") + '\0' + "id-1" + '\0' + "123456")));
  const std::string rkey = hkdf_sha256("secret A", "otpd recipient v1", 32);
  EXPECT_EQ(ring.recipient_hash(kAcme, "a@example.com").str(),
            hex_encode(hmac_sha256(rkey, std::string("acme") + '\0' + "a@example.com")));
}

TEST(Keyring, CodeHashIsBoundToTenantIdAndCode) {
  const Keyring ring({"secret A"});
  const std::string h = ring.code_hash(kAcme, kId1, "123456");
  EXPECT_NE(h, ring.code_hash(kGlobex, kId1, "123456"));
  EXPECT_NE(h, ring.code_hash(kAcme, kId2, "123456"));
  EXPECT_NE(h, ring.code_hash(kAcme, kId1, "123457"));
  // Moving characters across the field boundary must not give the same hash.
  EXPECT_NE(ring.code_hash(TenantId("ab"), VerificationId("c"), "123456"),
            ring.code_hash(TenantId("a"), VerificationId("bc"), "123456"));
}

TEST(Keyring, HashesDependOnTheSecret) {
  EXPECT_NE(Keyring({"secret A"}).code_hash(kAcme, kId1, "123456"),
            Keyring({"secret B"}).code_hash(kAcme, kId1, "123456"));
  EXPECT_NE(Keyring({"secret A"}).recipient_hash(kAcme, "a@example.com"),
            Keyring({"secret B"}).recipient_hash(kAcme, "a@example.com"));
}

TEST(Keyring, CodeAndRecipientKeysAreSeparate) {
  const Keyring ring({"secret A"});
  const std::string same_bytes = std::string("id-1") + '\0' + "123456";
  EXPECT_NE(ring.recipient_hash(kAcme, same_bytes).str(), ring.code_hash(kAcme, kId1, "123456"));
}

TEST(Keyring, RecipientHashIsBoundToTenant) {
  const Keyring ring({"secret A"});
  const RecipientHash h = ring.recipient_hash(kAcme, "alice@example.com");
  EXPECT_EQ(h, ring.recipient_hash(kAcme, "alice@example.com"));
  EXPECT_NE(h, ring.recipient_hash(kGlobex, "alice@example.com"));
  EXPECT_NE(h, ring.recipient_hash(kAcme, "bob@example.com"));
  EXPECT_EQ(h.str().find("alice"), std::string::npos);
}

TEST(Keyring, CandidatesCurrentFirst) {
  const Keyring ring({"secret A", "secret B"});
  const auto codes = ring.code_hash_candidates(kAcme, kId1, "123456");
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_EQ(codes[0], ring.code_hash(kAcme, kId1, "123456"));
  EXPECT_EQ(codes[1], Keyring({"secret B"}).code_hash(kAcme, kId1, "123456"));
  const auto recipients = ring.recipient_hash_candidates(kAcme, "a@example.com");
  ASSERT_EQ(recipients.size(), 2u);
  EXPECT_EQ(recipients[0], ring.recipient_hash(kAcme, "a@example.com"));
  EXPECT_EQ(recipients[1], Keyring({"secret B"}).recipient_hash(kAcme, "a@example.com"));
}

TEST(Keyring, RotationKeepsOldCodeHashesValid) {
  const std::string stored = Keyring({"secret B"}).code_hash(kAcme, kId1, "123456");
  const Keyring rotated({"secret A", "secret B"});
  EXPECT_TRUE(contains(rotated.code_hash_candidates(kAcme, kId1, "123456"), stored));
  EXPECT_FALSE(contains(rotated.code_hash_candidates(kAcme, kId1, "654321"), stored));
  EXPECT_FALSE(contains(Keyring({"secret A"}).code_hash_candidates(kAcme, kId1, "123456"), stored));
}

TEST(Keyring, SealRoundTrip) {
  OpenSslRandom rng;
  const Keyring ring({"secret A"});
  const std::string sealed = ring.seal("alice@example.com|123456", "acme/id-1", rng);
  EXPECT_EQ(sealed.find("alice"), std::string::npos);
  EXPECT_EQ(ring.open(sealed, "acme/id-1"), "alice@example.com|123456");
  EXPECT_FALSE(ring.open(sealed, "acme/id-2").has_value());
  EXPECT_FALSE(ring.open("", "acme/id-1").has_value());
  EXPECT_FALSE(ring.open(sealed.substr(0, 1), "acme/id-1").has_value());
}

TEST(Keyring, SealTamperFails) {
  OpenSslRandom rng;
  const Keyring ring({"secret A"});
  const std::string sealed = ring.seal("payload", "aad", rng);
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(ring.open(bad, "aad").has_value()) << "byte " << i;
  }
}

TEST(Keyring, RotationOpensBlobsSealedUnderTheOldSecret) {
  OpenSslRandom rng;
  const std::string sealed = Keyring({"secret B"}).seal("payload", "aad", rng);
  EXPECT_EQ(Keyring({"secret A", "secret B"}).open(sealed, "aad"), "payload");
  EXPECT_EQ(Keyring({"secret B", "secret A"}).open(sealed, "aad"), "payload");
  EXPECT_FALSE(Keyring({"secret A"}).open(sealed, "aad").has_value());
}

TEST(Keyring, SealUsesTheCurrentSecret) {
  OpenSslRandom rng;
  const std::string sealed = Keyring({"secret A", "secret B"}).seal("payload", "aad", rng);
  EXPECT_EQ(Keyring({"secret A"}).open(sealed, "aad"), "payload");
  EXPECT_FALSE(Keyring({"secret B"}).open(sealed, "aad").has_value());
}

// Secrets whose key ids collide (1 in 256 per pair) must still each open their own blobs.
TEST(Keyring, KeyIdCollisionStillOpens) {
  OpenSslRandom rng;
  const Keyring a({"secret A"});
  const std::string from_a = a.seal("x", "", rng);
  std::string other;
  std::string from_other;
  for (int i = 0; i < 100000; ++i) {
    other = "collider " + std::to_string(i);
    from_other = Keyring({other}).seal("y", "", rng);
    if (from_other[0] == from_a[0]) break;
  }
  ASSERT_EQ(from_other[0], from_a[0]) << "no colliding secret found";
  const Keyring both({other, "secret A"});
  EXPECT_EQ(both.open(from_a, ""), "x");
  EXPECT_EQ(both.open(from_other, ""), "y");
}

}  // namespace
}  // namespace otpd::core
