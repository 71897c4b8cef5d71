// DynamoDb against AWS's DynamoDB Local: tables and TTL, conditional writes, transactions and
// their cancellation reasons, contention between writers, Query order and pages, and a
// frozen server.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "dynamodb_local_fixture.hpp"

namespace otpd::aws::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST_F(DynamoDbLocalTest, CreatesATableWithItsIndexAndTimeToLive) {
  create_table();
  const auto table = run(db_->describe_table(table_));
  ASSERT_TRUE(table);
  EXPECT_TRUE(table->active());
  EXPECT_EQ(table->key,
            (KeySchema{{"pk", KeyType::kString}, KeyAttribute{"sk", KeyType::kNumber}}));
  ASSERT_NE(table->index("by_g"), nullptr);
  EXPECT_EQ(table->index("by_g")->key.partition, (KeyAttribute{"g", KeyType::kString}));

  auto ttl = run(db_->describe_ttl(table_));
  ASSERT_TRUE(ttl) << ttl.error().aws_code;
  EXPECT_EQ(ttl->status, TimeToLive::Status::kDisabled);
  ttl = run(db_->ensure_ttl(table_, "expires_at"));
  ASSERT_TRUE(ttl) << ttl.error().aws_code;
  EXPECT_TRUE(ttl->status == TimeToLive::Status::kEnabling ||
              ttl->status == TimeToLive::Status::kEnabled);
  ttl = run(db_->describe_ttl(table_));
  ASSERT_TRUE(ttl);
  EXPECT_EQ(ttl->status, TimeToLive::Status::kEnabled);
  EXPECT_EQ(ttl->attribute, "expires_at");
  // A second `store init` finds it enabled and changes nothing.
  ttl = run(db_->ensure_ttl(table_, "expires_at"));
  ASSERT_TRUE(ttl) << ttl.error().aws_code;
  EXPECT_EQ(ttl->status, TimeToLive::Status::kEnabled);

  const auto again = run(db_->create_table({.table = table_, .key = {{"pk", KeyType::kString}}}));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().errc, DynamoErrc::kResourceInUse);
}

TEST_F(DynamoDbLocalTest, AMissingTableIsNotFound) {
  const auto table = run(db_->describe_table(table_));
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().errc, DynamoErrc::kResourceNotFound);
  const auto got = run(db_->get_item({.table = table_, .key = key("a")}));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().errc, DynamoErrc::kResourceNotFound);
}

TEST_F(DynamoDbLocalTest, ConditionalPutSucceedsOnceAndReturnsWhatBlocksIt) {
  create_table();
  Item item = key("v_1");
  item["sealed"] = AttributeValue::binary(std::string("\x00\x01nonce+ct\xff", 11));
  item["version"] = N(1);
  item["meta"] = AttributeValue::map({{"l", AttributeValue::list({S("x"), N(2)})}});
  item["flags"] = AttributeValue::string_set({"a", "b"});
  item["done"] = AttributeValue::boolean(false);
  item["none"] = AttributeValue::null();
  PutItemRequest put{.table = table_, .item = item, .condition = "attribute_not_exists(pk)"};
  auto first = run(db_->put_item(put));
  ASSERT_TRUE(first) << first.error().aws_code;
  EXPECT_FALSE(first->has_value());

  put.item["version"] = N(2);
  put.return_item_on_condition_failure = true;
  const auto second = run(db_->put_item(put));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().errc, DynamoErrc::kConditionFailed);
  EXPECT_EQ(second.error().aws_code, "ConditionalCheckFailedException");
  ASSERT_TRUE(second.error().item.has_value());
  EXPECT_EQ(second.error().item->at("version").if_int64(), 1);

  auto stored = get("v_1");
  ASSERT_TRUE(stored.has_value());
  // A set's order is DynamoDB's to choose.
  ASSERT_NE(stored->at("flags").if_set(), nullptr);
  auto flags = *stored->at("flags").if_set();
  std::sort(flags.begin(), flags.end());
  EXPECT_EQ(flags, (AttributeValue::Set{"a", "b"}));
  stored->erase("flags");
  item.erase("flags");
  EXPECT_EQ(*stored, item);
  EXPECT_FALSE(get("v_2").has_value());
}

TEST_F(DynamoDbLocalTest, UpdateConditionedOnAVersion) {
  create_table();
  ASSERT_TRUE(run(db_->put_item({.table = table_, .item = [] {
                                   auto i = key("c");
                                   i["version"] = N(1);
                                   i["n"] = N(10);
                                   return i;
                                 }()})));
  UpdateItemRequest update{.table = table_,
                           .key = key("c"),
                           .update_expression = "SET #v = :new ADD n :d",
                           .condition = "#v = :old",
                           .names = {{"#v", "version"}},
                           .values = {{":old", N(1)}, {":new", N(2)}, {":d", N(-3)}},
                           .return_values = ReturnValues::kAllNew};
  const auto applied = run(db_->update_item(update));
  ASSERT_TRUE(applied) << applied.error().aws_code;
  ASSERT_TRUE(applied->has_value());
  EXPECT_EQ((**applied).at("version").if_int64(), 2);
  EXPECT_EQ((**applied).at("n").if_int64(), 7);

  // The same update again is stale: version is 2 now.
  update.return_item_on_condition_failure = true;
  const auto stale = run(db_->update_item(update));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().errc, DynamoErrc::kConditionFailed);
  ASSERT_TRUE(stale.error().item.has_value());
  EXPECT_EQ(stale.error().item->at("n").if_int64(), 7);
  EXPECT_EQ(get("c")->at("n").if_int64(), 7);

  // A malformed expression is the caller's bug, reported once, not retried.
  update.update_expression = "SET SET";
  const auto invalid = run(db_->update_item(update));
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().errc, DynamoErrc::kInvalidRequest);
  EXPECT_EQ(invalid.error().attempts, 1);
}

TEST_F(DynamoDbLocalTest, ConditionalDeleteReturnsTheOldItem) {
  create_table();
  ASSERT_TRUE(run(db_->put_item({.table = table_, .item = [] {
                                   auto i = key("d");
                                   i["status"] = S("pending");
                                   return i;
                                 }()})));
  DeleteItemRequest del{.table = table_,
                        .key = key("d"),
                        .condition = "#s = :s",
                        .names = {{"#s", "status"}},
                        .values = {{":s", S("approved")}}};
  const auto refused = run(db_->delete_item(del));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errc, DynamoErrc::kConditionFailed);
  del.values[":s"] = S("pending");
  del.return_old = true;
  const auto deleted = run(db_->delete_item(del));
  ASSERT_TRUE(deleted) << deleted.error().aws_code;
  ASSERT_TRUE(deleted->has_value());
  EXPECT_EQ(*(**deleted).at("status").if_string(), "pending");
  EXPECT_FALSE(get("d").has_value());
}

TEST_F(DynamoDbLocalTest, TransactWriteAppliesEveryActionOrNone) {
  create_table();
  ASSERT_TRUE(run(db_->put_item({.table = table_, .item = [] {
                                   auto i = key("guard");
                                   i["version"] = N(5);
                                   return i;
                                 }()})));
  ASSERT_TRUE(run(db_->put_item({.table = table_, .item = key("old")})));

  auto guard = TransactWriteAction::condition_check(table_, key("guard"), "version = :v");
  guard.values = {{":v", N(5)}};
  auto counter = TransactWriteAction::update(table_, key("counter"), "ADD n :one");
  counter.values = {{":one", N(1)}};
  TransactWriteRequest ok{
      .actions = {guard, TransactWriteAction::put(table_, key("new"), "attribute_not_exists(pk)"),
                  counter, TransactWriteAction::remove(table_, key("old"))}};
  const auto applied = run(db_->transact_write(ok));
  ASSERT_TRUE(applied) << applied.error().aws_code;
  EXPECT_TRUE(get("new").has_value());
  EXPECT_FALSE(get("old").has_value());
  EXPECT_EQ(get("counter")->at("n").if_int64(), 1);

  // The same again: "new" exists now, so its Put fails and nothing else happens.
  auto put_new = TransactWriteAction::put(table_, key("new"), "attribute_not_exists(pk)");
  put_new.return_item_on_condition_failure = true;
  TransactWriteRequest again{
      .actions = {guard, put_new, counter, TransactWriteAction::put(table_, key("other"))}};
  const auto cancelled = run(db_->transact_write(again));
  ASSERT_FALSE(cancelled);
  EXPECT_EQ(cancelled.error().errc, DynamoErrc::kTransactionCanceled);
  EXPECT_EQ(cancelled.error().aws_code, "TransactionCanceledException");
  ASSERT_EQ(cancelled.error().reasons.size(), 4u);
  EXPECT_EQ(cancelled.error().reasons[0].code, "None");
  EXPECT_TRUE(cancelled.error().reasons[1].condition_failed());
  ASSERT_TRUE(cancelled.error().reasons[1].item.has_value());
  EXPECT_EQ(*cancelled.error().reasons[1].item->at("pk").if_string(), "new");
  EXPECT_EQ(cancelled.error().reasons[2].code, "None");
  EXPECT_EQ(cancelled.error().reasons[3].code, "None");
  EXPECT_EQ(get("counter")->at("n").if_int64(), 1);
  EXPECT_FALSE(get("other").has_value());
}

TEST_F(DynamoDbLocalTest, ARepeatedClientTokenWritesOnce) {
  create_table();
  auto counter = TransactWriteAction::update(table_, key("counter"), "ADD n :one");
  counter.values = {{":one", N(1)}};
  TransactWriteRequest request{.actions = {counter}, .client_request_token = "same-token-1"};
  ASSERT_TRUE(run(db_->transact_write(request)));
  const auto repeated = run(db_->transact_write(request));
  ASSERT_TRUE(repeated) << repeated.error().aws_code;
  EXPECT_EQ(get("counter")->at("n").if_int64(), 1);
  request.client_request_token = "another-token";
  ASSERT_TRUE(run(db_->transact_write(request)));
  EXPECT_EQ(get("counter")->at("n").if_int64(), 2);
}

// More keys than one BatchWriteItem takes (25), some of them absent.
TEST_F(DynamoDbLocalTest, BatchDeleteDeletesEveryKeyGiven) {
  create_table();
  std::vector<Item> keys;
  for (std::int64_t i = 0; i < 40; ++i) {
    if (i % 4 != 0) {
      ASSERT_TRUE(run(db_->put_item({.table = table_, .item = key("b", i)})));
    }
    keys.push_back(key("b", i));
  }
  ASSERT_TRUE(run(db_->put_item({.table = table_, .item = key("kept")})));
  auto deleted = run(db_->batch_delete(table_, keys));
  ASSERT_TRUE(deleted) << deleted.error().aws_code;
  const auto left = run(db_->query({.table = table_,
                                    .key_condition = "pk = :p",
                                    .values = {{":p", S("b")}},
                                    .consistent_read = true}));
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->items.empty());
  EXPECT_TRUE(get("kept").has_value());
  EXPECT_TRUE(run(db_->batch_delete(table_, {})));
}

TEST_F(DynamoDbLocalTest, TransactGetReadsOneSnapshotInOrder) {
  create_table();
  ASSERT_TRUE(run(db_->put_item({.table = table_, .item = [] {
                                   auto i = key("a");
                                   i["x"] = N(1);
                                   return i;
                                 }()})));
  ASSERT_TRUE(run(db_->put_item({.table = table_, .item = key("c")})));
  const auto snapshot = run(db_->transact_get({{table_, key("c"), "", {}},
                                               {table_, key("b"), "", {}},
                                               {table_, key("a"), "#x", {{"#x", "x"}}}}));
  ASSERT_TRUE(snapshot) << snapshot.error().aws_code;
  ASSERT_EQ(snapshot->size(), 3u);
  EXPECT_TRUE((*snapshot)[0].has_value());
  EXPECT_FALSE((*snapshot)[1].has_value());
  ASSERT_TRUE((*snapshot)[2].has_value());
  EXPECT_EQ((*snapshot)[2], (Item{{"x", N(1)}}));  // projected
}

TEST_F(DynamoDbLocalTest, QueryOrderLimitAndPages) {
  create_table();
  for (const std::int64_t sk : {3, 1, 5, 2, 4}) {
    auto item = key("p", sk);
    item["g"] = S(sk % 2 == 0 ? "even" : "odd");
    ASSERT_TRUE(run(db_->put_item({.table = table_, .item = item})));
  }
  ASSERT_TRUE(run(db_->put_item({.table = table_, .item = key("q", 9)})));
  auto sks = [](const QueryResult& r) {
    std::vector<std::int64_t> out;
    for (const auto& item : r.items) out.push_back(*item.at("sk").if_int64());
    return out;
  };

  QueryRequest q{.table = table_,
                 .key_condition = "pk = :p",
                 .values = {{":p", S("p")}},
                 .consistent_read = true};
  auto page = run(db_->query(q));
  ASSERT_TRUE(page) << page.error().aws_code;
  EXPECT_EQ(sks(*page), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  EXPECT_FALSE(page->last_evaluated_key.has_value());

  q.forward = false;
  q.limit = 2;
  page = run(db_->query(q));
  ASSERT_TRUE(page);
  EXPECT_EQ(sks(*page), (std::vector<std::int64_t>{5, 4}));
  ASSERT_TRUE(page->last_evaluated_key.has_value());
  q.exclusive_start_key = page->last_evaluated_key;
  page = run(db_->query(q));
  ASSERT_TRUE(page);
  EXPECT_EQ(sks(*page), (std::vector<std::int64_t>{3, 2}));

  QueryRequest range{.table = table_,
                     .key_condition = "pk = :p AND sk BETWEEN :a AND :b",
                     .values = {{":p", S("p")}, {":a", N(2)}, {":b", N(4)}},
                     .consistent_read = true};
  page = run(db_->query(range));
  ASSERT_TRUE(page);
  EXPECT_EQ(sks(*page), (std::vector<std::int64_t>{2, 3, 4}));

  QueryRequest by_g{.table = table_,
                    .index = "by_g",
                    .key_condition = "g = :g",
                    .values = {{":g", S("odd")}},
                    .forward = false};
  page = run(db_->query(by_g));
  ASSERT_TRUE(page) << page.error().aws_code;
  EXPECT_EQ(sks(*page), (std::vector<std::int64_t>{5, 3, 1}));

  // Select COUNT: the items matching (after the filter), none returned.
  QueryRequest count{.table = table_,
                     .key_condition = "pk = :p",
                     .filter = "g = :g",
                     .values = {{":p", S("p")}, {":g", S("even")}},
                     .count_only = true};
  page = run(db_->query(count));
  ASSERT_TRUE(page) << page.error().aws_code;
  EXPECT_EQ(page->count, 2);
  EXPECT_TRUE(page->items.empty());
}

// N writers race to move one item from version v to v + 1, each conditioned on v: in every
// round exactly one wins and the others learn that the condition failed.
TEST_F(DynamoDbLocalTest, ConcurrentConflictingTransactionsHaveOneWinner) {
  create_table();
  ASSERT_TRUE(run(db_->put_item({.table = table_, .item = [] {
                                   auto i = key("hot");
                                   i["version"] = N(0);
                                   return i;
                                 }()})));
  constexpr int kWriters = 6;
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::future<DynamoResult<void>>> results;
    for (int w = 0; w < kWriters; ++w) {
      auto update = TransactWriteAction::update(table_, key("hot"), "SET version = :new, w = :w",
                                                "version = :old");
      update.values = {{":old", N(round)}, {":new", N(round + 1)}, {":w", N(w)}};
      auto side = TransactWriteAction::put(table_, key("log", round * kWriters + w));
      results.push_back(asio::co_spawn(io_.io(), db_->transact_write({.actions = {update, side}}),
                                       asio::use_future));
    }
    int winners = 0;
    for (auto& f : results) {
      const auto r = f.get();
      if (r) {
        ++winners;
        continue;
      }
      EXPECT_EQ(r.error().errc, DynamoErrc::kTransactionCanceled) << r.error().aws_code;
      ASSERT_EQ(r.error().reasons.size(), 2u);
      EXPECT_TRUE(r.error().reasons[0].condition_failed()) << r.error().reasons[0].code;
    }
    EXPECT_EQ(winners, 1) << "round " << round;
    EXPECT_EQ(get("hot")->at("version").if_int64(), round + 1);
  }
  // Only the winners' side effects exist.
  const auto log = run(db_->query({.table = table_,
                                   .key_condition = "pk = :p",
                                   .values = {{":p", S("log")}},
                                   .consistent_read = true}));
  ASSERT_TRUE(log);
  EXPECT_EQ(log->items.size(), static_cast<std::size_t>(kRounds));
}

// What a store backend does: read a snapshot, decide, commit conditioned on what was read,
// and start over when the condition fails. Transfers between two counters from many
// coroutines on two threads: every transfer lands once and the total never changes.
TEST_F(DynamoDbLocalTest, ReadDecideCommitLoopsConvergeUnderContention) {
  create_table();
  for (const char* name : {"left", "right"}) {
    auto i = key(name);
    i["n"] = N(100);
    i["version"] = N(0);
    ASSERT_TRUE(run(db_->put_item({.table = table_, .item = i})));
  }
  // Built outside the coroutine: GCC 12 cannot keep an initializer list's string literals in
  // a coroutine frame ("array used as initializer").
  const std::vector<TransactGet> both{{table_, key("left"), "", {}},
                                      {table_, key("right"), "", {}}};
  auto transfer_request = [this](const Item& from, const Item& to, std::int64_t amount) {
    TransactWriteRequest request;
    for (const auto* side : {&from, &to}) {
      auto update = TransactWriteAction::update(table_, key(*side->at("pk").if_string()),
                                                "SET n = :n, version = :nv", "version = :v");
      const std::int64_t delta = side == &from ? -amount : amount;
      update.values = {{":n", N(*side->at("n").if_int64() + delta)},
                       {":nv", N(*side->at("version").if_int64() + 1)},
                       {":v", side->at("version")}};
      request.actions.push_back(std::move(update));
    }
    return request;
  };
  auto transfer = [this, &both, &transfer_request](std::int64_t amount) -> Task<int> {
    int commits_tried = 0;
    for (;;) {
      auto snapshot = co_await db_->transact_get(both);
      if (!snapshot) co_return -1;
      ++commits_tried;
      auto committed =
          co_await db_->transact_write(transfer_request(*(*snapshot)[0], *(*snapshot)[1], amount));
      if (committed) co_return commits_tried;
      if (committed.error().errc != DynamoErrc::kTransactionCanceled) co_return -1;
    }
  };
  constexpr int kTransfers = 8;
  std::vector<std::future<int>> done;
  for (int i = 0; i < kTransfers; ++i) {
    done.push_back(asio::co_spawn(io_.io(), transfer(i + 1), asio::use_future));
  }
  for (auto& f : done) EXPECT_GT(f.get(), 0);
  const auto left = get("left");
  const auto right = get("right");
  const std::int64_t moved = kTransfers * (kTransfers + 1) / 2;
  EXPECT_EQ(left->at("n").if_int64(), 100 - moved);
  EXPECT_EQ(right->at("n").if_int64(), 100 + moved);
  EXPECT_EQ(left->at("version").if_int64(), kTransfers);
}

// A DynamoDB Local of this test's own (freezing the shared one would stall the tests running
// beside it), frozen with SIGSTOP: requests get no answer, and a client with a 1 s deadline
// gives up with kUnavailable; thawed, it works again.
class FrozenDynamoDbLocalTest : public DynamoDbLocalTest {
 protected:
  FrozenDynamoDbLocalTest() : FrozenDynamoDbLocalTest(DynamoDbLocal::start_own()) {}

 private:
  explicit FrozenDynamoDbLocalTest(std::unique_ptr<DynamoDbLocal> own)
      : DynamoDbLocalTest(own->endpoint()), own_(std::move(own)) {}

 protected:
  std::unique_ptr<DynamoDbLocal> own_;
};

TEST_F(FrozenDynamoDbLocalTest, AFrozenServerIsUnavailableWithinTheDeadlineThenRecovers) {
  create_table();
  ASSERT_TRUE(run(db_->put_item({.table = table_, .item = key("k")})));
  DynamoDb hasty(http_, env_credentials(http_, clock_, env_of(kLocalKeys)), clock_,
                 {.region = kLocalRegion, .endpoint = own_->endpoint(), .timeout = 1000ms});

  own_->freeze();
  struct Thaw {
    const DynamoDbLocal& server;
    ~Thaw() { server.thaw(); }
  } thaw_even_on_failure{*own_};
  const auto started = std::chrono::steady_clock::now();
  const auto frozen = run(hasty.get_item({.table = table_, .key = key("k")}));
  ASSERT_FALSE(frozen);
  EXPECT_EQ(frozen.error().errc, DynamoErrc::kUnavailable);
  EXPECT_EQ(frozen.error().http_status, 0);
  // Not a speed check: a guard that the deadline, not the server, ended the wait.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);

  own_->thaw();
  // The JVM first works off what queued up while it was stopped: ask until it answers, within
  // a deadline.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  DynamoResult<std::optional<Item>> thawed = frozen.error();
  while (!thawed && std::chrono::steady_clock::now() < deadline) {
    thawed = run(hasty.get_item({.table = table_, .key = key("k")}));
  }
  ASSERT_TRUE(thawed) << thawed.error().code().message();
  EXPECT_TRUE(thawed->has_value());
}

}  // namespace
}  // namespace otpd::aws::testing
