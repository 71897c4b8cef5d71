// DynamoDbStore: construction, the shared read and commit steps, get, take_token, and the
// table itself (init_schema, schema_problem, ping).
#include "store/dynamodb/dynamodb_store.hpp"

#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <stdexcept>
#include <utility>

#include "obs/log.hpp"

namespace otpd::store {

using aws::Item;
using dynamodb::bucket_item;
using dynamodb::bucket_key;
using dynamodb::bucket_of;
using dynamodb::seen_of;
using dynamodb::unchanged;
using dynamodb::verification_key;
using dynamodb::verification_of;

namespace {

using Steady = std::chrono::steady_clock;

constexpr auto kTableWait = std::chrono::seconds(120);
constexpr auto kTablePoll = std::chrono::milliseconds(250);
constexpr long long kLogEveryMs = 1000;

const aws::KeySchema& expected_key() {
  static const aws::KeySchema key{{"pk", aws::KeyType::kString},
                                  aws::KeyAttribute{"sk", aws::KeyType::kString}};
  return key;
}

}  // namespace

DynamoDbStore::DynamoDbStore(DynamoDbStoreOptions options)
    : table_(std::move(options.table)),
      timeout_(options.dynamo.timeout),
      clock_(options.clock != nullptr ? options.clock : &system_clock_) {
  std::string why;
  if (!aws::dynamodb_url(options.dynamo, why)) throw std::invalid_argument("dynamodb: " + why);
  settings_ = std::make_shared<const dynamodb::ClientSettings>(
      dynamodb::ClientSettings{std::move(options.dynamo), std::move(options.getenv)});
}

aws::Deadline DynamoDbStore::deadline() const { return Steady::now() + timeout_; }

boost::system::error_code DynamoDbStore::fail(const char* op, const aws::DynamoError& error) {
  const long long now_ms = core::to_unix_ms(system_clock_.now());
  long long last = last_log_ms_.load();
  if (now_ms - last >= kLogEveryMs && last_log_ms_.compare_exchange_strong(last, now_ms)) {
    std::string reasons;
    for (const auto& r : error.reasons) reasons += (reasons.empty() ? "" : ",") + r.code;
    obs::warn("dynamodb store: operation failed", {{"op", op},
                                                   {"table", table_},
                                                   {"error", error.code().message()},
                                                   {"aws_code", error.aws_code},
                                                   {"http_status", error.http_status},
                                                   {"detail", error.detail},
                                                   {"reasons", reasons},
                                                   {"attempts", error.attempts}});
  }
  switch (error.errc) {
    case aws::DynamoErrc::kResourceNotFound:
      return make_error(StoreErrc::kSchemaMissing);
    case aws::DynamoErrc::kBadResponse:
      return make_error(StoreErrc::kCorrupt);
    default:
      return make_error(StoreErrc::kUnavailable);
  }
}

bool DynamoDbStore::lost_race(const aws::DynamoError& error) {
  if (error.errc == aws::DynamoErrc::kConditionFailed) return true;
  if (error.errc != aws::DynamoErrc::kTransactionCanceled) return false;
  bool condition = false;
  for (const auto& reason : error.reasons) {
    if (reason.condition_failed()) {
      condition = true;
    } else if (reason.code != "None" && reason.code != "TransactionConflict") {
      return false;
    }
  }
  return condition;
}

Task<aws::DynamoResult<std::vector<std::optional<aws::Item>>>> DynamoDbStore::read(
    aws::DynamoDb& db, std::vector<aws::Item> keys, Deadline deadline) {
  if (keys.size() == 1) {
    aws::GetItemRequest get{
        .table = table_, .key = std::move(keys[0]), .consistent_read = true, .deadline = deadline};
    auto got = co_await db.get_item(std::move(get));
    if (!got) co_return got.error();
    co_return std::vector<std::optional<Item>>{std::move(*got)};
  }
  std::vector<aws::TransactGet> gets;
  gets.reserve(keys.size());
  for (auto& key : keys) gets.push_back({.table = table_, .key = std::move(key)});
  co_return co_await db.transact_get(std::move(gets), deadline);
}

Task<aws::DynamoResult<void>> DynamoDbStore::commit(aws::DynamoDb& db,
                                                    std::vector<aws::TransactWriteAction> actions,
                                                    Deadline deadline) {
  if (actions.empty()) co_return aws::DynamoResult<void>{};
  aws::TransactWriteRequest request;
  request.actions = std::move(actions);
  request.deadline = deadline;
  co_return co_await db.transact_write(std::move(request));
}

Task<Result<std::optional<core::Verification>>> DynamoDbStore::get(core::TenantId tenant,
                                                                   core::VerificationId id) {
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  aws::GetItemRequest get{.table = table_,
                          .key = verification_key(tenant, id),
                          .consistent_read = true,
                          .deadline = deadline()};
  auto got = co_await db.get_item(std::move(get));
  if (!got) co_return fail("get", got.error());
  if (!*got) co_return std::optional<core::Verification>();
  auto record = verification_of(**got);
  if (!record) co_return record.error();
  if (clock_->now() >= record->verification.delete_after) {
    co_return std::optional<core::Verification>();
  }
  co_return std::optional<core::Verification>(std::move(record->verification));
}

Task<Result<TokenOutcome>> DynamoDbStore::take_token(core::TokenSpec spec, core::TimePoint now) {
  if (!spec.active()) co_return TokenOutcome{};
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  const auto until = deadline();
  for (int race = 0; race < kMaxRaces; ++race) {
    aws::GetItemRequest get{
        .table = table_, .key = bucket_key(spec.key), .consistent_read = true, .deadline = until};
    auto got = co_await db.get_item(std::move(get));
    if (!got) co_return fail("take_token", got.error());
    auto state = bucket_of(*got, now);
    if (!state) co_return state.error();
    const core::TakeDecision taken = core::take_token(spec, *state, now);
    if (!taken.allowed) co_return TokenOutcome{false, taken.retry_after};
    const dynamodb::Seen seen = seen_of(*got);
    aws::PutItemRequest put{.table = table_, .item = bucket_item(spec.key, taken, seen.next())};
    put.condition = unchanged(seen, put.values);
    put.deadline = until;
    auto stored = co_await db.put_item(std::move(put));
    if (stored) co_return TokenOutcome{};
    if (!lost_race(stored.error())) co_return fail("take_token", stored.error());
  }
  co_return make_error(StoreErrc::kUnavailable);
}

// ---- the table -----------------------------------------------------------------------

Task<Result<void>> DynamoDbStore::init_schema() {
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  aws::CreateTableRequest create{.table = table_, .key = expected_key()};
  auto created = co_await db.create_table(std::move(create));
  if (!created && created.error().errc != aws::DynamoErrc::kResourceInUse) {
    co_return fail("create_table", created.error());
  }
  if (created) obs::info("dynamodb store: creating the table", {{"table", table_}});
  auto active = co_await db.wait_until_active(table_, kTableWait, kTablePoll);
  if (!active) co_return fail("describe_table", active.error());
  if (!(active->key == expected_key())) {
    obs::error(
        "dynamodb store: the table has another key schema (pk and sk, both strings, "
        "expected)",
        {{"table", table_}});
    co_return make_error(StoreErrc::kSchemaMissing);
  }
  auto ttl = co_await db.ensure_ttl(table_, std::string(dynamodb::kTtlAttribute));
  if (!ttl) co_return fail("update_ttl", ttl.error());
  using Ttl = aws::TimeToLive::Status;
  if (ttl->status == Ttl::kUnsupported) {
    obs::warn(
        "dynamodb store: this endpoint has no TTL API; items past their time read as absent "
        "and sweep deletes verifications, but nothing else is ever deleted",
        {{"table", table_}});
  } else if ((ttl->status == Ttl::kEnabled || ttl->status == Ttl::kEnabling) &&
             ttl->attribute != dynamodb::kTtlAttribute) {
    obs::error("dynamodb store: TTL is on for another attribute of the table",
               {{"table", table_}, {"attribute", ttl->attribute}});
    co_return make_error(StoreErrc::kSchemaMissing);
  } else if (ttl->status == Ttl::kDisabling) {
    obs::error(
        "dynamodb store: TTL is being disabled on the table; run store init again once "
        "it is off (DynamoDB allows one change an hour)",
        {{"table", table_}});
    co_return make_error(StoreErrc::kSchemaMissing);
  }
  co_return Result<void>{};
}

Task<Result<std::optional<std::string>>> DynamoDbStore::schema_problem() {
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  const std::string name = "the DynamoDB table \"" + table_ + "\"";
  auto table = co_await db.describe_table(table_);
  if (!table) {
    if (table.error().errc == aws::DynamoErrc::kResourceNotFound) {
      co_return std::optional<std::string>(
          name +
          " does not exist: run `otpd store init` (deploy/aws/template.yaml creates it "
          "for Lambda)");
    }
    co_return fail("describe_table", table.error());
  }
  if (!(table->key == expected_key())) {
    co_return std::optional<std::string>(
        name +
        " has another key schema: otpd needs partition key pk and sort key sk, both "
        "strings");
  }
  if (table->status != "ACTIVE" && table->status != "UPDATING") {
    co_return std::optional<std::string>(name + " is " + table->status + ", not ACTIVE");
  }
  auto ttl = co_await db.describe_ttl(table_);
  if (!ttl) co_return fail("describe_ttl", ttl.error());
  using Ttl = aws::TimeToLive::Status;
  if (ttl->status == Ttl::kDisabled || ttl->status == Ttl::kDisabling) {
    co_return std::optional<std::string>(name +
                                         " has TTL off: run `otpd store init` to turn it on for " +
                                         std::string(dynamodb::kTtlAttribute));
  }
  if (ttl->status != Ttl::kUnsupported && ttl->attribute != dynamodb::kTtlAttribute) {
    co_return std::optional<std::string>(name + " has TTL on \"" + ttl->attribute +
                                         "\"; otpd needs it on " +
                                         std::string(dynamodb::kTtlAttribute));
  }
  co_return std::optional<std::string>();
}

Task<Result<void>> DynamoDbStore::ping() {
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  aws::GetItemRequest get{.table = table_,
                          .key = dynamodb::ping_key(),
                          .consistent_read = false,
                          .deadline = deadline()};
  auto got = co_await db.get_item(std::move(get));
  if (!got) co_return fail("ping", got.error());
  co_return Result<void>{};
}

}  // namespace otpd::store
