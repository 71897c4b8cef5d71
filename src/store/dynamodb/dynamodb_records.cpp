// The DynamoDB store's items <-> core's values.
#include "store/dynamodb/dynamodb_records.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <system_error>
#include <utility>

#include "store/record_codec.hpp"

namespace otpd::store::dynamodb {
namespace {

using core::TimePoint;

AttributeValue S(std::string text) { return AttributeValue::string(std::move(text)); }
AttributeValue N(long long n) { return AttributeValue::number(n); }

Item key_of(std::string pk, std::string sk) {
  return {{"pk", S(std::move(pk))}, {"sk", S(std::move(sk))}};
}

const std::string* string_at(const Item& item, const char* name) {
  auto it = item.find(name);
  return it == item.end() ? nullptr : it->second.if_string();
}

std::optional<long long> number_at(const Item& item, const char* name) {
  auto it = item.find(name);
  if (it == item.end()) return std::nullopt;
  auto n = it->second.if_int64();
  return n ? std::optional<long long>(*n) : std::nullopt;
}

AttributeValue times_value(const std::vector<TimePoint>& times) {
  AttributeValue::List list;
  list.reserve(times.size());
  for (TimePoint t : times) list.push_back(N(core::to_unix_ms(t)));
  return AttributeValue::list(std::move(list));
}

// A list of millisecond times; an absent attribute is an empty list.
std::optional<std::vector<TimePoint>> times_at(const Item& item, const char* name) {
  std::vector<TimePoint> out;
  auto it = item.find(name);
  if (it == item.end()) return out;
  const auto* list = it->second.if_list();
  if (list == nullptr) return std::nullopt;
  out.reserve(list->size());
  for (const auto& v : *list) {
    auto n = v.if_int64();
    if (!n) return std::nullopt;
    out.push_back(core::from_unix_ms(*n));
  }
  return out;
}

Result<core::Verification> decode_record(const std::string* text) {
  if (text == nullptr) return make_error(StoreErrc::kCorrupt);
  return decode_verification(*text);
}

std::string padded_ms(TimePoint t) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%013lld", std::max(0LL, core::to_unix_ms(t)));
  return buffer;
}

// A double as the shortest text that reads back as the same double.
std::string double_text(double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : "0";
}

}  // namespace

long long ttl_of(TimePoint t) {
  const long long ms = core::to_unix_ms(t);
  return ms <= 0 ? 0 : (ms + 999) / 1000;
}

long long hour_of(TimePoint t) { return core::to_unix_ms(t) / 3'600'000; }

// ---- keys ----------------------------------------------------------------------------

Item verification_key(const core::TenantId& tenant, const core::VerificationId& id) {
  return key_of("v#" + tenant.str() + "#" + id.str(), "v");
}

Item recipient_key(const core::TenantId& tenant, const core::RecipientHash& recipient) {
  return key_of("r#" + tenant.str() + "#" + recipient.str(), "r");
}

Item idempotency_key(const core::TenantId& tenant, const std::string& key) {
  return key_of("i#" + tenant.str() + "#" + key, "i");
}

Item bucket_key(const std::string& key) { return key_of("b#" + key, "b"); }

Item counter_key(const std::string& key, const core::CounterWindow& window) {
  return key_of(
      "c#" + std::to_string(window.start_ms) + "#" + std::to_string(window.end_ms) + "#" + key,
      "c");
}

int shard_of(const core::TenantId& tenant, const core::VerificationId& id, int shards) {
  // FNV-1a: stable across processes and builds, which std::hash is not.
  std::uint32_t h = 2166136261u;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 16777619u;
    }
  };
  mix(tenant.str());
  mix("#");
  mix(id.str());
  return static_cast<int>(h % static_cast<std::uint32_t>(shards));
}

std::string job_partition(int shard) { return "q#" + std::to_string(shard); }

Item job_key(const core::TenantId& tenant, const core::VerificationId& id) {
  return key_of(job_partition(shard_of(tenant, id, kQueueShards)), tenant.str() + "#" + id.str());
}

std::string expiry_partition(long long hour, int shard) {
  return "x#" + std::to_string(hour) + "#" + std::to_string(shard);
}

Item expiry_key(TimePoint delete_after, const core::TenantId& tenant,
                const core::VerificationId& id) {
  return key_of(expiry_partition(hour_of(delete_after), shard_of(tenant, id, kExpiryShards)),
                padded_ms(delete_after) + "#" + tenant.str() + "#" + id.str());
}

// '$' sorts after '#', so every key of that millisecond is included.
std::string expiry_sort_bound(TimePoint t) { return padded_ms(t) + "$"; }

Item ping_key() { return key_of("ping", "ping"); }

// ---- versions ------------------------------------------------------------------------

Seen seen_of(const std::optional<Item>& item) {
  if (!item) return {};
  return {true, number_at(*item, "ver").value_or(0)};
}

std::string unchanged(const Seen& seen, Item& values) {
  if (!seen.exists) return "attribute_not_exists(pk)";
  values[":seen"] = N(seen.version);
  return "ver = :seen";
}

// ---- verifications -------------------------------------------------------------------

Item verification_item(const core::Verification& v, const std::vector<TimePoint>& failures) {
  Item item = verification_key(v.tenant, v.id);
  item["rec"] = S(encode_verification(v));
  item["dlv"] = S(core::to_string(v.delivery));
  item["ver"] = N(1);
  item["fails"] = times_value(failures);
  item[std::string(kTtlAttribute)] = N(ttl_of(v.delete_after));
  return item;
}

Result<VerificationRecord> verification_of(const Item& item) {
  VerificationRecord out;
  auto v = decode_record(string_at(item, "rec"));
  if (!v) return v.error();
  out.verification = std::move(*v);
  const std::string* delivery = string_at(item, "dlv");
  auto version = number_at(item, "ver");
  auto failures = times_at(item, "fails");
  if (delivery == nullptr || !core::parse_delivery_status(*delivery, out.verification.delivery) ||
      !version || !failures) {
    return make_error(StoreErrc::kCorrupt);
  }
  out.version = *version;
  out.failures = std::move(*failures);
  return out;
}

// ---- recipient aggregates ------------------------------------------------------------

Result<RecipientRecord> recipient_of(const std::optional<Item>& item) {
  RecipientRecord out;
  out.seen = seen_of(item);
  if (!item) return out;
  auto failures = times_at(*item, "fails");
  auto sent_at = times_at(*item, "sent_at");
  auto sent_until = times_at(*item, "sent_until");
  if (!failures || !sent_at || !sent_until || sent_at->size() != sent_until->size()) {
    return make_error(StoreErrc::kCorrupt);
  }
  out.failures = std::move(*failures);
  for (std::size_t i = 0; i < sent_at->size(); ++i) {
    out.sends.push_back({(*sent_at)[i], (*sent_until)[i]});
  }
  if (const std::string* id = string_at(*item, "nid")) {
    auto newest = decode_record(string_at(*item, "nrec"));
    auto version = number_at(*item, "nver");
    if (!newest || !version || newest->id.str() != *id) return make_error(StoreErrc::kCorrupt);
    out.newest_id = *id;
    out.newest = std::move(*newest);
    out.newest_version = *version;
  }
  return out;
}

Item recipient_item(const core::TenantId& tenant, const core::RecipientHash& recipient,
                    const RecipientRecord& record) {
  Item item = recipient_key(tenant, recipient);
  item["ver"] = N(record.seen.next());
  if (record.newest) {
    item["nid"] = S(record.newest->id.str());
    item["nrec"] = S(encode_verification(*record.newest));
    item["nver"] = N(record.newest_version);
  }
  std::vector<TimePoint> at, until;
  for (const auto& s : record.sends) {
    at.push_back(s.at);
    until.push_back(s.until);
  }
  item["sent_at"] = times_value(at);
  item["sent_until"] = times_value(until);
  item["fails"] = times_value(record.failures);
  item[std::string(kTtlAttribute)] = N(ttl_of(recipient_expiry(record)));
  return item;
}

core::WindowCount count_between(const std::vector<TimePoint>& times, TimePoint from, TimePoint to) {
  core::WindowCount out;
  for (TimePoint t : times) {
    if (t > from && t <= to) out.merge({1, t});
  }
  return out;
}

core::WindowCount count_sends(const std::vector<SendRecord>& sends, core::Seconds window,
                              TimePoint now) {
  core::WindowCount out;
  for (const auto& s : sends) {
    if (s.at > now - window && s.at <= now && s.until > now) out.merge({1, s.at});
  }
  return out;
}

std::vector<TimePoint> recent_failures(std::vector<TimePoint> failures, TimePoint now,
                                       std::size_t keep) {
  std::erase_if(failures, [&](TimePoint t) { return t <= now - core::kFailureBudgetWindow; });
  std::sort(failures.begin(), failures.end());
  if (failures.size() > keep) failures.erase(failures.begin(), failures.end() - keep);
  return failures;
}

std::vector<SendRecord> recent_sends(std::vector<SendRecord> sends, core::Seconds window,
                                     TimePoint now, std::size_t keep) {
  std::erase_if(sends, [&](const SendRecord& s) { return s.at <= now - window || s.until <= now; });
  std::sort(sends.begin(), sends.end(),
            [](const SendRecord& a, const SendRecord& b) { return a.at < b.at; });
  if (sends.size() > keep) sends.erase(sends.begin(), sends.end() - keep);
  return sends;
}

TimePoint recipient_expiry(const RecipientRecord& record) {
  TimePoint out{};
  if (record.newest) out = std::max(out, record.newest->delete_after);
  for (const auto& s : record.sends) out = std::max(out, s.until);
  for (TimePoint t : record.failures) out = std::max(out, t + core::kFailureBudgetWindow);
  return out;
}

// ---- idempotency records, buckets, counters ------------------------------------------

Result<std::optional<core::IdempotencyRecord>> idempotency_of(const std::optional<Item>& item) {
  if (!item) return std::optional<core::IdempotencyRecord>();
  const std::string* hash = string_at(*item, "req_hash");
  auto keep = number_at(*item, "keep_until");
  auto first = decode_record(string_at(*item, "first_rec"));
  if (hash == nullptr || !keep || !first) return make_error(StoreErrc::kCorrupt);
  return std::optional<core::IdempotencyRecord>(
      core::IdempotencyRecord{*hash, std::move(*first), core::from_unix_ms(*keep)});
}

Item idempotency_item(const core::TenantId& tenant, const std::string& key,
                      const core::IdempotencyRecord& record, long long version) {
  Item item = idempotency_key(tenant, key);
  item["req_hash"] = S(record.request_hash);
  item["first_rec"] = S(encode_verification(record.first));
  item["keep_until"] = N(core::to_unix_ms(record.keep_until));
  item["ver"] = N(version);
  item[std::string(kTtlAttribute)] = N(ttl_of(record.keep_until));
  return item;
}

Result<std::optional<core::BucketState>> bucket_of(const std::optional<Item>& item, TimePoint now) {
  if (!item) return std::optional<core::BucketState>();
  const std::string* tokens = string_at(*item, "tok");
  auto updated = number_at(*item, "updated_at");
  auto full = number_at(*item, "full_at");
  double value = 0;
  if (tokens == nullptr || !updated || !full ||
      std::from_chars(tokens->data(), tokens->data() + tokens->size(), value).ec != std::errc()) {
    return make_error(StoreErrc::kCorrupt);
  }
  // Full again is the same as no state at all: what TTL will make of it.
  if (now >= core::from_unix_ms(*full)) return std::optional<core::BucketState>();
  return std::optional<core::BucketState>(core::BucketState{value, core::from_unix_ms(*updated)});
}

Item bucket_item(const std::string& key, const core::TakeDecision& taken, long long version) {
  Item item = bucket_key(key);
  item["tok"] = S(double_text(taken.next.tokens));
  item["updated_at"] = N(core::to_unix_ms(taken.next.updated_at));
  item["full_at"] = N(core::to_unix_ms(taken.full_at));
  item["ver"] = N(version);
  item[std::string(kTtlAttribute)] = N(ttl_of(taken.full_at));
  return item;
}

Result<long long> counter_of(const std::optional<Item>& item) {
  if (!item) return 0LL;
  auto count = number_at(*item, "cnt");
  if (!count) return make_error(StoreErrc::kCorrupt);
  return *count;
}

Item counter_item(const std::string& key, const core::CounterWindow& window, long long count,
                  long long version) {
  Item item = counter_key(key, window);
  item["cnt"] = N(count);
  item["ver"] = N(version);
  item[std::string(kTtlAttribute)] = N(ttl_of(core::from_unix_ms(window.end_ms)));
  return item;
}

// ---- delivery jobs and the expiry index ----------------------------------------------

Item job_item(const DeliveryJob& job, TimePoint due, TimePoint delete_after) {
  Item item = job_key(job.tenant, job.id);
  item["tenant"] = S(job.tenant.str());
  item["vid"] = S(job.id.str());
  item["channel"] = S(core::to_string(job.channel));
  item["sealed"] = AttributeValue::binary(job.sealed);
  item["tries"] = N(job.attempts);
  item["due"] = N(core::to_unix_ms(due));
  item["code_expires"] = N(core::to_unix_ms(job.expires_at));
  // Kept as long as its verification, past the code's expiry: take_due must still find it
  // to record the delivery as failed.
  item[std::string(kTtlAttribute)] = N(ttl_of(delete_after));
  return item;
}

Result<JobRecord> job_of(const Item& item) {
  JobRecord out;
  const std::string* tenant = string_at(item, "tenant");
  const std::string* id = string_at(item, "vid");
  const std::string* channel = string_at(item, "channel");
  auto sealed = item.find("sealed");
  auto tries = number_at(item, "tries");
  auto due = number_at(item, "due");
  auto expires = number_at(item, "code_expires");
  if (tenant == nullptr || id == nullptr || channel == nullptr || sealed == item.end() ||
      sealed->second.if_binary() == nullptr || !tries || !due || !expires ||
      !core::parse_channel(*channel, out.job.channel)) {
    return make_error(StoreErrc::kCorrupt);
  }
  out.job.tenant = core::TenantId(*tenant);
  out.job.id = core::VerificationId(*id);
  out.job.sealed = *sealed->second.if_binary();
  out.job.attempts = static_cast<int>(*tries);
  out.job.expires_at = core::from_unix_ms(*expires);
  out.due = core::from_unix_ms(*due);
  out.key = job_key(out.job.tenant, out.job.id);
  return out;
}

Item expiry_item(const core::Verification& v) {
  Item item = expiry_key(v.delete_after, v.tenant, v.id);
  item["tenant"] = S(v.tenant.str());
  item["vid"] = S(v.id.str());
  item[std::string(kTtlAttribute)] = N(ttl_of(v.delete_after));
  return item;
}

Result<std::pair<core::TenantId, core::VerificationId>> expiry_target(const Item& item) {
  const std::string* tenant = string_at(item, "tenant");
  const std::string* id = string_at(item, "vid");
  if (tenant == nullptr || id == nullptr) return make_error(StoreErrc::kCorrupt);
  return std::pair{core::TenantId(*tenant), core::VerificationId(*id)};
}

}  // namespace otpd::store::dynamodb
