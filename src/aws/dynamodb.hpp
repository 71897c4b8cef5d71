// The DynamoDB client a store backend is built on: DynamoDB's JSON 1.0 protocol over the
// pooled net::HttpClient, signed with SigV4, with retries of the failures worth retrying
// inside one deadline per operation.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/credentials.hpp"
#include "aws/dynamodb_error.hpp"
#include "aws/dynamodb_items.hpp"
#include "aws/dynamodb_tables.hpp"
#include "aws/dynamodb_value.hpp"
#include "core/clock.hpp"
#include "core/random.hpp"
#include "core/task.hpp"
#include "net/http_client.hpp"

namespace otpd::aws {

struct DynamoOptions {
  std::string region{};  // required: "eu-west-1"; part of the signature even with an endpoint
  // "" means https://dynamodb.<region>.amazonaws.com. Otherwise an https:// URL, or http://
  // to a loopback host only (DynamoDB Local, tests): credentials are signed, not sent, but
  // items would cross the network in clear.
  std::string endpoint{};
  // The whole of one operation, retries and back-off included: an operation still failing
  // for a retryable reason by then ends with kUnavailable. A request's own `deadline`, when
  // sooner, ends it earlier.
  std::chrono::milliseconds timeout{2000};
};

// The URL requests go to, or nullopt with `why` set when the options are not usable (no or
// malformed region, an endpoint that is not http(s), plain http to a non-loopback host).
std::optional<std::string> dynamodb_url(const DynamoOptions& options, std::string& why);

// Thread-safe: one per process, shared by every I/O thread. Each operation is a coroutine on
// the caller's executor and holds no thread while it waits. The HTTP client and the
// credential provider are shared; the clock (used for signing times only: deadlines run on
// the steady clock) must outlive the client.
//
// Every operation returns its result or a DynamoError (never throws for network or service
// failures):
//  - retried, with full-jitter exponential back-off, for as long as the deadline allows:
//    no answer (refused, reset, timed out), 5xx, 429, throttling
//    (ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded),
//    TransactionConflictException, TransactionInProgressException, and a
//    TransactionCanceledException whose reasons are only conflicts or throttling; then
//    kUnavailable, carrying the last AWS code (and reasons);
//  - ExpiredTokenException: the provider's credentials are dropped and the request signed
//    again once with fresh ones;
//  - anything else is returned at once: kConditionFailed, kTransactionCanceled,
//    kResourceNotFound, kResourceInUse, kInvalidRequest, kAccessDenied.
// A write whose answer was lost is sent again, so it may be applied twice: make writes
// conditional (a version attribute) or idempotent; TransactWriteItems carries a
// ClientRequestToken for that reason.
//
// Nothing here logs. A DynamoError never holds AWS's message text; its code(), aws_code,
// http_status, detail and reasons' codes may be logged, but its item and the reasons' items
// (present only when a request asked for them) are item contents: hashes and sealed payloads,
// never to be logged.
//
// Answers are bounded by HttpClient's response limit (4 MiB, above DynamoDB's 1 MB pages);
// their x-amz-crc32 is not checked (TLS already protects them on the way).
class DynamoDb {
 public:
  // Throws std::invalid_argument when dynamodb_url() rejects the options (a start-up error).
  DynamoDb(std::shared_ptr<net::HttpClient> client, std::shared_ptr<CredentialProvider> credentials,
           const core::TimeSource& clock, DynamoOptions options);

  const DynamoOptions& options() const { return options_; }

  // ---- items
  // The item with that key, or nullopt when there is none.
  Task<DynamoResult<std::optional<Item>>> get_item(GetItemRequest request);
  // One consistent snapshot of up to 100 items, in request order; nullopt where none exists.
  // A snapshot that a concurrent transaction keeps cancelling (TransactionConflict) is
  // retried, then kUnavailable.
  Task<DynamoResult<std::vector<std::optional<Item>>>> transact_get(std::vector<TransactGet> gets,
                                                                    Deadline deadline = {});
  // One page of at most 1 MB (and `limit` items evaluated).
  Task<DynamoResult<QueryResult>> query(QueryRequest request);
  // The result holds the attributes asked for (return_old / return_values), else nullopt.
  // A false condition is kConditionFailed, with the current item in DynamoError::item when
  // return_item_on_condition_failure was set.
  Task<DynamoResult<std::optional<Item>>> put_item(PutItemRequest request);
  Task<DynamoResult<std::optional<Item>>> update_item(UpdateItemRequest request);
  Task<DynamoResult<std::optional<Item>>> delete_item(DeleteItemRequest request);
  // Deletes every item of `keys` from `table`, unconditionally, with BatchWriteItem (25 keys a
  // request, at one write unit each where a transaction would charge two). Keys DynamoDB
  // leaves unprocessed (throttling) are sent again after a pause, until the deadline; then
  // kUnavailable. Deleting an item that is not there is no error.
  Task<DynamoResult<void>> batch_delete(std::string table, std::vector<Item> keys,
                                        Deadline deadline = {});
  // All actions or none. A false condition is kTransactionCanceled with one reason per action
  // ("ConditionalCheckFailed" where it failed, "None" elsewhere). Cancellations caused only by
  // conflicts or throttling are retried (with a new ClientRequestToken when the caller gave
  // none, since nothing was written), then kUnavailable with the last reasons.
  Task<DynamoResult<void>> transact_write(TransactWriteRequest request);

  // ---- tables
  // kResourceInUse when the table exists (or is being created or deleted).
  Task<DynamoResult<TableDescription>> create_table(CreateTableRequest request);
  // kResourceNotFound when there is no such table.
  Task<DynamoResult<TableDescription>> describe_table(std::string table);
  // Describes the table until it and its indexes are ACTIVE, pausing `poll` between asks,
  // for at most `max_wait`; then the last error (kResourceNotFound when the table never
  // showed up: right after CreateTable it may not yet), or kUnavailable.
  Task<DynamoResult<TableDescription>> wait_until_active(
      std::string table, std::chrono::milliseconds max_wait,
      std::chrono::milliseconds poll = std::chrono::milliseconds(500));
  Task<DynamoResult<void>> delete_table(std::string table);
  // status kUnsupported when the endpoint has no TTL API.
  Task<DynamoResult<TimeToLive>> describe_ttl(std::string table);
  // Turns TTL on (or off) for `attribute`. The answer is kEnabling / kDisabling (DynamoDB
  // takes up to an hour), or kUnsupported. DynamoDB refuses (kInvalidRequest) to enable TTL
  // that is already enabled: see ensure_ttl.
  Task<DynamoResult<TimeToLive>> update_ttl(std::string table, std::string attribute, bool enabled);
  // What `store init` wants: TTL on `attribute`, enabled unless it already is (or is being).
  // Returns the state found or set; when TTL is on for another attribute, that state
  // (status kEnabled or kEnabling, its attribute), unchanged: switching needs a disable
  // first, and DynamoDB then refuses another change for an hour.
  Task<DynamoResult<TimeToLive>> ensure_ttl(std::string table, std::string attribute);

 private:
  struct Call;
  // Sends one operation until it succeeds or fails for good (see the class comment); the
  // answer is the parsed JSON body. `body` is rebuilt by `prepare` before each attempt so a
  // transaction can take a new token.
  Task<DynamoResult<boost::json::value>> call(Call call);
  net::HttpRequest signed_request(const Call& call, const Credentials& credentials,
                                  std::chrono::milliseconds timeout) const;

  std::shared_ptr<net::HttpClient> client_;
  std::shared_ptr<CredentialProvider> credentials_;
  const core::TimeSource& clock_;
  DynamoOptions options_;
  std::string url_;
  core::OpenSslRandom random_;  // client request tokens
};

}  // namespace otpd::aws
