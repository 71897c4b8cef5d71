// Wire names of the domain enums, and the strong identifier types.
#include "core/types.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/placement.hpp"
#include "core/verification.hpp"
#include "fake_random.hpp"

namespace otpd::core {
namespace {

TEST(ChannelKind, NamesRoundTrip) {
  for (const auto kind :
       {ChannelKind::kConsole, ChannelKind::kEmail, ChannelKind::kSms, ChannelKind::kWebhook}) {
    ChannelKind parsed = ChannelKind::kConsole;
    ASSERT_TRUE(parse_channel(to_string(kind), parsed)) << to_string(kind);
    EXPECT_EQ(parsed, kind);
  }
  EXPECT_STREQ(to_string(ChannelKind::kConsole), "console");
  EXPECT_STREQ(to_string(ChannelKind::kEmail), "email");
  EXPECT_STREQ(to_string(ChannelKind::kSms), "sms");
  EXPECT_STREQ(to_string(ChannelKind::kWebhook), "webhook");
}

TEST(ChannelKind, UnknownNamesLeaveOutputAlone) {
  ChannelKind out = ChannelKind::kWebhook;
  for (const std::string bad : {"", "Email", "EMAIL", "e-mail", "sms ", "push", "emailx"}) {
    EXPECT_FALSE(parse_channel(bad, out)) << bad;
    EXPECT_EQ(out, ChannelKind::kWebhook);
  }
}

TEST(Alphabet, NamesRoundTrip) {
  Alphabet a = Alphabet::kDigits;
  ASSERT_TRUE(parse_alphabet("alnum", a));
  EXPECT_EQ(a, Alphabet::kAlnum);
  ASSERT_TRUE(parse_alphabet("digits", a));
  EXPECT_EQ(a, Alphabet::kDigits);
  EXPECT_STREQ(to_string(Alphabet::kDigits), "digits");
  EXPECT_STREQ(to_string(Alphabet::kAlnum), "alnum");
  EXPECT_FALSE(parse_alphabet("Digits", a));
  EXPECT_FALSE(parse_alphabet("base32", a));
  EXPECT_FALSE(parse_alphabet("", a));
}

TEST(Status, Names) {
  EXPECT_STREQ(to_string(Status::kPending), "pending");
  EXPECT_STREQ(to_string(Status::kApproved), "approved");
  EXPECT_STREQ(to_string(Status::kCanceled), "canceled");
  EXPECT_STREQ(to_string(Status::kExpired), "expired");
  EXPECT_STREQ(to_string(Status::kMaxAttemptsReached), "max_attempts_reached");
  EXPECT_STREQ(to_string(DeliveryStatus::kQueued), "queued");
  EXPECT_STREQ(to_string(DeliveryStatus::kSent), "sent");
  EXPECT_STREQ(to_string(DeliveryStatus::kFailed), "failed");
}

TEST(Verification, EffectiveStatusAndAttempts) {
  ManualTimeSource clock(from_unix_ms(1'000'000));
  Verification v;
  v.created_at = clock.now();
  v.expires_at = clock.now() + Seconds(300);
  EXPECT_EQ(v.effective_status(clock.now()), Status::kPending);
  clock.advance(Seconds(299));
  EXPECT_EQ(v.effective_status(clock.now()), Status::kPending);
  clock.advance(Seconds(1));
  EXPECT_EQ(v.effective_status(clock.now()), Status::kExpired);
  v.status = Status::kApproved;
  EXPECT_EQ(v.effective_status(clock.now()), Status::kApproved);

  EXPECT_EQ(v.attempts_remaining(), 5);
  v.attempts = 4;
  EXPECT_EQ(v.attempts_remaining(), 1);
  v.attempts = 7;
  EXPECT_EQ(v.attempts_remaining(), 0);
}

TEST(StrongString, ComparesByValue) {
  EXPECT_EQ(TenantId("a"), TenantId("a"));
  EXPECT_LT(TenantId("a"), TenantId("b"));
  EXPECT_TRUE(TenantId().empty());
  EXPECT_EQ(VerificationId("x").str(), "x");
}

// The time and the placement byte are in the id, but never instead of randomness: 136
// random bits follow them (the contract asks for at least 128).
TEST(VerificationIdGeneration, StartsWithTheLetterPrefixThenTimePlacementAndRandomBits) {
  testing::ScriptedRandom dash_first({0xF8, 0xFF});
  const VerificationId id = new_verification_id(dash_first, from_unix_ms(0), 0);
  EXPECT_EQ(id.str().rfind("v_", 0), 0u) << id.str();
  EXPECT_EQ(dash_first.drawn(), 17u);
  EXPECT_GE(dash_first.drawn() * 8, 128u);
  EXPECT_EQ(id.str().size(), 2u + 32u);
  // Time 0 is six zero bytes: eight of the smallest character.
  EXPECT_EQ(id.str().substr(2, 8), "--------");
}

TEST(VerificationIdGeneration, AnIdCarriesThePlacementItWasMadeWith) {
  OpenSslRandom rng;
  for (int placement = 0; placement < 256; ++placement) {
    const auto id = new_verification_id(rng, from_unix_ms(1'796'000'000'000 + placement),
                                        static_cast<std::uint8_t>(placement));
    EXPECT_EQ(placement_in(id), placement) << id.str();
    EXPECT_EQ(placement_in(new_verification_id(rng, IdStyle::kOtpd, from_unix_ms(0),
                                               static_cast<std::uint8_t>(placement))),
              placement);
  }
}

// Only the otpd form has room for the byte: a Twilio SID is 128 random bits and no more.
TEST(VerificationIdGeneration, OtherIdsCarryNoPlacement) {
  OpenSslRandom rng;
  const auto twilio = new_verification_id(rng, IdStyle::kTwilio, from_unix_ms(0), 7);
  EXPECT_EQ(twilio.str().size(), 34u);
  EXPECT_EQ(placement_in(twilio), std::nullopt);
  for (const char* other : {"v_-Pc6NJMxpPxS0hs8ZfwBHSMx",          // the 24-digit form before
                            "v_oN_1IsI9AnGLzkWY56dR6A",            // and the one before that
                            "v_-Pc6NJMxpPxS0hs8ZfwBHSMx-Pc6NJM!",  // 32 characters, one not a digit
                            "x_-Pc6NJMxpPxS0hs8ZfwBHSMx-Pc6NJMx", "vrf_1_9f2c4e", ""}) {
    EXPECT_EQ(placement_in(VerificationId(other)), std::nullopt) << other;
  }
}

// The placement is a stable function of tenant and recipient hash: stored data is placed by
// it, so these values may never change.
TEST(Placement, IsTheLowByteOfFnv1aOverTenantAndRecipient) {
  EXPECT_EQ(fnv1a(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(placement_of(TenantId("acme"), RecipientHash("feed")),
            fnv1a(std::string("acme\0feed", 9)) & 0xff);
  EXPECT_NE(placement_of(TenantId("acme"), RecipientHash("feed")),
            placement_of(TenantId("acmf"), RecipientHash("feed")));
  // Spread over all 256 values.
  std::set<int> seen;
  for (int i = 0; i < 4096; ++i) {
    seen.insert(placement_of(TenantId("acme"), RecipientHash(std::to_string(i))));
  }
  EXPECT_EQ(seen.size(), 256u);
}

// Ids made later sort after ids made earlier, whatever their random bits: a store's index
// of ids then appends instead of writing a random page.
TEST(VerificationIdGeneration, IdsSortByTheirCreationTime) {
  OpenSslRandom rng;
  const long long base = 1'796'000'000'000;  // a time in 2026
  std::string previous;
  for (long long step : {0LL, 1LL, 2LL, 63LL, 64LL, 65LL, 4096LL, 1'000'000LL, 86'400'000LL}) {
    const std::string id = new_verification_id(rng, from_unix_ms(base + step), 9).str();
    EXPECT_LT(previous, id) << "after " << step << " ms";
    previous = id;
  }
}

TEST(SortableBase64url, SortsAsItsBytesAndUsesTheBase64urlCharacters) {
  OpenSslRandom rng;
  const std::string url_safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int i = 0; i < 500; ++i) {
    const std::string a = random_bytes(rng, 1 + i % 20);
    const std::string b = random_bytes(rng, a.size());
    const std::string ea = sortable_base64url_encode(a);
    const std::string eb = sortable_base64url_encode(b);
    EXPECT_EQ(ea.size(), base64url_encode(a).size());
    EXPECT_EQ(a < b, ea < eb) << ea << " " << eb;
    EXPECT_EQ(ea.find_first_not_of(url_safe), std::string::npos) << ea;
    if (a.size() % 3 == 0) {
      EXPECT_EQ(sortable_base64url_decode(ea), a) << ea;
    }
  }
  EXPECT_EQ(sortable_base64url_encode(std::string(3, '\0')), "----");
  EXPECT_EQ(sortable_base64url_decode("zzz"), std::nullopt);   // not whole groups
  EXPECT_EQ(sortable_base64url_decode("zz+z"), std::nullopt);  // not in the alphabet
  EXPECT_EQ(sortable_base64url_encode(std::string(3, '\xff')), "zzzz");
}

TEST(VerificationIdGeneration, IdsAreUrlSafeAndDistinct) {
  OpenSslRandom rng;
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string id = new_verification_id(rng, from_unix_ms(1'796'000'000'000), 200).str();
    ASSERT_TRUE(std::isalpha(static_cast<unsigned char>(id[0]))) << id;
    for (char c : id) {
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << id;
    }
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 2000u);
}

}  // namespace
}  // namespace otpd::core
