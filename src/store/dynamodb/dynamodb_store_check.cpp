// DynamoDbStore::check and ::transition: read the verification (by id: one GetItem; by
// recipient: its aggregates, then the newest), decide in core, commit the verification and
// its aggregate's mirror of it together.
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

// The verification's new state: its record rewritten, its version moved on, and the failure
// (when one is recorded) added to its copy of the recipient's.
TransactWriteAction verification_change(const std::string& table, const VerificationRecord& seen,
                                        const core::Verification& after, bool failure,
                                        TimePoint now, int budget) {
  std::string update = "SET rec = :rec, ver = :next";
  Item values{{":rec", AttributeValue::string(encode_verification(after))},
              {":next", AttributeValue::number(seen.version + 1)},
              {":seen", AttributeValue::number(seen.version)}};
  if (failure) {
    std::vector<TimePoint> failures = seen.failures;
    failures.push_back(now);
    AttributeValue::List list;
    for (TimePoint t :
         recent_failures(std::move(failures), now,
                         std::max<std::size_t>(kMinKeptFailures,
                                               static_cast<std::size_t>(std::max(0, budget))))) {
      list.push_back(AttributeValue::number(core::to_unix_ms(t)));
    }
    update += ", fails = :fails";
    values[":fails"] = AttributeValue::list(std::move(list));
  }
  auto action = TransactWriteAction::update(table, verification_key(after.tenant, after.id),
                                            std::move(update), "ver = :seen");
  action.values = std::move(values);
  return action;
}

// The same change on the aggregate that mirrors the verification, on condition that it
// still does (`nid`), or that it is the very version read (`aggregate`, for a check by
// recipient, which decided on its failures).
TransactWriteAction mirror_change(const std::string& table, const VerificationRecord& seen,
                                  const core::Verification& after, bool failure, TimePoint now,
                                  const Seen* aggregate) {
  std::string update = "SET nrec = :rec, nver = :next";
  Item values{{":rec", AttributeValue::string(encode_verification(after))},
              {":next", AttributeValue::number(seen.version + 1)},
              {":one", AttributeValue::number(1)}};
  if (failure) {
    update += ", fails = list_append(if_not_exists(fails, :empty), :failure)";
    values[":empty"] = AttributeValue::list({});
    values[":failure"] = AttributeValue::list({AttributeValue::number(core::to_unix_ms(now))});
    // The failure must count for an hour; the aggregate lives at least as long as its
    // newest verification, usually longer than that.
    const TimePoint counted_until = now + core::kFailureBudgetWindow;
    if (counted_until > after.delete_after) {
      update += ", " + std::string(kTtlAttribute) + " = :ttl";
      values[":ttl"] = AttributeValue::number(ttl_of(counted_until));
    }
  }
  update += " ADD ver :one";
  std::string condition;
  if (aggregate != nullptr) {
    condition = unchanged(*aggregate, values);
  } else {
    condition = "nid = :id";
    values[":id"] = AttributeValue::string(after.id.str());
  }
  auto action = TransactWriteAction::update(table, recipient_key(after.tenant, after.recipient),
                                            std::move(update), std::move(condition));
  action.values = std::move(values);
  return action;
}

}  // namespace

Task<Result<core::CheckDecision>> DynamoDbStore::check(CheckRequest request) {
  const auto until = deadline();
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  if (request.id) co_return co_await check_by_id(db, request, until);
  co_return co_await check_by_recipient(db, request, until);
}

Task<Result<core::CheckDecision>> DynamoDbStore::check_by_id(aws::DynamoDb& db,
                                                             CheckRequest& request,
                                                             Deadline until) {
  const TimePoint now = request.now;
  for (int race = 0; race < kMaxRaces; ++race) {
    aws::GetItemRequest get{.table = table_,
                            .key = verification_key(request.tenant, *request.id),
                            .consistent_read = true,
                            .deadline = until};
    auto got = co_await db.get_item(std::move(get));
    if (!got) co_return fail("check", got.error());
    if (!*got) co_return core::CheckDecision{};
    auto record = verification_of(**got);
    if (!record) co_return record.error();
    if (now >= record->verification.delete_after) co_return core::CheckDecision{};

    core::CheckSnapshot snapshot{
        record->verification,
        count_between(record->failures, now - core::kFailureBudgetWindow, now)};
    const core::CodeMatch match = request.match(record->verification);
    core::CheckDecision decision =
        core::decide_check(snapshot, match, request.failures_per_hour, now);
    if (!decision.write) co_return decision;

    std::vector<TransactWriteAction> actions;
    actions.push_back(verification_change(table_, *record, *decision.after, decision.record_failure,
                                          now, request.failures_per_hour));
    actions.push_back(
        mirror_change(table_, *record, *decision.after, decision.record_failure, now, nullptr));
    auto committed = co_await commit(db, std::move(actions), until);
    if (committed) co_return decision;
    if (!lost_race(committed.error())) co_return fail("check", committed.error());
  }
  co_return make_error(StoreErrc::kUnavailable);
}

Task<Result<core::CheckDecision>> DynamoDbStore::check_by_recipient(aws::DynamoDb& db,
                                                                    CheckRequest& request,
                                                                    Deadline until) {
  const TimePoint now = request.now;
  std::vector<core::RecipientHash> hashes;
  for (const auto& h : request.recipients) {
    if (std::find(hashes.begin(), hashes.end(), h) == hashes.end()) hashes.push_back(h);
  }
  if (hashes.empty()) co_return core::CheckDecision{};

  for (int race = 0; race < kMaxRaces; ++race) {
    std::vector<Item> keys;
    for (const auto& h : hashes) keys.push_back(recipient_key(request.tenant, h));
    auto read = co_await this->read(db, std::move(keys), until);
    if (!read) co_return fail("check", read.error());

    std::vector<RecipientRecord> recipients;
    core::WindowCount failures;
    std::size_t newest_at = kNone;
    for (std::size_t i = 0; i < hashes.size(); ++i) {
      auto r = recipient_of((*read)[i]);
      if (!r) co_return r.error();
      failures.merge(count_between(r->failures, now - core::kFailureBudgetWindow, now));
      recipients.push_back(std::move(*r));
      const RecipientRecord& last = recipients.back();
      if (!last.newest || now >= last.newest->delete_after) continue;
      if (newest_at == kNone ||
          last.newest->created_at > recipients[newest_at].newest->created_at) {
        newest_at = i;
      }
    }
    if (newest_at == kNone) co_return core::CheckDecision{};

    // The aggregate mirrors all of the verification but its delivery status: read it for
    // that, and for a state that is exactly the one mirrored.
    const RecipientRecord& owner = recipients[newest_at];
    aws::GetItemRequest get{.table = table_,
                            .key = verification_key(request.tenant, owner.newest->id),
                            .consistent_read = true,
                            .deadline = until};
    auto got = co_await db.get_item(std::move(get));
    if (!got) co_return fail("check", got.error());
    if (!*got) co_return core::CheckDecision{};
    auto record = verification_of(**got);
    if (!record) co_return record.error();
    if (record->version != owner.newest_version) continue;  // changed between the two reads

    const core::CodeMatch match = request.match(record->verification);
    core::CheckDecision decision =
        core::decide_check({record->verification, failures}, match, request.failures_per_hour, now);
    if (!decision.write) co_return decision;

    std::vector<TransactWriteAction> actions;
    actions.push_back(verification_change(table_, *record, *decision.after, decision.record_failure,
                                          now, request.failures_per_hour));
    for (std::size_t i = 0; i < recipients.size(); ++i) {
      if (i == newest_at) {
        actions.push_back(mirror_change(table_, *record, *decision.after, decision.record_failure,
                                        now, &recipients[i].seen));
      } else {
        auto check = TransactWriteAction::condition_check(
            table_, recipient_key(request.tenant, hashes[i]), "");
        check.condition = unchanged(recipients[i].seen, check.values);
        actions.push_back(std::move(check));
      }
    }
    auto committed = co_await commit(db, std::move(actions), until);
    if (committed) co_return decision;
    if (!lost_race(committed.error())) co_return fail("check", committed.error());
  }
  co_return make_error(StoreErrc::kUnavailable);
}

Task<Result<core::TransitionDecision>> DynamoDbStore::transition(TransitionRequest request) {
  const auto until = deadline();
  const auto executor = co_await boost::asio::this_coro::executor;
  aws::DynamoDb& db = dynamodb::client_for(settings_, executor);
  for (int race = 0; race < kMaxRaces; ++race) {
    aws::GetItemRequest get{.table = table_,
                            .key = verification_key(request.tenant, request.id),
                            .consistent_read = true,
                            .deadline = until};
    auto got = co_await db.get_item(std::move(get));
    if (!got) co_return fail("transition", got.error());
    std::optional<VerificationRecord> record;
    if (*got) {
      auto decoded = verification_of(**got);
      if (!decoded) co_return decoded.error();
      if (request.now < decoded->verification.delete_after) record = std::move(*decoded);
    }
    core::TransitionDecision decision = core::decide_transition(
        request.transition,
        record ? std::optional<core::Verification>(record->verification) : std::nullopt,
        request.now);
    if (decision.verdict != core::TransitionVerdict::kDone) co_return decision;

    std::vector<TransactWriteAction> actions;
    actions.push_back(verification_change(table_, *record, *decision.after, false, request.now, 0));
    actions.push_back(mirror_change(table_, *record, *decision.after, false, request.now, nullptr));
    if (request.transition == core::Transition::kCancel) {
      actions.push_back(TransactWriteAction::remove(table_, job_key(request.tenant, request.id)));
    }
    auto committed = co_await commit(db, std::move(actions), until);
    if (committed) co_return decision;
    if (!lost_race(committed.error())) co_return fail("transition", committed.error());
  }
  co_return make_error(StoreErrc::kUnavailable);
}

}  // namespace otpd::store
