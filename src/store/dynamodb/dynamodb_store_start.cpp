// DynamoDbStore::start: one TransactGetItems (the recipient's aggregate under each hash, the
// idempotency record, the send bucket, the counters), decide_send, one TransactWriteItems.
#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <utility>

#include "store/dynamodb/dynamodb_store.hpp"
#include "store/record_codec.hpp"

namespace otpd::store {

using aws::AttributeValue;
using aws::TransactWriteAction;
using core::TimePoint;
using namespace dynamodb;

namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// The counters of a request as items: two specs with the same key and window are one item.
struct CounterItems {
  std::vector<Item> keys;
  std::vector<const core::CounterSpec*> specs;  // per key: the first spec naming it
  std::vector<core::CounterWindow> windows;     // per key
  std::vector<std::size_t> item_of;  // per CounterSpec: its index in keys, or kNone (inactive)
};

CounterItems counter_items(const std::vector<core::CounterSpec>& specs, TimePoint now) {
  CounterItems out;
  for (const auto& spec : specs) {
    if (!spec.active()) {
      out.item_of.push_back(kNone);
      continue;
    }
    const core::CounterWindow window = core::counter_window(now, spec.window);
    Item key = counter_key(spec.key, window);
    auto it = std::find(out.keys.begin(), out.keys.end(), key);
    out.item_of.push_back(static_cast<std::size_t>(it - out.keys.begin()));
    if (it == out.keys.end()) {
      out.keys.push_back(std::move(key));
      out.specs.push_back(&spec);
      out.windows.push_back(window);
    }
  }
  return out;
}

// Puts `item` if what was read of it is unchanged.
TransactWriteAction put_unchanged(const std::string& table, Item item, const Seen& seen) {
  TransactWriteAction action = TransactWriteAction::put(table, std::move(item));
  action.condition = unchanged(seen, action.values);
  return action;
}

}  // namespace

Task<Result<StartOutcome>> DynamoDbStore::start(StartRequest request) {
  const auto until = deadline();
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  const core::Verification& fresh = request.verification;
  const TimePoint now = fresh.created_at;
  const core::TenantId& tenant = fresh.tenant;
  const core::SendRules& rules = request.rules;

  // The recipient under every secret, the current one (where the new code goes) first.
  std::vector<core::RecipientHash> hashes{fresh.recipient};
  for (const auto& h : request.history) {
    if (std::find(hashes.begin(), hashes.end(), h) == hashes.end()) hashes.push_back(h);
  }
  const CounterItems counters = counter_items(request.counters, now);
  const bool rated = request.rate && request.rate->active();
  const std::size_t keep_sends = std::max<std::size_t>(
      kMinKeptSends, static_cast<std::size_t>(std::max(0, rules.max_sends_per_window)));
  const std::size_t keep_failures = std::max<std::size_t>(
      kMinKeptFailures, static_cast<std::size_t>(std::max(0, rules.failures_per_hour)));

  for (int race = 0; race < kMaxRaces; ++race) {
    std::vector<Item> keys;
    for (const auto& h : hashes) keys.push_back(recipient_key(tenant, h));
    const std::size_t claim_at = keys.size();
    if (request.idempotency) keys.push_back(idempotency_key(tenant, request.idempotency->key));
    const std::size_t bucket_at = keys.size();
    if (rated) keys.push_back(bucket_key(request.rate->key));
    const std::size_t counters_at = keys.size();
    keys.insert(keys.end(), counters.keys.begin(), counters.keys.end());

    auto read = co_await this->read(db, std::move(keys), until);
    if (!read) co_return fail("start", read.error());
    const std::vector<std::optional<Item>>& items = *read;

    core::SendSnapshot snapshot;
    std::vector<RecipientRecord> recipients;
    for (std::size_t i = 0; i < hashes.size(); ++i) {
      auto r = recipient_of(items[i]);
      if (!r) co_return r.error();
      recipients.push_back(std::move(*r));
    }
    if (request.idempotency) {
      auto record = idempotency_of(items[claim_at]);
      if (!record) co_return record.error();
      snapshot.idempotency = std::move(*record);
    }
    if (rated) {
      auto bucket = bucket_of(items[bucket_at], now);
      if (!bucket) co_return bucket.error();
      snapshot.bucket = *bucket;
    }
    // The newest under any hash: of two started in the same millisecond, the first found.
    std::size_t newest_at = kNone;
    std::vector<TimePoint> failures;
    for (std::size_t i = 0; i < recipients.size(); ++i) {
      const RecipientRecord& r = recipients[i];
      snapshot.sends.merge(count_sends(r.sends, rules.send_window, now));
      snapshot.failures.merge(count_between(r.failures, now - core::kFailureBudgetWindow, now));
      failures.insert(failures.end(), r.failures.begin(), r.failures.end());
      if (!r.newest || now >= r.newest->delete_after) continue;
      if (newest_at == kNone || r.newest->created_at > recipients[newest_at].newest->created_at) {
        newest_at = i;
      }
    }
    if (newest_at != kNone) snapshot.newest = recipients[newest_at].newest;
    std::vector<long long> counts(counters.keys.size());
    for (std::size_t i = 0; i < counts.size(); ++i) {
      auto count = counter_of(items[counters_at + i]);
      if (!count) co_return count.error();
      counts[i] = *count;
    }
    for (std::size_t slot : counters.item_of) {
      snapshot.counters.push_back(slot == kNone ? 0 : counts[slot]);
    }

    StartOutcome out;
    out.decision = core::decide_send(snapshot, rules, request.idempotency, request.rate,
                                     request.counters, now);
    if (out.decision.verdict == core::SendVerdict::kReplay) {
      out.verification = snapshot.idempotency->first;
    }
    if (out.decision.verdict != core::SendVerdict::kStart) co_return out;

    core::Verification stored = fresh;
    stored.status = core::Status::kPending;
    stored.attempts = 0;
    stored.approved_at.reset();
    stored.delivery = core::DeliveryStatus::kQueued;
    stored.resend_at = out.decision.resend_at;

    std::vector<TransactWriteAction> actions;
    // The verification, with the recipient's failures of the last hour under every hash, so
    // that a check by id needs no other item.
    actions.push_back(TransactWriteAction::put(
        table_, verification_item(stored, recent_failures(failures, now, keep_failures)),
        "attribute_not_exists(pk)"));

    if (out.decision.supersede) {
      RecipientRecord& old = recipients[newest_at];
      core::Verification canceled = *old.newest;
      canceled.status = core::Status::kCanceled;
      auto cancel = TransactWriteAction::update(table_, verification_key(tenant, canceled.id),
                                                "SET rec = :rec, ver = :next", "ver = :seen");
      cancel.values = {{":rec", AttributeValue::string(encode_verification(canceled))},
                       {":next", AttributeValue::number(old.newest_version + 1)},
                       {":seen", AttributeValue::number(old.newest_version)}};
      actions.push_back(std::move(cancel));
      actions.push_back(TransactWriteAction::remove(table_, job_key(tenant, canceled.id)));
      out.superseded = canceled.id;
      old.newest = std::move(canceled);
      old.newest_version += 1;
    }

    for (std::size_t i = 0; i < recipients.size(); ++i) {
      RecipientRecord& r = recipients[i];
      if (i == 0) {
        RecipientRecord next;
        next.seen = r.seen;
        next.newest = stored;
        next.newest_version = 1;
        next.sends = recent_sends(r.sends, rules.send_window, now, keep_sends - 1);
        next.sends.push_back({now, stored.delete_after});
        next.failures = recent_failures(r.failures, now, keep_failures);
        actions.push_back(put_unchanged(table_, recipient_item(tenant, hashes[i], next), r.seen));
      } else if (out.decision.supersede && i == newest_at) {
        RecipientRecord next = r;
        next.sends = recent_sends(r.sends, rules.send_window, now, keep_sends);
        next.failures = recent_failures(r.failures, now, keep_failures);
        actions.push_back(put_unchanged(table_, recipient_item(tenant, hashes[i], next), r.seen));
      } else {
        // Read and decided on: it must be as read when this commits.
        auto check =
            TransactWriteAction::condition_check(table_, recipient_key(tenant, hashes[i]), "");
        check.condition = unchanged(r.seen, check.values);
        actions.push_back(std::move(check));
      }
    }

    DeliveryJob job{stored.tenant,           stored.id, stored.channel,
                    request.sealed_delivery, 0,         stored.expires_at};
    actions.push_back(TransactWriteAction::put(
        table_, job_item(job, request.delivery_leased_until.value_or(now), stored.delete_after)));
    actions.push_back(TransactWriteAction::put(table_, expiry_item(stored)));
    if (request.idempotency) {
      const Seen seen = seen_of(items[claim_at]);
      core::IdempotencyRecord record{request.idempotency->request_hash, stored,
                                     request.idempotency->keep_until};
      actions.push_back(put_unchanged(
          table_, idempotency_item(tenant, request.idempotency->key, record, seen.next()), seen));
    }
    if (out.decision.token) {
      const Seen seen = seen_of(items[bucket_at]);
      actions.push_back(put_unchanged(
          table_, bucket_item(request.rate->key, *out.decision.token, seen.next()), seen));
    }
    std::vector<long long> added(counters.keys.size(), 0);
    for (std::size_t i : out.decision.counted) {
      if (counters.item_of[i] != kNone) ++added[counters.item_of[i]];
    }
    for (std::size_t slot = 0; slot < added.size(); ++slot) {
      if (added[slot] == 0) continue;
      const Seen seen = seen_of(items[counters_at + slot]);
      actions.push_back(
          put_unchanged(table_,
                        counter_item(counters.specs[slot]->key, counters.windows[slot],
                                     counts[slot] + added[slot], seen.next()),
                        seen));
    }

    auto committed = co_await commit(db, std::move(actions), until);
    if (committed) {
      out.verification = std::move(stored);
      co_return out;
    }
    if (!lost_race(committed.error())) co_return fail("start", committed.error());
  }
  co_return make_error(StoreErrc::kUnavailable);
}

}  // namespace otpd::store
