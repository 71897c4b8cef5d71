// Wire names of the domain enums, and the strong identifier types.
#include "core/types.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/clock.hpp"
#include "core/crypto.hpp"
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

// The time is in the id, but never instead of randomness: 96 random bits follow it.
TEST(VerificationIdGeneration, StartsWithTheLetterPrefixThenTimeAndRandomBits) {
  testing::ScriptedRandom dash_first({0xF8, 0xFF});
  const VerificationId id = new_verification_id(dash_first, from_unix_ms(0));
  EXPECT_EQ(id.str().rfind("v_", 0), 0u) << id.str();
  EXPECT_EQ(dash_first.drawn(), 12u);
  EXPECT_EQ(id.str().size(), 2u + 24u);
  // Time 0 is six zero bytes: eight of the smallest character.
  EXPECT_EQ(id.str().substr(2, 8), "--------");
}

// Ids made later sort after ids made earlier, whatever their random bits: a store's index
// of ids then appends instead of writing a random page.
TEST(VerificationIdGeneration, IdsSortByTheirCreationTime) {
  OpenSslRandom rng;
  const long long base = 1'796'000'000'000;  // a time in 2026
  std::string previous;
  for (long long step : {0LL, 1LL, 2LL, 63LL, 64LL, 65LL, 4096LL, 1'000'000LL, 86'400'000LL}) {
    const std::string id = new_verification_id(rng, from_unix_ms(base + step)).str();
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
    const std::string id = new_verification_id(rng, from_unix_ms(1'796'000'000'000)).str();
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
