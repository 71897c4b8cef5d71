// The Redis store's binary values: every field round-trips, the packed forms are taken only
// when they give back exactly what was stored, and a damaged value is kCorrupt, never a
// wrong verification.
#include "store/redis/records.hpp"

#include <gtest/gtest.h>

#include <set>

#include "core/placement.hpp"
#include "core/random.hpp"
#include "core/verification.hpp"
#include "store/redis/bytes.hpp"
#include "store/redis/key_schema.hpp"
#include "store/redis/slot.hpp"
#include "support/expect_same_verification.hpp"

namespace otpd::store::redis {
namespace {

using core::from_unix_ms;
using core::Verification;
using testing_support::expect_same;

const std::string kHash(64, 'a');

Verification sample(const std::string& id = "v_oN_1IsI9AnGLzkWY56dR6A") {
  Verification v;
  v.tenant = core::TenantId("acme");
  v.id = core::VerificationId(id);
  v.recipient = core::RecipientHash(kHash);
  v.masked_to = "a***@example.com";
  v.channel = core::ChannelKind::kWebhook;
  v.alphabet = core::Alphabet::kAlnum;
  v.code_length = 8;
  v.code_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  v.status = core::Status::kMaxAttemptsReached;
  v.attempts = 5;
  v.max_attempts = 5;
  v.created_at = from_unix_ms(1'900'000'000'123);
  v.expires_at = v.created_at + core::Seconds(300);
  v.resend_at = v.created_at + core::Seconds(30);
  v.approved_at = v.created_at + core::Millis(1500);
  v.delete_after = v.expires_at + core::Seconds(3600);
  v.delivery = core::DeliveryStatus::kFailed;
  v.locale = "de";
  v.metadata_json = R"({"order":"42"})";
  return v;
}

TEST(RedisBytes, PackedFormsRoundTripAndAreTakenOnlyWhenExact) {
  EXPECT_EQ(pack_hex(kHash).size(), 33u);
  EXPECT_EQ(unpack_hex(pack_hex(kHash)), kHash);
  // Upper case, odd lengths and other alphabets are kept as given, and come back as given.
  for (const std::string& text : {std::string(64, 'A'), std::string(63, 'a'), std::string("feed"),
                                  std::string("r0") + std::string(62, '0'), std::string()}) {
    EXPECT_EQ(unpack_hex(pack_hex(text)), text) << text;
  }
  EXPECT_NE(pack_hex(std::string(64, 'A')), pack_hex(std::string(64, 'a')));

  const std::string id = "v_oN_1IsI9AnGLzkWY56dR6A";
  EXPECT_EQ(pack_id(id).size(), 17u);
  EXPECT_EQ(unpack_id(pack_id(id)), id);
  const std::string timed_id = "v_-Pc6NJMxpPxS0hs8ZfwBHSMx";
  EXPECT_EQ(pack_id(timed_id).size(), 19u);
  EXPECT_EQ(unpack_id(pack_id(timed_id)), timed_id);
  for (const std::string& edge : {"v_" + std::string(24, '-'), "v_" + std::string(24, 'z')}) {
    EXPECT_EQ(pack_id(edge).size(), 19u) << edge;
    EXPECT_EQ(unpack_id(pack_id(edge)), edge);
  }
  // Today's form: time, placement and random bits, 24 bytes.
  core::OpenSslRandom rng;
  const std::string placed_id =
      core::new_verification_id(rng, core::from_unix_ms(1'900'000'000'000), 255).str();
  EXPECT_EQ(pack_id(placed_id).size(), 25u);
  EXPECT_EQ(unpack_id(pack_id(placed_id)), placed_id);
  for (const std::string& edge : {"v_" + std::string(32, '-'), "v_" + std::string(32, 'z')}) {
    EXPECT_EQ(pack_id(edge).size(), 25u) << edge;
    EXPECT_EQ(unpack_id(pack_id(edge)), edge);
  }
  const std::string twilio_id = "VE0123456789abcdef0123456789abcdef";
  EXPECT_EQ(pack_id(twilio_id).size(), 17u);
  EXPECT_EQ(unpack_id(pack_id(twilio_id)), twilio_id);
  // "...6B" has spare bits set in its last character: not canonical, so kept as given.
  for (const std::string& text :
       {std::string("v_oN_1IsI9AnGLzkWY56dR6B"), std::string("vrf_1_9f2c4e"),
        std::string("VE0123456789ABCDEF0123456789abcdef"), std::string("VE0123"),
        std::string("v_short"), std::string("v_oN_1IsI9AnGLzkWY56dR6!"),
        std::string("v_-Pc6NJMxpPxS0hs8ZfwBHSM!"), placed_id.substr(0, 33) + "!"}) {
    EXPECT_EQ(unpack_id(pack_id(text)), text) << text;
  }
}

TEST(RedisBytes, VarintsAndExpiryPrefix) {
  ByteWriter w;
  w.expiry(1'900'000'000'123);
  for (long long v : {0LL, 1LL, -1LL, 300'000LL, -86'400'000LL, 1LL << 50}) w.signed_varint(v);
  w.float64(0.1);
  const std::string bytes = std::move(w).take();
  EXPECT_EQ(expiry_of(bytes), 1'900'000'000'123);
  ByteReader r(bytes);
  EXPECT_EQ(r.expiry(), 1'900'000'000'123);
  for (long long v : {0LL, 1LL, -1LL, 300'000LL, -86'400'000LL, 1LL << 50}) {
    EXPECT_EQ(r.signed_varint(), v);
  }
  EXPECT_EQ(r.float64(), 0.1);
  EXPECT_TRUE(r.at_end());
  EXPECT_FALSE(r.failed());
  ByteReader past("");
  past.varint();
  EXPECT_TRUE(past.failed());
  EXPECT_EQ(expiry_of("short"), std::nullopt);
}

TEST(RedisRecords, ARecipientRecordRoundTrips) {
  RecipientRecord record;
  record.verifications.push_back(sample());
  Verification plain = sample("vrf_2_9f2c4e");
  plain.approved_at.reset();
  plain.metadata_json.clear();
  plain.locale.clear();
  plain.code_hash = "hmac:123456";
  plain.status = core::Status::kPending;
  plain.delivery = core::DeliveryStatus::kQueued;
  plain.channel = core::ChannelKind::kConsole;
  plain.alphabet = core::Alphabet::kDigits;
  record.verifications.push_back(plain);
  // An id as the service makes it today: the time, the placement, then random bits (packed
  // to 24 bytes).
  core::OpenSslRandom rng;
  Verification timed = sample();
  timed.id = core::new_verification_id(rng, from_unix_ms(1'900'000'000'000), 42);
  record.verifications.push_back(timed);
  record.failures = {from_unix_ms(1'900'000'000'000), from_unix_ms(1'900'000'001'000)};

  const std::string value = encode_record(record);
  EXPECT_EQ(expiry_of(value), core::to_unix_ms(record.expires_at()));
  auto decoded = decode_record(value, core::TenantId("acme"), core::RecipientHash(kHash));
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->verifications.size(), 3u);
  expect_same(decoded->verifications[0], record.verifications[0]);
  expect_same(decoded->verifications[1], record.verifications[1]);
  expect_same(decoded->verifications[2], record.verifications[2]);
  EXPECT_EQ(decoded->failures, record.failures);
}

TEST(RedisRecords, APendingVerificationTakesAboutAHundredBytes) {
  RecipientRecord record;
  Verification v = sample();
  v.approved_at.reset();
  v.metadata_json.clear();
  record.verifications.push_back(v);
  // 6 expiry + 1 format + 1 count + 2 kinds and flags + 17 id + 17 masked address + 1 length
  // + 33 code hash + 2 attempts + 6 created + 10 other times as deltas + 3 locale + 1 metadata
  // + 1 failures = 101.
  EXPECT_LE(encode_record(record).size(), 101u);
  // A Twilio-style id ("VE" and 32 hex digits) packs to the same 16 bytes.
  record.verifications[0].id = core::VerificationId("VE0123456789abcdef0123456789abcdef");
  const std::string twilio = encode_record(record);
  EXPECT_LE(twilio.size(), 101u);
  auto decoded = decode_record(twilio, core::TenantId("acme"), core::RecipientHash(kHash));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->verifications.at(0).id.str(), "VE0123456789abcdef0123456789abcdef");
}

TEST(RedisRecords, DamagedValuesAreCorrupt) {
  RecipientRecord record;
  record.verifications.push_back(sample());
  const std::string value = encode_record(record);
  for (std::size_t cut = 0; cut < value.size(); ++cut) {
    auto decoded =
        decode_record(value.substr(0, cut), core::TenantId("acme"), core::RecipientHash(kHash));
    EXPECT_FALSE(decoded) << "cut at " << cut;
  }
  EXPECT_FALSE(decode_record(value + "x", core::TenantId("acme"), core::RecipientHash(kHash)));
  std::string other_format = value;
  other_format[kExpiryBytes] = 9;
  EXPECT_FALSE(decode_record(other_format, core::TenantId("acme"), core::RecipientHash(kHash)));
  EXPECT_FALSE(decode_job("nonsense"));
  EXPECT_FALSE(decode_index(""));
  EXPECT_FALSE(decode_bucket("0123456"));
  EXPECT_FALSE(decode_idempotency("0123456789", core::TenantId("acme")));
}

TEST(RedisRecords, PruneDropsWhatASweepWould) {
  RecipientRecord record;
  Verification old = sample("vrf_old");
  Verification young = sample("vrf_young");
  young.delete_after = old.delete_after + core::Seconds(10);
  record.verifications = {old, young};
  record.failures = {old.created_at};
  EXPECT_EQ(record.expires_at(), young.delete_after);
  record.prune(old.created_at + core::kFailureBudgetWindow);
  EXPECT_TRUE(record.failures.empty());
  EXPECT_EQ(record.verifications.size(), 2u);
  record.prune(old.delete_after);
  ASSERT_EQ(record.verifications.size(), 1u);
  EXPECT_EQ(record.verifications[0].id, young.id);
  record.prune(young.delete_after);
  EXPECT_TRUE(record.empty());
}

TEST(RedisRecords, JobsIndexIdempotencyAndBucketsRoundTrip) {
  JobRecord job{core::ChannelKind::kSms, 3, from_unix_ms(1'900'000'300'000),
                core::RecipientHash(kHash), std::string("sealed\0bytes", 12)};
  auto j = decode_job(encode_job(job));
  ASSERT_TRUE(j);
  EXPECT_EQ(j->channel, job.channel);
  EXPECT_EQ(j->attempts, 3);
  EXPECT_EQ(j->expires_at, job.expires_at);
  EXPECT_EQ(j->recipient, job.recipient);
  EXPECT_EQ(j->sealed, job.sealed);
  EXPECT_EQ(expiry_of(encode_job(job)), 1'900'000'300'000);

  for (const auto layout : {KeySchema::Layout::kSpread, KeySchema::Layout::kOneSlot}) {
    const KeySchema keys("otpd:", layout);
    const core::TenantId acme("acme");
    const core::RecipientHash alice(kHash);
    const auto where = keys.record(acme, alice);
    const std::string entry = encode_index(where.key, alice, from_unix_ms(5));
    EXPECT_EQ(expiry_of(entry), 5);
    auto decoded = decode_index(entry);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->recipient, alice);
    // What the follow script reads: the format after the expiry, the tail's length, the key's
    // tail after its hash tag, then the field's ending after the tenant.
    const std::string_view head = key_head(where.key);
    EXPECT_TRUE(head.ends_with('}')) << head;
    EXPECT_EQ(decoded->key_tail, where.key.substr(head.size()));
    EXPECT_EQ(static_cast<std::uint8_t>(entry[kExpiryBytes]), kIndexFormat);
    const std::size_t tail = static_cast<unsigned char>(entry[kExpiryBytes + 1]);
    EXPECT_EQ(std::string(head) + entry.substr(kExpiryBytes + 2, tail), where.key);
    EXPECT_EQ("acme" + std::string(1, '\0') + entry.substr(kExpiryBytes + 2 + tail), where.field);
    // The index of an id naming the group shares the record's hash tag.
    if (layout == KeySchema::Layout::kSpread) {
      core::OpenSslRandom rng;
      const auto id =
          core::new_verification_id(rng, from_unix_ms(5), core::placement_of(acme, alice));
      EXPECT_EQ(key_head(keys.index(acme, id, alice).key), head);
    }
    // A cut or lengthened entry is not taken for one.
    for (std::size_t cut = 0; cut < entry.size(); ++cut) {
      EXPECT_FALSE(decode_index(entry.substr(0, cut))) << "cut at " << cut;
    }
    EXPECT_FALSE(decode_index(entry + "x"));
  }

  IdempotencyEntry entry;
  entry.pending = true;
  entry.record = core::IdempotencyRecord{"body-hash", sample(), from_unix_ms(1'900'086'400'000)};
  auto i = decode_idempotency(encode_idempotency(entry, from_unix_ms(7)), core::TenantId("acme"));
  ASSERT_TRUE(i);
  EXPECT_TRUE(i->pending);
  EXPECT_EQ(i->record.request_hash, "body-hash");
  EXPECT_EQ(i->record.keep_until, entry.record.keep_until);
  expect_same(i->record.first, entry.record.first);

  core::TakeDecision taken;
  taken.next = core::BucketState{0.30000000000000004, from_unix_ms(1'900'000'000'001)};
  taken.full_at = from_unix_ms(1'900'000'009'000);
  auto b = decode_bucket(encode_bucket(taken));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->tokens, taken.next.tokens);  // the exact bits
  EXPECT_EQ(b->updated_at, taken.next.updated_at);
}

TEST(RedisKeySchema, WhatOneCommitTouchesSharesASlot) {
  const KeySchema spread("otpd:", KeySchema::Layout::kSpread);
  const core::TenantId tenant("acme");
  for (int i = 0; i < 200; ++i) {
    const core::RecipientHash recipient("r" + std::to_string(i));
    const core::VerificationId id("v" + std::to_string(i));
    const int group = spread.group_of(tenant, recipient);
    ASSERT_GE(group, 0);
    ASSERT_LT(group, KeySchema::kSpreadGroups);
    const auto slot = key_slot(spread.record(tenant, recipient).key);
    EXPECT_EQ(key_slot(spread.queue(group)), slot);
    EXPECT_EQ(key_slot(spread.jobs(group)), slot);
    EXPECT_EQ(spread.job(group, tenant, id).key, spread.jobs(group));
    // An id otpd makes names its recipient's group: its index entry shares the slot too, and
    // a lookup goes there first.
    core::OpenSslRandom rng;
    const auto placed = core::new_verification_id(rng, core::from_unix_ms(i),
                                                  core::placement_of(tenant, recipient));
    EXPECT_EQ(key_slot(spread.index(tenant, placed, recipient).key), slot);
    ASSERT_TRUE(spread.group_index(tenant, placed));
    EXPECT_EQ(spread.group_index(tenant, placed)->key, spread.index(tenant, placed, recipient).key);
    // Any other id goes to the shared index, and so does one naming another group.
    EXPECT_EQ(spread.index(tenant, id, recipient).key, spread.shared_index(tenant, id).key);
    EXPECT_FALSE(spread.group_index(tenant, id));
    const auto elsewhere =
        core::new_verification_id(rng, core::from_unix_ms(i), static_cast<std::uint8_t>(group + 1));
    EXPECT_EQ(spread.index(tenant, elsewhere, recipient).key,
              spread.shared_index(tenant, elsewhere).key);
  }
  // Spread: recipients land on many slots. One slot: all of them on one.
  std::set<std::uint16_t> slots;
  const KeySchema one("otpd:", KeySchema::Layout::kOneSlot);
  std::set<std::uint16_t> one_slots;
  for (int i = 0; i < 200; ++i) {
    const core::RecipientHash recipient("r" + std::to_string(i));
    slots.insert(key_slot(spread.record(tenant, recipient).key));
    one_slots.insert(key_slot(one.record(tenant, recipient).key));
    one_slots.insert(
        key_slot(one.index(tenant, core::VerificationId("v" + std::to_string(i)), recipient).key));
    one_slots.insert(key_slot(one.idempotency(tenant, "k" + std::to_string(i))));
    one_slots.insert(key_slot(one.bucket("send:acme" + std::to_string(i))));
    one_slots.insert(key_slot(one.counter("daily" + std::to_string(i), {0, 86'400'000})));
  }
  EXPECT_GT(slots.size(), 100u);
  EXPECT_EQ(one_slots.size(), 1u);
}

TEST(RedisKeySchema, KeysKeepTenantsAndKindsApart) {
  const KeySchema schema("p:", KeySchema::Layout::kSpread);
  const core::RecipientHash r(kHash);
  EXPECT_NE(schema.record(core::TenantId("a"), r).field,
            schema.record(core::TenantId("b"), r).field);
  EXPECT_NE(schema.index(core::TenantId("a"), core::VerificationId("v"), r).field,
            schema.index(core::TenantId("b"), core::VerificationId("v"), r).field);
  EXPECT_NE(schema.idempotency(core::TenantId("a"), "k"),
            schema.idempotency(core::TenantId("b"), "k"));
  // A counter's window is part of its key: another length starts afresh.
  EXPECT_NE(schema.counter("daily", {0, 86'400'000}), schema.counter("daily", {0, 3'600'000}));
  core::TenantId tenant;
  core::VerificationId id;
  ASSERT_TRUE(KeySchema::parse_member(
      KeySchema::member(core::TenantId("acme"), core::VerificationId("v_oN_1IsI9AnGLzkWY56dR6A")),
      tenant, id));
  EXPECT_EQ(tenant, core::TenantId("acme"));
  EXPECT_EQ(id, core::VerificationId("v_oN_1IsI9AnGLzkWY56dR6A"));
  EXPECT_FALSE(KeySchema::parse_member("no-zero-byte", tenant, id));
  for (const auto& key : {schema.queue(3), schema.jobs(3), schema.schema()}) {
    EXPECT_TRUE(key.starts_with("p:{")) << key;
  }
}

}  // namespace
}  // namespace otpd::store::redis
