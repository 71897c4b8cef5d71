// DynamoDb: one signed JSON 1.0 request per attempt, retried within the operation's deadline.
#include "aws/dynamodb.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <utility>

#include "aws/error.hpp"
#include "aws/sigv4.hpp"
#include "core/crypto.hpp"
#include "net/url_text.hpp"

namespace otpd::aws {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kService = "dynamodb";
constexpr std::string_view kTargetPrefix = "DynamoDB_20120810.";
constexpr std::string_view kContentType = "application/x-amz-json-1.0";
// Back-off before retry n is uniform in [0, min(kMaxBackoff, kBaseBackoff * 2^n)] ("full
// jitter"): instances that failed together do not retry together.
constexpr milliseconds kBaseBackoff{25};
constexpr milliseconds kMaxBackoff{500};
// Less time than this left is not worth another request.
constexpr milliseconds kMinAttempt{10};

bool loopback_host(const boost::urls::url_view& u) {
  switch (u.host_type()) {
    case boost::urls::host_type::name:
      return u.host_name() == "localhost";
    case boost::urls::host_type::ipv4:
      return u.host_address().starts_with("127.");
    case boost::urls::host_type::ipv6:
      return u.host_address() == "::1";
    default:
      return false;
  }
}

bool valid_region(std::string_view region) {
  return !region.empty() && region.size() <= 32 &&
         std::all_of(region.begin(), region.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

std::string token(core::RandomSource& random) {
  return core::hex_encode(core::random_bytes(random, 16));
}

// {"TableName": table}. Built outside the coroutines: GCC 12 cannot keep the initializer list's
// string literals in a coroutine frame ("array used as initializer").
std::string table_body(const std::string& table) {
  return json::serialize(json::object{{"TableName", table}});
}

Task<void> pause(milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(duration);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

DynamoError error_with(DynamoErrc errc, std::string detail) {
  DynamoError e;
  e.errc = errc;
  e.detail = std::move(detail);
  return e;
}

}  // namespace

std::optional<std::string> dynamodb_url(const DynamoOptions& options, std::string& why) {
  if (!valid_region(options.region)) {
    why = "a region (lower-case letters, digits and '-') is required";
    return std::nullopt;
  }
  if (options.endpoint.empty()) return "https://dynamodb." + options.region + ".amazonaws.com/";
  const auto parsed = boost::urls::parse_uri(options.endpoint);
  if (!parsed || parsed->has_query() || parsed->has_fragment() || parsed->has_userinfo() ||
      parsed->host().empty()) {
    why = "the endpoint must be a URL: http(s)://host[:port]";
    return std::nullopt;
  }
  const auto scheme = parsed->scheme_id();
  if (scheme != boost::urls::scheme::https && scheme != boost::urls::scheme::http) {
    why = "the endpoint must be an http:// or https:// URL";
    return std::nullopt;
  }
  if (scheme == boost::urls::scheme::http && !loopback_host(*parsed)) {
    why = "a plain http:// endpoint must be a loopback address (localhost, 127.x.x.x, [::1])";
    return std::nullopt;
  }
  return net::without_trailing_slash(options.endpoint) + "/";
}

struct DynamoDb::Call {
  Call(std::string_view op, std::string request_body)
      : operation(op), body(std::move(request_body)) {}

  std::string_view operation;  // "GetItem"
  std::string body;
  // Retry a TransactionCanceledException caused only by conflicts or throttling.
  bool retry_cancellations = false;
  // When set, the body to send after such a cancellation (a transaction with a new token).
  std::function<std::string()> fresh_body;
  Deadline deadline;  // the caller's, when sooner than options_.timeout from now
};

DynamoDb::DynamoDb(std::shared_ptr<net::HttpClient> client,
                   std::shared_ptr<CredentialProvider> credentials, const core::TimeSource& clock,
                   DynamoOptions options)
    : client_(std::move(client)),
      credentials_(std::move(credentials)),
      clock_(clock),
      options_(std::move(options)) {
  std::string why;
  auto url = dynamodb_url(options_, why);
  if (!url) throw std::invalid_argument("dynamodb: " + why);
  url_ = std::move(*url);
}

net::HttpRequest DynamoDb::signed_request(const Call& call, const Credentials& credentials,
                                          milliseconds timeout) const {
  net::HttpRequest request;
  request.method = "POST";
  request.url = url_;
  request.headers.emplace_back("Content-Type", kContentType);
  request.headers.emplace_back("X-Amz-Target",
                               std::string(kTargetPrefix) + std::string(call.operation));
  request.body = call.body;
  request.timeout = timeout;
  sign_sigv4(request, credentials, options_.region, kService, clock_.now());
  return request;
}

Task<DynamoResult<json::value>> DynamoDb::call(Call call) {
  const auto deadline =
      std::min(Steady::now() + options_.timeout, call.deadline.value_or(Steady::time_point::max()));
  DynamoError last = error_with(DynamoErrc::kUnavailable, "timeout");
  bool fresh_credentials = false;
  int attempts = 0;
  for (int retry = 0;; ++retry) {
    const auto credentials = co_await credentials_->get();
    if (!credentials) {
      auto e = error_with(DynamoErrc::kAccessDenied, "no AWS credentials");
      e.attempts = attempts;
      co_return e;
    }
    const auto remaining = std::chrono::ceil<milliseconds>(deadline - Steady::now());
    if (remaining < kMinAttempt) break;

    const net::HttpResponse response =
        co_await client_->send(signed_request(call, *credentials, remaining));
    ++attempts;

    if (response.status >= 200 && response.status < 300) {
      boost::system::error_code ec;
      auto answer = json::parse(response.body, ec);
      if (ec) {
        DynamoError e;
        e.errc = DynamoErrc::kBadResponse;
        e.http_status = response.status;
        e.attempts = attempts;
        co_return e;
      }
      co_return answer;
    }

    DynamoError error = dynamodb_detail::error_of(response);
    error.attempts = attempts;
    if (is_expired_credentials_error(error.aws_code) && !fresh_credentials) {
      credentials_->invalidate();
      fresh_credentials = true;
      continue;
    }
    const bool transient_cancel = error.errc == DynamoErrc::kTransactionCanceled &&
                                  call.retry_cancellations &&
                                  dynamodb_detail::only_transient_reasons(error.reasons);
    if (error.errc != DynamoErrc::kUnavailable && !transient_cancel) co_return error;
    last = std::move(error);
    if (transient_cancel && call.fresh_body) call.body = call.fresh_body();

    const auto ceiling = std::min<milliseconds>(
        kMaxBackoff, kBaseBackoff * (std::int64_t{1} << std::min(retry, 10)));
    std::uint32_t draw = 0;
    random_.fill({reinterpret_cast<std::uint8_t*>(&draw), sizeof draw});
    const milliseconds backoff{static_cast<std::int64_t>(draw % (ceiling.count() + 1))};
    if (Steady::now() + backoff + kMinAttempt >= deadline) break;
    co_await pause(backoff);
  }
  last.errc = DynamoErrc::kUnavailable;
  last.attempts = attempts;
  co_return last;
}

Task<DynamoResult<std::optional<Item>>> DynamoDb::get_item(GetItemRequest request) {
  Call c{"GetItem", json::serialize(dynamodb_detail::body_of(request))};
  c.deadline = request.deadline;
  auto answer = co_await call(std::move(c));
  if (!answer) co_return answer.error();
  co_return dynamodb_detail::parse_get_item(*answer);
}

Task<DynamoResult<std::vector<std::optional<Item>>>> DynamoDb::transact_get(
    std::vector<TransactGet> gets, Deadline deadline) {
  Call c{"TransactGetItems", json::serialize(dynamodb_detail::body_of(gets))};
  c.retry_cancellations = true;
  c.deadline = deadline;
  auto answer = co_await call(std::move(c));
  if (!answer) co_return answer.error();
  co_return dynamodb_detail::parse_transact_get(*answer, gets.size());
}

Task<DynamoResult<QueryResult>> DynamoDb::query(QueryRequest request) {
  Call c{"Query", json::serialize(dynamodb_detail::body_of(request))};
  c.deadline = request.deadline;
  auto answer = co_await call(std::move(c));
  if (!answer) co_return answer.error();
  co_return dynamodb_detail::parse_query(*answer);
}

Task<DynamoResult<std::optional<Item>>> DynamoDb::put_item(PutItemRequest request) {
  Call c{"PutItem", json::serialize(dynamodb_detail::body_of(request))};
  c.deadline = request.deadline;
  auto answer = co_await call(std::move(c));
  if (!answer) co_return answer.error();
  co_return dynamodb_detail::parse_attributes(*answer);
}

Task<DynamoResult<std::optional<Item>>> DynamoDb::update_item(UpdateItemRequest request) {
  Call c{"UpdateItem", json::serialize(dynamodb_detail::body_of(request))};
  c.deadline = request.deadline;
  auto answer = co_await call(std::move(c));
  if (!answer) co_return answer.error();
  co_return dynamodb_detail::parse_attributes(*answer);
}

Task<DynamoResult<std::optional<Item>>> DynamoDb::delete_item(DeleteItemRequest request) {
  Call c{"DeleteItem", json::serialize(dynamodb_detail::body_of(request))};
  c.deadline = request.deadline;
  auto answer = co_await call(std::move(c));
  if (!answer) co_return answer.error();
  co_return dynamodb_detail::parse_attributes(*answer);
}

Task<DynamoResult<void>> DynamoDb::batch_delete(std::string table, std::vector<Item> keys,
                                                Deadline deadline) {
  const auto until =
      std::min(Steady::now() + options_.timeout, deadline.value_or(Steady::time_point::max()));
  constexpr std::size_t kPerRequest = 25;
  for (std::size_t first = 0; first < keys.size(); first += kPerRequest) {
    std::vector<Item> pending(
        keys.begin() + static_cast<std::ptrdiff_t>(first),
        keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), first + kPerRequest)));
    for (int retry = 0; !pending.empty(); ++retry) {
      Call c{"BatchWriteItem", json::serialize(dynamodb_detail::batch_delete_body(table, pending))};
      c.deadline = until;
      auto answer = co_await call(std::move(c));
      if (!answer) co_return answer.error();
      auto unprocessed = dynamodb_detail::parse_unprocessed_deletes(*answer, table);
      if (!unprocessed) co_return unprocessed.error();
      pending = std::move(*unprocessed);
      if (pending.empty()) break;
      // Unprocessed keys mean throttling: back off as for any other, within the deadline.
      const auto ceiling = std::min<milliseconds>(
          kMaxBackoff, kBaseBackoff * (std::int64_t{1} << std::min(retry, 10)));
      std::uint32_t draw = 0;
      random_.fill({reinterpret_cast<std::uint8_t*>(&draw), sizeof draw});
      const milliseconds backoff{static_cast<std::int64_t>(draw % (ceiling.count() + 1))};
      if (Steady::now() + backoff + kMinAttempt >= until) {
        co_return error_with(DynamoErrc::kUnavailable, "unprocessed items until the deadline");
      }
      co_await pause(backoff);
    }
  }
  co_return DynamoResult<void>{};
}

Task<DynamoResult<void>> DynamoDb::transact_write(TransactWriteRequest request) {
  Call c{"TransactWriteItems", {}};
  c.deadline = request.deadline;
  if (request.client_request_token.empty()) {
    // Ours to choose: the same token while an answer may have been lost, a new one once a
    // cancellation says nothing was written.
    auto shared = std::make_shared<TransactWriteRequest>(std::move(request));
    shared->client_request_token = token(random_);
    c.body = json::serialize(dynamodb_detail::body_of(*shared));
    c.retry_cancellations = true;
    c.fresh_body = [this, shared] {
      shared->client_request_token = token(random_);
      return json::serialize(dynamodb_detail::body_of(*shared));
    };
  } else {
    c.body = json::serialize(dynamodb_detail::body_of(request));
  }
  auto answer = co_await call(std::move(c));
  if (!answer) co_return answer.error();
  co_return DynamoResult<void>{};
}

Task<DynamoResult<TableDescription>> DynamoDb::create_table(CreateTableRequest request) {
  auto answer = co_await call({"CreateTable", json::serialize(dynamodb_detail::body_of(request))});
  if (!answer) co_return answer.error();
  co_return dynamodb_detail::parse_table(*answer, "TableDescription");
}

Task<DynamoResult<TableDescription>> DynamoDb::describe_table(std::string table) {
  auto answer = co_await call({"DescribeTable", table_body(table)});
  if (!answer) co_return answer.error();
  co_return dynamodb_detail::parse_table(*answer, "Table");
}

Task<DynamoResult<TableDescription>> DynamoDb::wait_until_active(std::string table,
                                                                 milliseconds max_wait,
                                                                 milliseconds poll) {
  const auto deadline = Steady::now() + max_wait;
  for (;;) {
    auto description = co_await describe_table(table);
    if (description && description->active()) co_return description;
    // Right after CreateTable, DescribeTable may not know the table yet.
    if (!description && description.error().errc != DynamoErrc::kResourceNotFound &&
        description.error().errc != DynamoErrc::kUnavailable) {
      co_return description;
    }
    if (Steady::now() + poll >= deadline) {
      if (!description) co_return description;
      co_return error_with(DynamoErrc::kUnavailable, "table not active in time");
    }
    co_await pause(poll);
  }
}

Task<DynamoResult<void>> DynamoDb::delete_table(std::string table) {
  auto answer = co_await call({"DeleteTable", table_body(table)});
  if (!answer) co_return answer.error();
  co_return DynamoResult<void>{};
}

Task<DynamoResult<TimeToLive>> DynamoDb::describe_ttl(std::string table) {
  auto answer = co_await call({"DescribeTimeToLive", table_body(table)});
  if (!answer) {
    if (dynamodb_detail::is_unknown_operation(answer.error())) {
      co_return TimeToLive{TimeToLive::Status::kUnsupported, ""};
    }
    co_return answer.error();
  }
  co_return dynamodb_detail::parse_describe_ttl(*answer);
}

Task<DynamoResult<TimeToLive>> DynamoDb::update_ttl(std::string table, std::string attribute,
                                                    bool enabled) {
  auto answer =
      co_await call({"UpdateTimeToLive",
                     json::serialize(dynamodb_detail::update_ttl_body(table, attribute, enabled))});
  if (!answer) {
    if (dynamodb_detail::is_unknown_operation(answer.error())) {
      co_return TimeToLive{TimeToLive::Status::kUnsupported, ""};
    }
    co_return answer.error();
  }
  co_return dynamodb_detail::parse_update_ttl(*answer);
}

Task<DynamoResult<TimeToLive>> DynamoDb::ensure_ttl(std::string table, std::string attribute) {
  auto current = co_await describe_ttl(table);
  if (!current || current->status != TimeToLive::Status::kDisabled) co_return current;
  co_return co_await update_ttl(std::move(table), std::move(attribute), true);
}

}  // namespace otpd::aws
