// API Gateway proxy events (payload formats 1.0 and 2.0) to api::Request and back, on
// real-shaped sample events and their edge cases.
#include "lambda/event.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/url/parse_query.hpp>

#include "core/crypto.hpp"
#include "sample_events.hpp"

namespace otpd::lambda {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::sample;
using testing::sample_text;
using testing::text;

DecodedEvent decode_ok(const std::string& event_text, const EventLimits& limits = {}) {
  auto decoded = decode_event(event_text, limits);
  EXPECT_TRUE(decoded.has_value()) << (decoded ? "" : decoded.error().message);
  return decoded ? std::move(*decoded) : DecodedEvent{};
}

std::string decode_error(const std::string& event_text) {
  auto decoded = decode_event(event_text, {});
  EXPECT_FALSE(decoded.has_value());
  return decoded ? "" : decoded.error().message;
}

std::vector<std::string> values_of(const api::Request& request, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : request.headers) {
    if (api::iequals(key, name)) values.push_back(value);
  }
  return values;
}

// The query parameter as the compat route reads it: escapes decoded, '+' kept.
std::string query_param(const std::string& target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string::npos) return "<none>";
  auto params = boost::urls::parse_query(std::string_view(target).substr(q + 1));
  boost::urls::encoding_opts literal_plus;
  literal_plus.space_as_plus = false;
  for (auto param : *params) {
    if (param.key == key) return param.value.decode(literal_plus);
  }
  return "<none>";
}

// ---- format 2.0 (HTTP API)

TEST(DecodeHttpV2, MapsTheSendEvent) {
  const DecodedEvent event = decode_ok(sample_text("http_v2_send.json"));
  EXPECT_EQ(event.format, PayloadFormat::kHttpV2);
  EXPECT_FALSE(event.refusal);
  EXPECT_EQ(event.request.method, "POST");
  EXPECT_EQ(event.request.target, "/v1/otp/send");
  EXPECT_EQ(event.request.body, "{\"to\":\"alice@example.com\"}");
  EXPECT_EQ(event.request.remote_address, "203.0.113.7");
  EXPECT_EQ(event.request.header("Authorization"), "Bearer sk_live_example");
  EXPECT_EQ(event.request.header("Content-Type"), "application/json");
  // A comma-joined header stays one field, as HTTP treats it the same.
  EXPECT_EQ(values_of(event.request, "x-custom"), std::vector<std::string>{"one,two"});
}

TEST(DecodeHttpV2, RebuildsOneCookieHeaderFromTheCookiesArray) {
  const DecodedEvent event = decode_ok(sample_text("http_v2_send.json"));
  EXPECT_EQ(values_of(event.request, "cookie"),
            std::vector<std::string>{"session=abc123; theme=dark"});

  auto shape = sample("http_v2_send.json");
  shape["headers"].as_object().erase("cookie");
  shape["cookies"] = json::array{"a=1", "b=two%20words"};
  EXPECT_EQ(values_of(decode_ok(text(shape)).request, "cookie"),
            std::vector<std::string>{"a=1; b=two%20words"});

  shape.erase("cookies");
  EXPECT_TRUE(values_of(decode_ok(text(shape)).request, "cookie").empty());
}

TEST(DecodeHttpV2, AddsExactlyOneRequestId) {
  const DecodedEvent event = decode_ok(sample_text("http_v2_send.json"));
  const auto ids = values_of(event.request, "X-Request-Id");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0].size(), 16u);

  const DecodedEvent echoed = decode_ok(sample_text("http_v2_base64_stage.json"));
  EXPECT_EQ(values_of(echoed.request, "X-Request-Id"),
            std::vector<std::string>{"client-chosen-id-42"});
}

TEST(DecodeHttpV2, KeepsTheRawQueryStringAsSent) {
  const DecodedEvent event = decode_ok(sample_text("http_v2_compat_get.json"));
  EXPECT_EQ(event.request.method, "GET");
  EXPECT_EQ(event.request.target, "/otp?email=bob+tag%40example.com&lang=de");
  // API Gateway's own rule for the compat route: '%40' decoded, '+' kept.
  EXPECT_EQ(query_param(event.request.target, "email"), "bob+tag@example.com");
  EXPECT_EQ(event.request.body, "");
}

TEST(DecodeHttpV2, DecodesBase64BodiesAndDropsANamedStage) {
  const DecodedEvent event = decode_ok(sample_text("http_v2_base64_stage.json"));
  EXPECT_EQ(event.request.target, "/v1/otp/verify");
  EXPECT_EQ(event.request.body, "{\"id\":\"v_abc\",\"code\":\"123456\"}");
  EXPECT_EQ(event.request.remote_address, "2001:db8::1");

  auto shape = sample("http_v2_base64_stage.json");
  shape["rawPath"] = "/live";
  EXPECT_EQ(decode_ok(text(shape)).request.target, "/");
  shape["rawPath"] = "/liver/x";  // a longer first segment is not the stage
  EXPECT_EQ(decode_ok(text(shape)).request.target, "/liver/x");
  shape["requestContext"].as_object()["stage"] = "$default";
  shape["rawPath"] = "/live/v1/otp/verify";
  EXPECT_EQ(decode_ok(text(shape)).request.target, "/live/v1/otp/verify");
}

TEST(DecodeHttpV2, BinaryBase64BodyKeepsEveryByte) {
  auto shape = sample("http_v2_send.json");
  const std::string bytes("\x00\xff\x10{\x80", 5);
  shape["body"] = core::base64_encode(bytes);
  shape["isBase64Encoded"] = true;
  EXPECT_EQ(decode_ok(text(shape)).request.body, bytes);
}

TEST(DecodeHttpV2, MissingBodyIsEmpty) {
  auto shape = sample("http_v2_send.json");
  shape.erase("body");
  EXPECT_EQ(decode_ok(text(shape)).request.body, "");
  shape["body"] = nullptr;
  shape["isBase64Encoded"] = true;
  EXPECT_EQ(decode_ok(text(shape)).request.body, "");
}

TEST(DecodeHttpV2, DecodedPathIsMadeSafe) {
  auto shape = sample("http_v2_send.json");
  shape["rawPath"] = "/v1/otp/a b?c";  // HTTP APIs pass the path decoded
  shape["rawQueryString"] = "x=1";
  EXPECT_EQ(decode_ok(text(shape)).request.target, "/v1/otp/a%20b%3Fc?x=1");
}

TEST(DecodeHttpV2, MalformedEventsNameTheField) {
  auto shape = sample("http_v2_send.json");
  shape["requestContext"].as_object()["http"].as_object().erase("method");
  EXPECT_THAT(decode_error(text(shape)), HasSubstr("requestContext.http.method: missing"));

  shape = sample("http_v2_send.json");
  shape["rawPath"] = 42;
  EXPECT_THAT(decode_error(text(shape)), HasSubstr("rawPath: expected a string"));

  shape = sample("http_v2_send.json");
  shape["headers"].as_object()["accept"] = json::array{"a"};
  EXPECT_THAT(decode_error(text(shape)), HasSubstr("headers.accept: expected a string"));

  shape = sample("http_v2_send.json");
  shape["headers"].as_object()["bad name"] = "x";
  EXPECT_THAT(decode_error(text(shape)), HasSubstr("not a valid header name"));

  shape = sample("http_v2_send.json");
  shape["headers"].as_object()["x-split"] = "a\r\nInjected: yes";
  EXPECT_THAT(decode_error(text(shape)), HasSubstr("CR, LF or NUL"));

  shape = sample("http_v2_send.json");
  shape["isBase64Encoded"] = true;  // the body is plain JSON, not base64
  EXPECT_THAT(decode_error(text(shape)), HasSubstr("body: isBase64Encoded is true"));

  shape = sample("http_v2_send.json");
  shape["cookies"] = "a=1";
  EXPECT_THAT(decode_error(text(shape)), HasSubstr("cookies: expected an array"));

  shape = sample("http_v2_send.json");
  shape["requestContext"].as_object()["http"].as_object()["method"] = "GE T";
  EXPECT_THAT(decode_error(text(shape)), HasSubstr("not an HTTP method"));
}

// ---- format 1.0 (REST API, or an HTTP API set to 1.0)

TEST(DecodeRestV1, MapsRepeatedHeadersFromMultiValueHeaders) {
  const DecodedEvent event = decode_ok(sample_text("rest_v1_compat_get.json"));
  EXPECT_EQ(event.format, PayloadFormat::kRestV1);
  EXPECT_EQ(event.request.method, "GET");
  EXPECT_EQ(values_of(event.request, "X-Trace"), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(event.request.remote_address, "198.51.100.20");
  EXPECT_EQ(event.request.body, "");
}

TEST(DecodeRestV1, UsesHeadersWhenMultiValueHeadersIsAbsent) {
  auto shape = sample("rest_v1_compat_get.json");
  shape.erase("multiValueHeaders");
  EXPECT_EQ(values_of(decode_ok(text(shape)).request, "X-Trace"),
            std::vector<std::string>{"second"});
}

TEST(DecodeRestV1, RebuildsTheDecodedQueryWithPercentEncoding) {
  const DecodedEvent event = decode_ok(sample_text("rest_v1_compat_get.json"));
  EXPECT_EQ(event.request.target,
            "/otp?email=bob%2Btag%40example.com&note=a%20b%26c%3Dd&tag=x&tag=y");
  // What API Gateway decoded comes back exactly: a '+' stays a '+', '&' and '=' stay data.
  EXPECT_EQ(query_param(event.request.target, "email"), "bob+tag@example.com");
  EXPECT_EQ(query_param(event.request.target, "note"), "a b&c=d");
}

TEST(DecodeRestV1, UsesQueryStringParametersWhenThatIsAllThereIs) {
  auto shape = sample("rest_v1_compat_get.json");
  shape.erase("multiValueQueryStringParameters");
  EXPECT_EQ(decode_ok(text(shape)).request.target,
            "/otp?email=bob%2Btag%40example.com&note=a%20b%26c%3Dd");
  shape["queryStringParameters"] = nullptr;
  EXPECT_EQ(decode_ok(text(shape)).request.target, "/otp");
}

TEST(DecodeRestV1, NullFieldsAreAbsent) {
  const DecodedEvent event = decode_ok(sample_text("rest_v1_compat_post.json"));
  EXPECT_EQ(event.format, PayloadFormat::kRestV1);
  EXPECT_EQ(event.request.method, "POST");
  EXPECT_EQ(event.request.target, "/otp");
  EXPECT_EQ(event.request.body, "{\"email\": \"bob@example.com\", \"otp\": 123456}");
  EXPECT_EQ(event.request.headers.size(), 1u);  // the X-Request-Id alone
  EXPECT_EQ(event.request.remote_address, "198.51.100.21");
}

TEST(DecodeRestV1, HttpApiPayloadFormat1) {
  const DecodedEvent event = decode_ok(sample_text("http_api_v1_format.json"));
  EXPECT_EQ(event.format, PayloadFormat::kRestV1);
  EXPECT_EQ(event.request.target, "/v1/otp/v_4VIUOfdtEdYWbLfKJmnM6Q");
  EXPECT_EQ(event.request.header("Authorization"), "Bearer sk_live_example");
  EXPECT_EQ(event.request.remote_address, "203.0.113.7");
}

TEST(DecodeRestV1, EncodedPathStaysEncoded) {
  auto shape = sample("rest_v1_compat_post.json");
  shape["path"] = "/user/test%2Balias@gmail.com";  // REST APIs keep the path encoded
  EXPECT_EQ(decode_ok(text(shape)).request.target, "/user/test%2Balias@gmail.com");
}

TEST(DecodeRestV1, MalformedEventsNameTheField) {
  auto shape = sample("rest_v1_compat_get.json");
  shape["multiValueQueryStringParameters"].as_object()["tag"] = "x";
  EXPECT_THAT(decode_error(text(shape)),
              HasSubstr("multiValueQueryStringParameters.tag: expected an array"));
  shape = sample("rest_v1_compat_get.json");
  shape.erase("path");
  EXPECT_THAT(decode_error(text(shape)), HasSubstr("path: missing"));
  shape = sample("rest_v1_compat_get.json");
  shape["multiValueHeaders"].as_object()["Accept"] = "*/*";
  EXPECT_THAT(decode_error(text(shape)), HasSubstr("multiValueHeaders.Accept"));
}

// ---- detection and malformed documents

TEST(DecodeEvent, RefusesWhatIsNotAProxyEvent) {
  EXPECT_THAT(decode_error("{not json"), HasSubstr("not JSON"));
  EXPECT_THAT(decode_error("[1,2]"), HasSubstr("not a JSON object"));
  EXPECT_THAT(decode_error("{}"), HasSubstr("no version and no httpMethod"));
  EXPECT_THAT(decode_error(R"({"version":"3.0","rawPath":"/"})"), HasSubstr("version: not"));
  EXPECT_THAT(decode_error(R"({"version":2})"), HasSubstr("version: expected a string"));
  EXPECT_THAT(decode_error(R"({"Records":[{"eventSource":"aws:sqs"}]})"),
              HasSubstr("not an API Gateway proxy event"));
  EXPECT_THAT(decode_error(""), HasSubstr("not JSON"));
}

// ---- the listener's limits

TEST(DecodeLimits, BodyOverTheLimitIs413) {
  auto shape = sample("http_v2_send.json");
  shape["body"] = std::string(16 * 1024, 'x');
  EXPECT_FALSE(decode_ok(text(shape)).refusal);

  shape["body"] = std::string(16 * 1024 + 1, 'x');
  const DecodedEvent event = decode_ok(text(shape));
  ASSERT_TRUE(event.refusal);
  EXPECT_EQ(event.refusal->status, 413);
  EXPECT_THAT(event.refusal->body, HasSubstr("\"code\":\"payload_too_large\""));
  EXPECT_EQ(event.refusal->header("X-Request-Id"), event.request.header("X-Request-Id"));
}

TEST(DecodeLimits, Base64BodiesCountDecoded) {
  auto shape = sample("rest_v1_compat_post.json");
  shape["body"] = core::base64_encode(std::string(16 * 1024, '\xff'));
  shape["isBase64Encoded"] = true;
  EXPECT_FALSE(decode_ok(text(shape)).refusal);
  shape["body"] = core::base64_encode(std::string(16 * 1024 + 1, '\xff'));
  EXPECT_EQ(decode_ok(text(shape)).refusal->status, 413);
}

TEST(DecodeLimits, HeadersOverTheLimitAre431) {
  auto shape = sample("http_v2_send.json");
  shape["headers"].as_object()["x-big"] = std::string(8 * 1024, 'h');
  const DecodedEvent event = decode_ok(text(shape));
  ASSERT_TRUE(event.refusal);
  EXPECT_EQ(event.refusal->status, 431);
  EXPECT_THAT(event.refusal->body, HasSubstr("\"code\":\"headers_too_large\""));

  // Headers are counted first, as the listener reads them before the body.
  shape["body"] = std::string(20 * 1024, 'x');
  EXPECT_EQ(decode_ok(text(shape)).refusal->status, 431);

  // Counted as on the wire: request line, "name: value\r\n" each, final CRLF.
  auto exact = sample("rest_v1_compat_post.json");
  const std::size_t fixed = std::string("POST /otp HTTP/1.1\r\n").size() +
                            std::string("X-Request-Id: 0123456789abcdef\r\n").size() + 2 +
                            std::string("x-pad: \r\n").size();
  exact["headers"] = json::object{{"x-pad", std::string(8 * 1024 - fixed, 'p')}};
  exact["multiValueHeaders"] = nullptr;
  EXPECT_FALSE(decode_ok(text(exact)).refusal);
  exact["headers"] = json::object{{"x-pad", std::string(8 * 1024 - fixed + 1, 'p')}};
  EXPECT_EQ(decode_ok(text(exact)).refusal->status, 431);
}

TEST(DecodeLimits, LimitsAreConfigurable) {
  EventLimits small;
  small.body_limit = 4;
  const DecodedEvent event = decode_ok(sample_text("rest_v1_compat_post.json"), small);
  ASSERT_TRUE(event.refusal);
  EXPECT_EQ(event.refusal->status, 413);
}

// ---- responses

api::Response sample_response() {
  api::Response r;
  r.status = 201;
  r.set_header("Content-Type", "application/json");
  r.set_header("Location", "/v1/otp/v_abc");
  r.headers.emplace_back("Set-Cookie", "a=1; Path=/");
  r.headers.emplace_back("Set-Cookie", "b=2; HttpOnly");
  r.headers.emplace_back("Vary", "Accept");
  r.headers.emplace_back("Vary", "Origin");
  r.body = R"({"id":"v_abc"})";
  return r;
}

TEST(EncodeResponse, HttpV2PutsSetCookieInCookies) {
  const auto doc = json::parse(encode_response(PayloadFormat::kHttpV2, sample_response()));
  EXPECT_EQ(doc.at("statusCode"), 201);
  EXPECT_EQ(doc.at("body"), R"({"id":"v_abc"})");
  EXPECT_EQ(doc.at("isBase64Encoded"), false);
  EXPECT_EQ(doc.at("cookies"), (json::array{"a=1; Path=/", "b=2; HttpOnly"}));
  const auto& headers = doc.at("headers").as_object();
  EXPECT_EQ(headers.at("Content-Type"), "application/json");
  EXPECT_EQ(headers.at("Vary"), "Accept, Origin");
  EXPECT_FALSE(headers.contains("Set-Cookie"));
  EXPECT_FALSE(doc.as_object().contains("multiValueHeaders"));
}

TEST(EncodeResponse, RestV1UsesMultiValueHeadersForRepeats) {
  const auto doc = json::parse(encode_response(PayloadFormat::kRestV1, sample_response()));
  EXPECT_EQ(doc.at("statusCode"), 201);
  const auto& headers = doc.at("headers").as_object();
  const auto& multi = doc.at("multiValueHeaders").as_object();
  EXPECT_EQ(headers.at("Location"), "/v1/otp/v_abc");
  EXPECT_FALSE(headers.contains("Set-Cookie"));
  EXPECT_FALSE(headers.contains("Vary"));
  EXPECT_EQ(multi.at("Set-Cookie"), (json::array{"a=1; Path=/", "b=2; HttpOnly"}));
  EXPECT_EQ(multi.at("Vary"), (json::array{"Accept", "Origin"}));
  EXPECT_EQ(multi.at("Location"), json::array{"/v1/otp/v_abc"});
  EXPECT_FALSE(doc.as_object().contains("cookies"));
}

TEST(EncodeResponse, BinaryBodiesAreBase64) {
  api::Response r;
  r.set_header("Content-Type", "image/png");
  r.body = std::string("\x89PNG\r\n\x1a\n\x00\xff", 10);
  for (auto format : {PayloadFormat::kHttpV2, PayloadFormat::kRestV1}) {
    const auto doc = json::parse(encode_response(format, r));
    EXPECT_EQ(doc.at("isBase64Encoded"), true);
    EXPECT_EQ(doc.at("body"), json::value(core::base64_encode(r.body)));
  }
  r.body = "plain text with ümlauts";
  EXPECT_EQ(json::parse(encode_response(PayloadFormat::kHttpV2, r)).at("isBase64Encoded"), false);
}

TEST(EncodeResponse, DropsFramingAndUnsafeHeaders) {
  api::Response r;
  r.headers = {{"Content-Length", "99"}, {"Transfer-Encoding", "chunked"},
               {"Connection", "close"},  {"X-Evil", "a\r\nInjected: 1"},
               {"bad name", "x"},        {"X-Fine", "yes"}};
  const auto doc = json::parse(encode_response(PayloadFormat::kHttpV2, r));
  EXPECT_EQ(doc.at("headers"), (json::object{{"X-Fine", "yes"}}));
}

TEST(EncodeResponse, NoBodyFor204AndNoStatusOutsideHttp) {
  api::Response r;
  r.status = 204;
  r.body = "ignored";
  EXPECT_EQ(json::parse(encode_response(PayloadFormat::kHttpV2, r)).at("body"), "");

  api::Response odd;
  odd.status = 99;
  odd.set_header("X-Request-Id", "abc");
  const auto doc = json::parse(encode_response(PayloadFormat::kRestV1, odd));
  EXPECT_EQ(doc.at("statusCode"), 500);
  EXPECT_EQ(doc.at("headers").at("X-Request-Id"), "abc");
  EXPECT_THAT(std::string(doc.at("body").as_string()), HasSubstr("\"code\":\"internal\""));
}

}  // namespace
}  // namespace otpd::lambda

namespace otpd::lambda {
namespace {

// Every prefix and many single-byte mutations of every sample decode to an event or an
// error: never a crash (run under ASan in CI), and every decoded event holds one request id.
TEST(DecodeEvent, TruncatedOrMutatedSamplesNeverCrash) {
  std::uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  for (const char* name :
       {"http_v2_send.json", "http_v2_compat_get.json", "http_v2_base64_stage.json",
        "rest_v1_compat_get.json", "rest_v1_compat_post.json", "http_api_v1_format.json"}) {
    const std::string text = testing::sample_text(name);
    std::vector<std::string> inputs;
    for (std::size_t n = 0; n < text.size(); n += 7) inputs.push_back(text.substr(0, n));
    for (int i = 0; i < 500; ++i) {
      std::string mutated = text;
      mutated[next() % mutated.size()] = static_cast<char>(next() & 0xFF);
      inputs.push_back(std::move(mutated));
    }
    for (const auto& input : inputs) {
      auto decoded = decode_event(input, {});
      if (decoded) {
        int ids = 0;
        for (const auto& [key, value] : decoded->request.headers) {
          ids += api::iequals(key, "X-Request-Id") ? 1 : 0;
        }
        EXPECT_EQ(ids, 1);
        encode_response(decoded->format, decoded->refusal.value_or(api::Response{}));
      } else {
        EXPECT_FALSE(decoded.error().message.empty());
      }
    }
  }
}

}  // namespace
}  // namespace otpd::lambda
