// RedisStore: opening, the records, checks, reads, transitions, token buckets and
// maintenance. start() is in redis_start.cpp, the delivery queue in redis_queue.cpp.
#include "store/redis/redis_store.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "store/redis/slot.hpp"
#include "store/redis/store_support.hpp"

namespace otpd::store {

using core::TimePoint;
using core::Verification;
using redis::CommitBatch;
using redis::KeySchema;
using redis::RecipientRecord;

namespace {

constexpr int kMinimumMajorVersion = 7;

// "field:value" lines of an INFO reply.
std::string info_field(std::string_view info, std::string_view name) {
  std::string key = std::string(name) + ":";
  auto at = info.find(key);
  while (at != std::string_view::npos && at != 0 && info[at - 1] != '\n') {
    at = info.find(key, at + 1);
  }
  if (at == std::string_view::npos) return {};
  auto value = info.substr(at + key.size());
  return std::string(value.substr(0, value.find_first_of("\r\n")));
}

// Whether an index entry names the record key this layout puts its recipient under: one
// written by another layout must not be followed to the wrong record.
bool names(const redis::IndexEntry& entry, const KeySchema::Field& record) {
  return std::string_view(record.key).substr(redis::key_head(record.key).size()) == entry.key_tail;
}

}  // namespace

redis::Result<std::unique_ptr<RedisStore>> RedisStore::open(std::string_view url,
                                                            RedisStoreOptions options) {
  auto parsed = redis::parse_redis_url(url);
  if (!parsed) return parsed.error();
  std::string prefix = options.key_prefix.empty() ? parsed->key_prefix : options.key_prefix;
  if (prefix.empty() || prefix.size() > 64 ||
      prefix.find_first_of("{}*?[]\\") != std::string::npos) {
    return redis::Error{
        redis::Errc::kInvalidArgument,
        "key_prefix must be 1 to 64 characters without '{', '}' or glob characters"};
  }
  const auto layout = parsed->mode == redis::ClientOptions::Mode::kCluster
                          ? KeySchema::Layout::kSpread
                          : KeySchema::Layout::kOneSlot;
  auto io = redis::RedisIo::create(std::move(*parsed), options.io_threads);
  if (!io) return io.error();
  return std::unique_ptr<RedisStore>(
      new RedisStore(std::move(*io), KeySchema(std::move(prefix), layout)));
}

RedisStore::RedisStore(std::unique_ptr<redis::RedisIo> io, KeySchema schema)
    : io_(std::move(io)), schema_(std::move(schema)) {}

RedisStore::~RedisStore() = default;

// ---- records -------------------------------------------------------------------------

Task<Result<std::vector<RedisStore::Record>>> RedisStore::read_records(
    const core::TenantId& tenant, const std::vector<core::RecipientHash>& recipients) {
  std::vector<Record> records;
  std::vector<redis::RedisIo::Read> reads;
  for (const auto& recipient : recipients) {
    Record r;
    r.recipient = recipient;
    r.where = schema_.record(tenant, recipient);
    reads.push_back({r.where.key, r.where.field});
    records.push_back(std::move(r));
  }
  auto values = co_await io_->read(std::move(reads));
  if (!values) co_return redis::unavailable(values.error());
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto& r = records[i];
    r.raw = std::move((*values)[i]);
    if (!r.raw) continue;
    auto decoded = redis::decode_record(*r.raw, tenant, r.recipient);
    if (!decoded) co_return decoded.error();
    r.value = std::move(*decoded);
  }
  co_return records;
}

Result<RedisStore::Record> RedisStore::located(const core::TenantId& tenant, std::string_view entry,
                                               std::optional<std::string> value) const {
  auto index = redis::decode_index(entry);
  if (!index) return index.error();
  Record r;
  r.recipient = std::move(index->recipient);
  r.where = schema_.record(tenant, r.recipient);
  if (!names(*index, r.where)) return make_error(StoreErrc::kCorrupt);
  r.raw = std::move(value);
  if (r.raw) {
    auto decoded = redis::decode_record(*r.raw, tenant, r.recipient);
    if (!decoded) return decoded.error();
    r.value = std::move(*decoded);
  }
  return r;
}

Task<Result<std::optional<RedisStore::Record>>> RedisStore::locate(const core::TenantId& tenant,
                                                                   const core::VerificationId& id) {
  using Found = std::optional<Record>;
  // An entry and the record it names in one script, where they share a slot: in the group
  // an id names, and everywhere on one slot.
  auto follow = [&](KeySchema::Field at) -> Task<Result<std::optional<Found>>> {
    // The record shares the entry's hash tag, and its field begins with the tenant.
    // (Built before the co_await: GCC 12 destroys a braced temporary in one twice.)
    redis::RedisIo::Follow ask;
    ask.key_head = std::string(redis::key_head(at.key));
    ask.field_head = tenant.str() + '\0';
    ask.index = {std::move(at.key), std::move(at.field)};
    ask.format = redis::kIndexFormat;
    auto followed = co_await io_->follow(std::move(ask));
    if (!followed) co_return redis::unavailable(followed.error());
    if (!followed->entry) co_return std::optional<Found>();
    auto record = located(tenant, *followed->entry, std::move(followed->target));
    if (!record) co_return record.error();
    co_return std::optional<Found>(Found(std::move(*record)));
  };
  if (auto placed = schema_.group_index(tenant, id)) {
    auto found = co_await follow(std::move(*placed));
    if (!found) co_return found.error();
    if (*found) co_return std::move(**found);
    // Not there: an id that names a group other than its recipient's is in the shared index.
  }
  const auto shared = schema_.shared_index(tenant, id);
  if (schema_.layout() == KeySchema::Layout::kOneSlot) {
    auto found = co_await follow(shared);
    if (!found) co_return found.error();
    co_return found->value_or(Found());
  }
  // The shared index of a Cluster is in a slot of its own: the entry, then the record.
  std::vector<redis::RedisIo::Read> reads{{shared.key, shared.field}};
  auto values = co_await io_->read(std::move(reads));
  if (!values) co_return redis::unavailable(values.error());
  if (!values->front()) co_return Found();
  auto entry = redis::decode_index(*values->front());
  if (!entry) co_return entry.error();
  std::vector<core::RecipientHash> one{std::move(entry->recipient)};
  auto records = co_await read_records(tenant, one);
  if (!records) co_return records.error();
  if (!names(*entry, records->front().where)) co_return make_error(StoreErrc::kCorrupt);
  co_return Found(std::move(records->front()));
}

Task<Result<std::vector<RedisStore::Record>>> RedisStore::first_or_read(
    const core::TenantId& tenant, const std::vector<core::RecipientHash>& recipients,
    std::optional<Record>& first) {
  if (!first) co_return co_await read_records(tenant, recipients);
  std::vector<Record> records;
  records.push_back(std::move(*first));
  first.reset();
  co_return records;
}

void RedisStore::rewrite(CommitBatch& batch, const Record& record,
                         const RecipientRecord& next) const {
  batch.expect(record.where.key, record.where.field, record.raw);
  if (next.empty()) {
    if (record.raw) batch.del_field(record.where.key, record.where.field);
    return;
  }
  batch.set_field(record.where.key, record.where.field, redis::encode_record(next),
                  next.expires_at());
}

void RedisStore::drop_job(CommitBatch& batch, int group, const core::TenantId& tenant,
                          const core::VerificationId& id) const {
  const auto job = schema_.job(group, tenant, id);
  batch.del_field(job.key, job.field);
  batch.dequeue(schema_.queue(group), job.field);
}

// ---- check ---------------------------------------------------------------------------

Task<Result<core::CheckDecision>> RedisStore::check(CheckRequest request) {
  std::vector<core::RecipientHash> targets = request.recipients;
  std::optional<Record> first;  // by id: the record the lookup read, for the first attempt
  if (request.id) {
    auto found = co_await locate(request.tenant, *request.id);
    if (!found) co_return found.error();
    if (!*found) co_return core::CheckDecision{};
    targets = {(*found)->recipient};
    first = std::move(*found);
  }
  std::optional<core::VerificationId> matched_id;
  core::CodeMatch match = core::CodeMatch::kMalformed;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto records = co_await first_or_read(request.tenant, targets, first);
    if (!records) co_return records.error();

    // The verification: by id in its recipient's record, or the newest of the recipient
    // under any of its hashes (of equal times, the first hash's).
    std::size_t holder = 0;
    const Verification* found = nullptr;
    for (std::size_t i = 0; i < records->size(); ++i) {
      auto& value = (*records)[i].value;
      const Verification* v = request.id ? value.find(*request.id) : value.newest();
      if (v != nullptr && (found == nullptr || v->created_at > found->created_at)) {
        found = v;
        holder = i;
      }
    }
    if (found == nullptr) co_return core::CheckDecision{};
    core::CheckSnapshot snapshot;
    snapshot.verification = *found;
    for (const auto& r : *records) snapshot.failures.merge(r.value.failures_in(request.now));

    // Outside any lock: matched again only when the lookup found another verification.
    if (!matched_id || *matched_id != found->id) {
      match = request.match(*found);
      matched_id = found->id;
    }
    core::CheckDecision decision =
        core::decide_check(snapshot, match, request.failures_per_hour, request.now);
    if (!decision.write && !decision.record_failure) co_return decision;

    Record& own = (*records)[holder];
    RecipientRecord next = own.value;
    *next.find(found->id) = *decision.after;
    if (decision.record_failure) next.failures.push_back(request.now);
    next.prune(request.now);
    CommitBatch batch;
    rewrite(batch, own, next);
    // On one slot, the other hashes' records the lookup read must not have changed either.
    for (std::size_t i = 0; i < records->size(); ++i) {
      const auto& other = (*records)[i];
      if (i != holder && redis::key_slot(other.where.key) == redis::key_slot(own.where.key)) {
        batch.expect(other.where.key, other.where.field, other.raw);
      }
    }
    auto committed = co_await io_->commit(std::move(batch));
    if (!committed) co_return redis::unavailable(committed.error());
    if (committed->applied) co_return decision;
    co_await redis::pause_after_conflict(attempt);
  }
  co_return redis::unavailable();
}

// ---- get and transition --------------------------------------------------------------

Task<Result<std::optional<Verification>>> RedisStore::get(core::TenantId tenant,
                                                          core::VerificationId id) {
  auto found = co_await locate(tenant, id);
  if (!found) co_return found.error();
  if (!*found) co_return std::optional<Verification>();
  const Verification* v = (*found)->value.find(id);
  co_return v == nullptr ? std::optional<Verification>() : std::optional<Verification>(*v);
}

Task<Result<core::TransitionDecision>> RedisStore::transition(TransitionRequest request) {
  auto found = co_await locate(request.tenant, request.id);
  if (!found) co_return found.error();
  if (!*found) co_return core::TransitionDecision{};
  const std::vector<core::RecipientHash> one{(*found)->recipient};
  const int group = schema_.group_of(request.tenant, (*found)->recipient);
  std::optional<Record> first = std::move(*found);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto records = co_await first_or_read(request.tenant, one, first);
    if (!records) co_return records.error();
    Record& record = records->front();
    const Verification* v = record.value.find(request.id);
    core::TransitionDecision decision = core::decide_transition(
        request.transition, v ? std::optional<Verification>(*v) : std::nullopt, request.now);
    if (decision.verdict != core::TransitionVerdict::kDone) co_return decision;

    RecipientRecord next = record.value;
    *next.find(request.id) = *decision.after;
    next.prune(request.now);
    CommitBatch batch;
    rewrite(batch, record, next);
    if (request.transition == core::Transition::kCancel) {
      drop_job(batch, group, request.tenant, request.id);
    }
    auto committed = co_await io_->commit(std::move(batch));
    if (!committed) co_return redis::unavailable(committed.error());
    if (committed->applied) co_return decision;
    co_await redis::pause_after_conflict(attempt);
  }
  co_return redis::unavailable();
}

// ---- token buckets -------------------------------------------------------------------

Task<Result<TokenOutcome>> RedisStore::take_token(core::TokenSpec spec, TimePoint now) {
  if (!spec.active()) co_return TokenOutcome{};
  const std::string key = schema_.bucket(spec.key);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::vector<redis::RedisIo::Read> reads{{key, ""}};
    auto values = co_await io_->read(std::move(reads));
    if (!values) co_return redis::unavailable(values.error());
    const auto& raw = values->front();
    std::optional<core::BucketState> stored;
    if (raw) {
      auto decoded = redis::decode_bucket(*raw);
      if (!decoded) co_return decoded.error();
      stored = *decoded;
    }
    const core::TakeDecision decision = core::take_token(spec, stored, now);
    if (!decision.allowed) co_return TokenOutcome{false, decision.retry_after};
    CommitBatch batch;
    batch.expect(key, "", raw);
    batch.set(key, redis::encode_bucket(decision), decision.full_at);
    auto committed = co_await io_->commit(std::move(batch));
    if (!committed) co_return redis::unavailable(committed.error());
    if (committed->applied) co_return TokenOutcome{true, core::Seconds(0)};
    co_await redis::pause_after_conflict(attempt);
  }
  co_return redis::unavailable();
}

// ---- maintenance ---------------------------------------------------------------------

Task<Result<void>> RedisStore::init_schema() {
  auto problem = co_await schema_problem();
  if (!problem) co_return problem.error();
  if (*problem) co_return make_error(StoreErrc::kSchemaMissing);
  const std::string key = schema_.schema();
  std::vector<std::string> keys{key};
  std::vector<std::string> args{"SET", key, std::to_string(KeySchema::kVersion)};
  auto set = co_await io_->command(std::move(keys), std::move(args));
  if (!set) co_return redis::unavailable(set.error());
  co_return Result<void>{};
}

Task<Result<std::optional<std::string>>> RedisStore::schema_problem() {
  const std::string key = schema_.schema();
  std::vector<redis::RedisIo::Command> commands;
  commands.push_back({{key}, {"INFO", "server"}});
  commands.push_back({{key}, {"INFO", "memory"}});
  commands.push_back({{key}, {"GET", key}});
  auto replies = co_await io_->commands(std::move(commands));
  for (const auto& reply : replies) {
    if (!reply) co_return redis::unavailable(reply.error());
  }
  const std::string version = info_field(replies[0]->str(), "redis_version");
  int major = 0;
  std::from_chars(version.data(), version.data() + version.size(), major);
  if (major < kMinimumMajorVersion) {
    co_return std::optional<std::string>("the Redis server is version " +
                                         (version.empty() ? std::string("?") : version) +
                                         "; otpd needs Redis 7.0 or later");
  }
  const std::string policy = info_field(replies[1]->str(), "maxmemory_policy");
  if (!policy.empty() && policy != "noeviction") {
    co_return std::optional<std::string>(
        "the Redis server's maxmemory-policy is " + policy +
        "; otpd needs noeviction (an evicted key would forget a code, a limit or an approval)");
  }
  if (replies[2]->is_bulk()) {
    int stored = 0;
    const auto& text = replies[2]->str();
    std::from_chars(text.data(), text.data() + text.size(), stored);
    if (stored > KeySchema::kVersion) {
      co_return std::optional<std::string>("the Redis data was written by a newer otpd (layout " +
                                           text + ", this one knows " +
                                           std::to_string(KeySchema::kVersion) + ")");
    }
    // Layout 1 was never released: its index entries name a recipient, not a record.
    if (stored < KeySchema::kVersion) {
      co_return std::optional<std::string>(
          "the Redis data was written by a development build of otpd (layout " + text +
          ", this one reads " + std::to_string(KeySchema::kVersion) +
          "): delete the keys under the prefix, then run otpd store init");
    }
  }
  co_return std::optional<std::string>();
}

Task<Result<void>> RedisStore::ping() {
  auto pong = co_await io_->ping();
  if (!pong) co_return redis::unavailable(pong.error());
  co_return Result<void>{};
}

Task<Result<std::size_t>> RedisStore::sweep(TimePoint, core::Seconds) {
  // Redis expires every key itself (PEXPIREAT), and the scripts drop lapsed records of a
  // bucket hash as they write to it.
  co_return std::size_t{0};
}

}  // namespace otpd::store
