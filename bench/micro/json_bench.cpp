// Microbenchmarks of the JSON work on a send: parsing the body, its canonical form (the
// Idempotency-Key hash input) and serialising a response.
#include <benchmark/benchmark.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "api/json_input.hpp"

namespace {

constexpr const char* kSendBody =
    R"({"to":"alice@example.com","channel":"console","locale":"en","code_length":6,)"
    R"("ttl_seconds":300,"metadata":{"order":"A-1042","session":"s-77f1","flags":[1,2,3]}})";

constexpr const char* kSendResponse =
    R"({"id":"Xfo9H8zdFEfc2XHFqAG-qg","to":"a***@example.com","channel":"console",)"
    R"("status":"pending","created_at":"2026-11-26T06:23:22Z","expires_at":"2026-11-26T06:28:22Z",)"
    R"("resend_at":"2026-11-26T06:23:52Z","attempts_remaining":5,"delivery":{"status":"queued"}})";

void BM_JsonParseSendBody(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(boost::json::parse(kSendBody));
}
BENCHMARK(BM_JsonParseSendBody);

void BM_CanonicalJsonSendBody(benchmark::State& state) {
  const boost::json::value body = boost::json::parse(kSendBody);
  for (auto _ : state) benchmark::DoNotOptimize(otpd::api::canonical_json(body));
}
BENCHMARK(BM_CanonicalJsonSendBody);

void BM_JsonSerializeSendBody(benchmark::State& state) {
  const boost::json::value body = boost::json::parse(kSendBody);
  for (auto _ : state) benchmark::DoNotOptimize(boost::json::serialize(body));
}
BENCHMARK(BM_JsonSerializeSendBody);

// Building the 201 answer of a send as the handler does: an object, then serialise.
void BM_JsonBuildSendResponse(benchmark::State& state) {
  for (auto _ : state) {
    boost::json::object o;
    o["id"] = "Xfo9H8zdFEfc2XHFqAG-qg";
    o["to"] = "a***@example.com";
    o["channel"] = "console";
    o["status"] = "pending";
    o["created_at"] = "2026-11-26T06:23:22Z";
    o["expires_at"] = "2026-11-26T06:28:22Z";
    o["resend_at"] = "2026-11-26T06:23:52Z";
    o["attempts_remaining"] = 5;
    o["delivery"] = boost::json::object{{"status", "queued"}};
    benchmark::DoNotOptimize(boost::json::serialize(o));
  }
}
BENCHMARK(BM_JsonBuildSendResponse);

void BM_JsonParseSendResponse(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(boost::json::parse(kSendResponse));
}
BENCHMARK(BM_JsonParseSendResponse);

}  // namespace
