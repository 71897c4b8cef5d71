// Runs the conformance suite on DynamoDbStore against AWS's DynamoDB Local (a table per
// test), plus what only this backend has: its URL, its items, expiry on read before any
// sweep, the table's set-up and checks, and a frozen server.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "../unit/aws/dynamodb_local/dynamodb_local.hpp"
#include "aws/dynamodb.hpp"
#include "core/crypto.hpp"
#include "core/random.hpp"
#include "core/run_blocking.hpp"
#include "net/http_client.hpp"
#include "store/dynamodb/dynamodb_records.hpp"
#include "store/dynamodb/dynamodb_store.hpp"
#include "store/dynamodb/dynamodb_url.hpp"
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using aws::testing::DynamoDbLocal;
using core::TimePoint;
using core::Verification;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

// DynamoDB Local keeps a database per access key and region: everything here uses these.
const std::map<std::string, std::string> kLocalEnv{{"AWS_ACCESS_KEY_ID", "AKIDLOCAL"},
                                                   {"AWS_SECRET_ACCESS_KEY", "local-secret"},
                                                   {"AWS_EC2_METADATA_DISABLED", "true"}};
constexpr const char* kRegion = "us-east-1";

aws::CredentialProvider::Getenv local_env() {
  return [](const char* name) -> const char* {
    auto it = kLocalEnv.find(name);
    return it == kLocalEnv.end() ? nullptr : it->second.c_str();
  };
}

std::string new_table_name(const std::string& prefix) {
  core::OpenSslRandom random;
  return prefix + core::hex_encode(core::random_bytes(random, 6));
}

// Generous: a loaded two-core machine running a JVM is slow, and the concurrency family
// queues dozens of transactions on one item. (otpd's default is 2 s.)
DynamoDbStoreOptions options_for(const std::string& endpoint, const std::string& table,
                                 milliseconds timeout = milliseconds(30'000)) {
  DynamoDbStoreOptions options;
  options.table = table;
  options.dynamo.region = kRegion;
  options.dynamo.endpoint = endpoint;
  options.dynamo.timeout = timeout;
  options.getenv = local_env();
  return options;
}

// The DynamoDB API itself, for what the store does not do (delete a table, look at items).
class RawDynamoDb {
 public:
  explicit RawDynamoDb(const std::string& endpoint)
      : http_(std::make_shared<net::HttpClient>(io_.get_executor())),
        db_(http_, std::make_shared<aws::CredentialProvider>(http_, clock_, local_env()), clock_,
            aws::DynamoOptions{kRegion, endpoint, milliseconds(30'000)}) {}

  template <typename T>
  T run(Task<T> task) {
    return run_blocking(io_, std::move(task));
  }
  aws::DynamoDb& db() { return db_; }

 private:
  boost::asio::io_context io_;
  core::SystemTimeSource clock_;
  std::shared_ptr<net::HttpClient> http_;
  aws::DynamoDb db_;
};

class DynamoBackend final : public Backend {
 public:
  DynamoBackend() : table_(new_table_name("otpd_store_")) {}
  ~DynamoBackend() override {
    RawDynamoDb raw(DynamoDbLocal::shared().endpoint());
    raw.run(raw.db().delete_table(table_));
  }

  std::unique_ptr<Store> open() override {
    auto store =
        std::make_unique<DynamoDbStore>(options_for(DynamoDbLocal::shared().endpoint(), table_));
    run_blocking(store->init_schema()).value();
    return store;
  }

 private:
  std::string table_;
};

BackendFactory dynamodb_factory() {
  return BackendFactory{"dynamodb", [] { return std::make_unique<DynamoBackend>(); },
                        /*persistent=*/true};
}

}  // namespace

OTPD_STORE_CONFORMANCE(DynamoDb, (dynamodb_factory()));

namespace {

// ---- the URL -------------------------------------------------------------------------

std::optional<DynamoDbUrl> url_of(const std::string& text, std::string* why = nullptr) {
  std::string reason;
  auto parsed = parse_dynamodb_url(text, reason);
  if (why != nullptr) *why = reason;
  return parsed;
}

TEST(DynamoDbUrl, NamesTheTableRegionEndpointAndTimeout) {
  auto url = url_of("dynamodb://otpd-Codes_1.x?region=eu-west-1");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->table, "otpd-Codes_1.x");
  EXPECT_EQ(url->region, "eu-west-1");
  EXPECT_EQ(url->endpoint, "");
  EXPECT_EQ(url->timeout, milliseconds(2000));

  url = url_of(
      "dynamodb://codes?endpoint=http%3A%2F%2F127.0.0.1%3A8000&region=us-east-1&timeout_ms=500");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->endpoint, "http://127.0.0.1:8000");
  EXPECT_EQ(url->timeout, milliseconds(500));
  url = url_of("dynamodb://codes?endpoint=http://localhost:8000/");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->endpoint, "http://localhost:8000/");
  EXPECT_EQ(url->region, "");  // from the environment, then
  EXPECT_TRUE(url_of("dynamodb://codes"));
}

TEST(DynamoDbUrl, RefusesWhatItCannotUse) {
  std::string why;
  EXPECT_FALSE(url_of("dynamodb://", &why));
  EXPECT_NE(why.find("table name"), std::string::npos);
  EXPECT_FALSE(url_of("dynamodb://ab?region=x"));      // too short
  EXPECT_FALSE(url_of("dynamodb://co des?region=x"));  // not a table name
  EXPECT_FALSE(url_of("dynamodb://user:pw@codes?region=x"));
  EXPECT_FALSE(url_of("dynamodb://codes?regoin=eu-west-1", &why));
  EXPECT_NE(why.find("unknown parameter \"regoin\""), std::string::npos);
  EXPECT_FALSE(url_of("dynamodb://codes?region=a&region=b", &why));
  EXPECT_NE(why.find("twice"), std::string::npos);
  EXPECT_FALSE(url_of("dynamodb://codes?timeout_ms=5", &why));
  EXPECT_NE(why.find("timeout_ms"), std::string::npos);
  EXPECT_FALSE(url_of("dynamodb://codes?timeout_ms=1s"));
  EXPECT_FALSE(url_of("sqlite://codes"));
}

// ---- the items -----------------------------------------------------------------------

Verification sample(const std::string& id, TimePoint now) {
  StartRequest r = start_request(kTenant, kAlice, now);
  r.verification.id = core::VerificationId(id);
  r.verification.resend_at = now + seconds(30);
  r.verification.delivery = core::DeliveryStatus::kQueued;
  return r.verification;
}

TEST(DynamoDbItems, AVerificationReadsBackAsWrittenWithItsOwnDeliveryStatus) {
  const Verification v = sample("v_1", kT0);
  aws::Item item = dynamodb::verification_item(v, {kT0 - seconds(5)});
  EXPECT_EQ(*item.at("pk").if_string(), "v#acme#v_1");
  EXPECT_EQ(*item.at("sk").if_string(), "v");
  EXPECT_EQ(item.at("expires_at_ttl").if_int64(), dynamodb::ttl_of(v.delete_after));
  // The delivery status is its own attribute: the queue writes it without the record.
  item["dlv"] = aws::AttributeValue::string("sent");
  auto back = dynamodb::verification_of(item);
  ASSERT_TRUE(back);
  Verification expected = v;
  expected.delivery = core::DeliveryStatus::kSent;
  expect_same(back->verification, expected);
  EXPECT_EQ(back->version, 1);
  EXPECT_EQ(back->failures, (std::vector<TimePoint>{kT0 - seconds(5)}));

  item.erase("rec");
  EXPECT_EQ(dynamodb::verification_of(item).error(), make_error(StoreErrc::kCorrupt));
}

TEST(DynamoDbItems, TimeToLiveIsInWholeSecondsRoundedUp) {
  EXPECT_EQ(dynamodb::ttl_of(core::from_unix_ms(1'900'000'000'000)), 1'900'000'000);
  EXPECT_EQ(dynamodb::ttl_of(core::from_unix_ms(1'900'000'000'001)), 1'900'000'001);
}

TEST(DynamoDbItems, ARecipientsHistoryKeepsOnlyWhatStillCounts) {
  const TimePoint now = kT0;
  std::vector<dynamodb::SendRecord> sends = {
      {now - seconds(700), now + hours(1)},    // outside a 600 s window
      {now - seconds(100), now - seconds(1)},  // its verification is gone
      {now - seconds(50), now + hours(1)},
      {now - seconds(10), now + hours(1)}};
  auto kept = dynamodb::recent_sends(sends, seconds(600), now, 10);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].at, now - seconds(50));
  EXPECT_EQ(dynamodb::recent_sends(sends, seconds(600), now, 1).size(), 1u);
  EXPECT_EQ(dynamodb::recent_sends(sends, seconds(600), now, 1)[0].at, now - seconds(10));
  core::WindowCount count = dynamodb::count_sends(sends, seconds(600), now);
  EXPECT_EQ(count.count, 2);
  EXPECT_EQ(count.oldest, now - seconds(50));

  auto failures = dynamodb::recent_failures(
      {now - hours(1), now - hours(1) + milliseconds(1), now - seconds(1)}, now, 10);
  EXPECT_EQ(failures, (std::vector<TimePoint>{now - hours(1) + milliseconds(1), now - seconds(1)}));

  dynamodb::RecipientRecord record;
  record.sends = kept;
  record.failures = failures;
  record.newest = sample("v_2", now);
  record.newest_version = 3;
  aws::Item item = dynamodb::recipient_item(kTenant, kAlice, record);
  EXPECT_EQ(item.at("ver").if_int64(), 1);
  auto back = dynamodb::recipient_of(item);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->seen.exists);
  EXPECT_EQ(back->newest_id, "v_2");
  EXPECT_EQ(back->newest_version, 3);
  EXPECT_EQ(back->sends.size(), 2u);
  EXPECT_EQ(back->failures, failures);
  // It lives while its newest verification is kept, or a failure still counts.
  EXPECT_EQ(dynamodb::recipient_expiry(record),
            std::max(record.newest->delete_after, now - seconds(1) + hours(1)));
}

TEST(DynamoDbItems, JobsAndExpiryEntriesFollowFromTheVerification) {
  const Verification v = sample("v_3", kT0);
  const aws::Item key = dynamodb::job_key(v.tenant, v.id);
  EXPECT_EQ(*key.at("pk").if_string(),
            "q#" + std::to_string(dynamodb::shard_of(v.tenant, v.id, dynamodb::kQueueShards)));
  EXPECT_EQ(*key.at("sk").if_string(), "acme#v_3");
  // Stable across processes and builds: a job is found again after a restart.
  EXPECT_EQ(dynamodb::shard_of(core::TenantId("acme"), core::VerificationId("v_3"), 1 << 30),
            dynamodb::shard_of(core::TenantId("acme"), core::VerificationId("v_3"), 1 << 30));

  const aws::Item entry = dynamodb::expiry_item(v);
  EXPECT_EQ(*entry.at("sk").if_string(),
            std::to_string(core::to_unix_ms(v.delete_after)) + "#acme#v_3");
  EXPECT_LT(*entry.at("sk").if_string(), dynamodb::expiry_sort_bound(v.delete_after));
  EXPECT_GT(*entry.at("sk").if_string(),
            dynamodb::expiry_sort_bound(v.delete_after - milliseconds(1)));
  auto target = dynamodb::expiry_target(entry);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->second, v.id);
}

// ---- against DynamoDB Local ----------------------------------------------------------

// A store on a table of the test's own, deleted afterwards.
class DynamoDbStoreTest : public ::testing::Test {
 protected:
  DynamoDbStoreTest() : table_(new_table_name("otpd_only_")), raw_(endpoint()) {}
  ~DynamoDbStoreTest() override { raw_.run(raw_.db().delete_table(table_)); }

  static std::string endpoint() { return DynamoDbLocal::shared().endpoint(); }

  std::unique_ptr<DynamoDbStore> store(const core::TimeSource* clock = nullptr) {
    auto options = options_for(endpoint(), table_);
    options.clock = clock;
    return std::make_unique<DynamoDbStore>(std::move(options));
  }
  template <typename T>
  T run(Task<T> task) {
    return run_blocking(io_, std::move(task));
  }

  boost::asio::io_context io_;
  std::string table_;
  RawDynamoDb raw_;
};

TEST_F(DynamoDbStoreTest, InitCreatesTheTableWithItsKeysAndTimeToLive) {
  auto s = store();
  auto problem = run(s->schema_problem()).value();
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("does not exist: run `otpd store init`"), std::string::npos);
  EXPECT_EQ(run(s->start(start_request(kTenant, kAlice, kT0))).error(),
            make_error(StoreErrc::kSchemaMissing));

  ASSERT_TRUE(run(s->init_schema()));
  auto table = raw_.run(raw_.db().describe_table(table_));
  ASSERT_TRUE(table);
  EXPECT_EQ(table->key, (aws::KeySchema{{"pk", aws::KeyType::kString},
                                        aws::KeyAttribute{"sk", aws::KeyType::kString}}));
  EXPECT_TRUE(table->indexes.empty());
  auto ttl = raw_.run(raw_.db().describe_ttl(table_));
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->status, aws::TimeToLive::Status::kEnabled);
  EXPECT_EQ(ttl->attribute, "expires_at_ttl");
  EXPECT_EQ(run(s->schema_problem()).value(), std::nullopt);
  ASSERT_TRUE(run(s->init_schema()));  // again: nothing to do
  EXPECT_TRUE(run(s->ping()));
}

// A table made elsewhere (by hand, or a template edited wrongly): serve says what is wrong.
TEST_F(DynamoDbStoreTest, SchemaProblemNamesTimeToLiveOffAndAForeignKeySchema) {
  ASSERT_TRUE(raw_.run(raw_.db().create_table(
      {.table = table_,
       .key = {{"pk", aws::KeyType::kString}, aws::KeyAttribute{"sk", aws::KeyType::kString}}})));
  ASSERT_TRUE(raw_.run(raw_.db().wait_until_active(table_, seconds(60), milliseconds(100))));
  auto s = store();
  auto problem = run(s->schema_problem()).value();
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("has TTL off"), std::string::npos) << *problem;
  ASSERT_TRUE(run(s->init_schema()));
  EXPECT_EQ(run(s->schema_problem()).value(), std::nullopt);

  const std::string other = new_table_name("otpd_foreign_");
  ASSERT_TRUE(
      raw_.run(raw_.db().create_table({.table = other, .key = {{"id", aws::KeyType::kString}}})));
  auto foreign = std::make_unique<DynamoDbStore>(options_for(endpoint(), other));
  problem = run(foreign->schema_problem()).value();
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("another key schema"), std::string::npos) << *problem;
  EXPECT_EQ(run(foreign->init_schema()).error(), make_error(StoreErrc::kSchemaMissing));
  raw_.run(raw_.db().delete_table(other));
}

// DynamoDB deletes expired items days late: until then they must read as absent, with no
// sweep run at all.
TEST_F(DynamoDbStoreTest, WhatIsPastItsTimeReadsAsAbsentBeforeAnySweep) {
  core::ManualTimeSource clock(kT0);
  auto s = store(&clock);
  ASSERT_TRUE(run(s->init_schema()));
  const StartOptions o{.ttl_seconds = 60, .max_sends = 1, .retention_seconds = 60};
  StartRequest first = start_request(kTenant, kAlice, kT0, o);
  first.idempotency = core::IdempotencyClaim{"k", "h", kT0 + seconds(90)};
  const Verification v = run(s->start(first)).value().verification;
  ASSERT_EQ(v.delete_after, kT0 + seconds(120));

  clock.set(v.delete_after - milliseconds(1));
  EXPECT_TRUE(run(s->get(kTenant, v.id)).value().has_value());
  clock.set(v.delete_after);
  EXPECT_FALSE(run(s->get(kTenant, v.id)).value().has_value());

  const TimePoint later = v.delete_after;
  EXPECT_EQ(run(s->check(check_request(v, "123456", later))).value().verdict, Check::kNotFound);
  EXPECT_EQ(run(s->check(check_by_recipient(kTenant, {kAlice}, "123456", later))).value().verdict,
            Check::kNotFound);
  EXPECT_EQ(run(s->transition({kTenant, v.id, core::Transition::kCancel, later})).value().verdict,
            Transit::kNotFound);
  // Its send no longer counts in the window (of one), and the idempotency key has lapsed:
  // the same key with another body starts afresh.
  StartRequest again = start_request(kTenant, kAlice, later, o);
  again.idempotency = core::IdempotencyClaim{"k", "other", kT0 + hours(24)};
  EXPECT_EQ(run(s->start(again)).value().decision.verdict, Send::kStart);
  // The item is still there: only reading hides it.
  auto item = raw_.run(
      raw_.db().get_item({.table = table_, .key = dynamodb::verification_key(kTenant, v.id)}));
  ASSERT_TRUE(item);
  EXPECT_TRUE(item->has_value());
}

TEST_F(DynamoDbStoreTest, SweepDeletesTheVerificationAndItsIndexEntryOnce) {
  auto s = store();
  ASSERT_TRUE(run(s->init_schema()));
  const Verification v = run(s->start(start_request(kTenant, kAlice, kT0,
                                                    {.ttl_seconds = 60, .retention_seconds = 60})))
                             .value()
                             .verification;
  EXPECT_EQ(run(s->sweep(v.delete_after - milliseconds(1), hours(2))).value(), 0u);
  EXPECT_EQ(run(s->sweep(v.delete_after, hours(2))).value(), 2u);
  EXPECT_EQ(run(s->sweep(v.delete_after + seconds(1), hours(2))).value(), 0u);
  auto item = raw_.run(
      raw_.db().get_item({.table = table_, .key = dynamodb::verification_key(kTenant, v.id)}));
  ASSERT_TRUE(item);
  EXPECT_FALSE(item->has_value());
  auto entry = raw_.run(raw_.db().get_item(
      {.table = table_, .key = dynamodb::expiry_key(v.delete_after, kTenant, v.id)}));
  ASSERT_TRUE(entry);
  EXPECT_FALSE(entry->has_value());
  // Its job, never delivered, is the queue's to drop: the code expired long before.
  EXPECT_EQ(run(s->depth()).value(), 1u);
  EXPECT_TRUE(
      run(s->take_due({v.delete_after, 10, v.delete_after + seconds(20), {}})).value().empty());
  EXPECT_EQ(run(s->depth()).value(), 0u);
}

// A sweep with more than one BatchWriteItem's worth (25 keys) of verifications.
TEST_F(DynamoDbStoreTest, SweepDeletesManyInBatches) {
  auto s = store();
  ASSERT_TRUE(run(s->init_schema()));
  constexpr int kCount = 40;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(run(s->start(start_request(kTenant, nth_recipient(i), kT0 + milliseconds(i),
                                         {.ttl_seconds = 60, .retention_seconds = 60})))
                  .value()
                  .decision.verdict,
              Send::kStart);
  }
  EXPECT_EQ(run(s->sweep(kT0 + seconds(120) + milliseconds(kCount / 2 - 1), hours(2))).value(),
            static_cast<std::size_t>(kCount));
  EXPECT_EQ(run(s->sweep(kT0 + hours(1), hours(2))).value(), static_cast<std::size_t>(kCount));
}

// Every item carries the TTL attribute DynamoDB deletes it by.
TEST_F(DynamoDbStoreTest, EveryItemCarriesItsTimeToLive) {
  auto s = store();
  ASSERT_TRUE(run(s->init_schema()));
  StartRequest r = start_request(kTenant, kAlice, kT0);
  r.idempotency = core::IdempotencyClaim{"k", "h", kT0 + hours(24)};
  r.rate = core::TokenSpec{"send:acme", 1, 5};
  r.counters = {{"daily:acme:email", 10, hours(24)}};
  const Verification v = run(s->start(r)).value().verification;
  ASSERT_TRUE(run(s->take_token(core::TokenSpec{"key:k1", 1, 1}, kT0)).value().allowed);

  const std::vector<std::pair<aws::Item, long long>> expected = {
      {dynamodb::verification_key(kTenant, v.id), dynamodb::ttl_of(v.delete_after)},
      {dynamodb::recipient_key(kTenant, kAlice), dynamodb::ttl_of(v.delete_after)},
      {dynamodb::idempotency_key(kTenant, "k"), dynamodb::ttl_of(kT0 + hours(24))},
      {dynamodb::bucket_key("send:acme"), dynamodb::ttl_of(kT0 + seconds(1))},
      {dynamodb::bucket_key("key:k1"), dynamodb::ttl_of(kT0 + seconds(1))},
      {dynamodb::counter_key("daily:acme:email", core::counter_window(kT0, hours(24))),
       dynamodb::ttl_of(core::from_unix_ms(core::counter_window(kT0, hours(24)).end_ms))},
      {dynamodb::job_key(kTenant, v.id), dynamodb::ttl_of(v.delete_after)},
      {dynamodb::expiry_key(v.delete_after, kTenant, v.id), dynamodb::ttl_of(v.delete_after)},
  };
  for (const auto& [key, ttl] : expected) {
    auto item = raw_.run(raw_.db().get_item({.table = table_, .key = key}));
    ASSERT_TRUE(item);
    ASSERT_TRUE(item->has_value()) << *key.at("pk").if_string();
    EXPECT_EQ((*item)->at("expires_at_ttl").if_int64(), ttl) << *key.at("pk").if_string();
  }
}

TEST_F(DynamoDbStoreTest, AnItemItDidNotWriteIsCorrupt) {
  auto s = store();
  ASSERT_TRUE(run(s->init_schema()));
  aws::Item junk = dynamodb::verification_key(kTenant, core::VerificationId("v_junk"));
  junk["rec"] = aws::AttributeValue::string("{not json");
  ASSERT_TRUE(raw_.run(raw_.db().put_item({.table = table_, .item = junk})));
  EXPECT_EQ(run(s->get(kTenant, core::VerificationId("v_junk"))).error(),
            make_error(StoreErrc::kCorrupt));
}

// SIGSTOP, then wait until every thread of the JVM has stopped: a thread running at that
// moment may still answer a request or two.
void freeze(const DynamoDbLocal& local) {
  local.freeze();
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  const std::filesystem::path tasks = "/proc/" + std::to_string(local.pid()) + "/task";
  for (;;) {
    bool stopped = true;
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      std::ifstream stat(task.path() / "stat");
      std::string line;
      std::getline(stat, line);
      // pid (comm) STATE ...: the state follows the last ')'.
      const auto close = line.rfind(')');
      if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'T') {
        stopped = false;
      }
    }
    if (stopped) return;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "DynamoDB Local did not stop";
    std::this_thread::sleep_for(milliseconds(5));
  }
}

// A frozen DynamoDB (SIGSTOP): every operation fails with kUnavailable within the store's
// timeout, and works again once it is thawed, on the same store. Starts a server of its own.
TEST(DynamoDbStoreOutage, AFrozenServerIsUnavailableWithinTheTimeoutThenRecovers) {
  auto local = DynamoDbLocal::start_own();
  const std::string table = new_table_name("otpd_frozen_");
  DynamoDbStore store(options_for(local->endpoint(), table, milliseconds(1500)));
  boost::asio::io_context io;
  ASSERT_TRUE(run_blocking(io, store.init_schema()));
  ASSERT_EQ(
      run_blocking(io, store.start(start_request(kTenant, kAlice, kT0))).value().decision.verdict,
      Send::kStart);

  freeze(*local);
  const auto began = std::chrono::steady_clock::now();
  EXPECT_EQ(run_blocking(io, store.start(start_request(kTenant, kBob, kT0))).error(),
            make_error(StoreErrc::kUnavailable));
  EXPECT_EQ(run_blocking(io, store.ping()).error(), make_error(StoreErrc::kUnavailable));
  // Bounded by the timeout (plus scheduling slack), not by the server.
  EXPECT_LT(std::chrono::steady_clock::now() - began, seconds(10));
  local->thaw();

  ASSERT_TRUE(run_blocking(io, store.ping()));
  // Another recipient: the start refused above may yet be applied, late, by the thawed server.
  EXPECT_EQ(run_blocking(io, store.start(start_request(kTenant, nth_recipient(1), kT0)))
                .value()
                .decision.verdict,
            Send::kStart);
}

}  // namespace
}  // namespace otpd::store::testing
