// Known-answer and tamper tests for the OpenSSL wrappers.
#include "core/crypto.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "core/random.hpp"
#include "fake_random.hpp"

namespace otpd::core {
namespace {

TEST(Sha256, Abc) {
  EXPECT_EQ(hex_encode(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, Empty) {
  EXPECT_EQ(hex_encode(sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// RFC 4231 section 4.2, test case 1.
TEST(HmacSha256, Rfc4231Case1) {
  EXPECT_EQ(hex_encode(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

// RFC 4231 section 4.3, test case 2: a key shorter than the output.
TEST(HmacSha256, Rfc4231Case2) {
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// RFC 4231 section 4.7, test case 6: a key longer than the block is hashed first.
TEST(HmacSha256, Rfc4231Case6) {
  EXPECT_EQ(hex_encode(hmac_sha256(std::string(131, '\xaa'),
                                   "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// An empty key is legal HMAC (zero-padded to the block); OpenSSL must not treat it as "no key".
TEST(HmacSha256, EmptyKeyAndMessage) {
  EXPECT_EQ(hex_encode(hmac_sha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// Each thread keeps a few keyed contexts and starts a MAC over on one whose key comes back.
// The same key twice, keys taking turns, more keys than a thread keeps, and keys that
// differ only in length (one a prefix of another) must all still give RFC 4231's answers.
TEST(HmacSha256, KeysReusedInterleavedAndEvicted) {
  const std::string case1 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  const std::string case2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(hex_encode(hmac_sha256(std::string(20, '\x0b'), "Hi There")), case1);
    EXPECT_EQ(hex_encode(hmac_sha256(std::string(20, '\x0b'), "Hi There")), case1);
    EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")), case2);
    // A prefix of a cached key is another key.
    EXPECT_NE(hex_encode(hmac_sha256("Jef", "what do ya want for nothing?")), case2);
    // Twenty other keys: more than one thread keeps, so case 1's and case 2's are given
    // up and set up again in the next round.
    std::string previous;
    for (int k = 0; k < 20; ++k) {
      const std::string mac = hmac_sha256("key " + std::to_string(k), "message");
      EXPECT_NE(mac, previous);
      EXPECT_EQ(mac, hmac_sha256("key " + std::to_string(k), "message"));
      previous = mac;
    }
  }
}

// Contexts are per thread: another thread's MACs under the same keys agree.
TEST(HmacSha256, SameAnswerOnAnotherThread) {
  const std::string here = hmac_sha256("Jefe", "what do ya want for nothing?");
  std::string there;
  std::thread([&] { there = hmac_sha256("Jefe", "what do ya want for nothing?"); }).join();
  EXPECT_EQ(here, there);
}

// The digest context is reused too: one digest does not leak into the next.
TEST(Sha256, ReusedContextStartsClean) {
  EXPECT_EQ(hex_encode(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_encode(sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_encode(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// RFC 5869 appendix A.3: the case with an empty salt and empty info, which is exactly the
// salt hkdf_sha256 always uses.
TEST(HkdfSha256, Rfc5869Case3) {
  EXPECT_EQ(hex_encode(hkdf_sha256(std::string(22, '\x0b'), "", 42)),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(HkdfSha256, InfoSeparatesKeys) {
  const std::string ikm = "input keying material";
  const auto a = hkdf_sha256(ikm, "purpose a", 32);
  const auto b = hkdf_sha256(ikm, "purpose b", 32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, hkdf_sha256(ikm, "purpose a", 32));
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "xbc"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(Hex, RoundTripAndRejects) {
  const std::string all = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
    return s;
  }();
  EXPECT_EQ(hex_decode(hex_encode(all)), all);
  EXPECT_EQ(hex_encode("\x01\xab\xff"), "01abff");
  EXPECT_EQ(hex_decode("01ABff"), std::string("\x01\xab\xff"));
  EXPECT_EQ(hex_decode(""), std::string());
  EXPECT_FALSE(hex_decode("abc").has_value());
  EXPECT_FALSE(hex_decode("0g").has_value());
  EXPECT_FALSE(hex_decode("0 ").has_value());
}

// RFC 4648 section 10 vectors, in the URL-safe alphabet and without padding.
TEST(Base64Url, Rfc4648Vectors) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_");
}

// The same vectors in the standard alphabet, padded.
TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
  EXPECT_EQ(base64_encode(std::string("\0a\0b", 4)), "AGEAYg==");
}

class AesGcmTest : public ::testing::Test {
 protected:
  const std::string key_ = std::string(32, '\x42');
  OpenSslRandom rng_;
};

TEST_F(AesGcmTest, RoundTrip) {
  const std::string sealed = aes_gcm_seal(key_, "alice@example.com 123456", "job 1", rng_);
  EXPECT_EQ(sealed.size(), 12 + 24 + 16u);
  EXPECT_EQ(sealed.find("alice"), std::string::npos);
  EXPECT_EQ(aes_gcm_open(key_, sealed, "job 1"), "alice@example.com 123456");
}

TEST_F(AesGcmTest, EmptyPlaintextAndAad) {
  const std::string sealed = aes_gcm_seal(key_, "", "", rng_);
  EXPECT_EQ(sealed.size(), 28u);
  EXPECT_EQ(aes_gcm_open(key_, sealed, ""), "");
  EXPECT_FALSE(aes_gcm_open(key_, sealed, "x").has_value());
}

TEST_F(AesGcmTest, FreshNonceEachTime) {
  EXPECT_NE(aes_gcm_seal(key_, "same", "aad", rng_), aes_gcm_seal(key_, "same", "aad", rng_));
}

TEST_F(AesGcmTest, AnyTamperedByteFails) {
  const std::string sealed = aes_gcm_seal(key_, "recipient and code", "aad", rng_);
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    for (const unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string bad = sealed;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      EXPECT_FALSE(aes_gcm_open(key_, bad, "aad").has_value()) << "byte " << i;
    }
  }
}

TEST_F(AesGcmTest, TruncatedOrExtendedFails) {
  const std::string sealed = aes_gcm_seal(key_, "payload", "aad", rng_);
  for (std::size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_FALSE(aes_gcm_open(key_, sealed.substr(0, n), "aad").has_value()) << n;
  }
  EXPECT_FALSE(aes_gcm_open(key_, sealed + '\0', "aad").has_value());
}

TEST_F(AesGcmTest, WrongAadFails) {
  const std::string sealed = aes_gcm_seal(key_, "payload", "verification A", rng_);
  EXPECT_FALSE(aes_gcm_open(key_, sealed, "verification B").has_value());
  EXPECT_FALSE(aes_gcm_open(key_, sealed, "").has_value());
}

TEST_F(AesGcmTest, WrongKeyFails) {
  const std::string sealed = aes_gcm_seal(key_, "payload", "aad", rng_);
  EXPECT_FALSE(aes_gcm_open(std::string(32, '\x43'), sealed, "aad").has_value());
}

TEST_F(AesGcmTest, KeyMustBe32Bytes) {
  EXPECT_THROW(aes_gcm_seal(std::string(16, 'k'), "p", "", rng_), std::invalid_argument);
  EXPECT_THROW(aes_gcm_open(std::string(31, 'k'), std::string(40, 'x'), ""), std::invalid_argument);
}

TEST(RandomBytes, LengthAndVariety) {
  OpenSslRandom rng;
  EXPECT_EQ(random_bytes(rng, 0), "");
  const std::string a = random_bytes(rng, 32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, random_bytes(rng, 32));
}

TEST(RandomBytes, UsesTheGivenSource) {
  testing::ScriptedRandom rng({1, 2, 3});
  EXPECT_EQ(random_bytes(rng, 4), std::string("\x01\x02\x03\x01"));
}

}  // namespace
}  // namespace otpd::core
