// libFuzzer target: the input, byte for byte, as the JSON body of POST /v1/otp/verify and
// /v1/otp/send (each tenant), of the compatibility facade's POST and of POST /_test/clock. Two
// verifications exist first, with the same ids and codes on every run (deterministic random
// source), so seeds and the dictionary can name them (OTPD_FUZZ_TRACE=1 shows them;
// tests/fuzz/README.md lists them). Beyond the fixture's checks, an Idempotency-Key replay must
// give back the first 201 byte for byte, also when the body differs only in whitespace (the same
// JSON value).
#include <cstddef>
#include <cstdint>
#include <string>

#include "router_fixture.hpp"

namespace {

using otpd::api::Request;
using otpd::api::Response;
using otpd::fuzz::Deployment;
using otpd::fuzz::Fixture;
using otpd::fuzz::json_post;

void check_replay(const Request& request, const Response& first, const Response& again) {
  if (first.status != 201) return;
  const auto replayed = again.header("Idempotent-Replayed");
  if (again.status != 201 || again.body != first.body || !replayed || *replayed != "true" ||
      again.header("Location") != first.header("Location")) {
    otpd::fuzz::violation("an Idempotency-Key replay differs from the first answer", request,
                          &again);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = Fixture::get();
  f.reset(Deployment::kTenants);
  f.handle(json_post("/v1/otp/send", R"({"to":"alice@example.com"})", f.bearer("acme")));
  f.handle(json_post("/v1/otp/send", R"({"to":"+14155550100","channel":"sms"})", f.bearer("beta")));
  const std::string body(reinterpret_cast<const char*>(data), size);
  f.handle(json_post("/v1/otp/verify", body, f.bearer("acme")));
  f.handle(json_post("/v1/otp/verify", body, f.bearer("beta")));

  Request send = json_post("/v1/otp/send", body, f.bearer("acme"));
  send.headers.emplace_back("Idempotency-Key", "fuzz-key-1");
  const Response first = f.handle(send);
  check_replay(send, first, f.handle(send));
  Request spaced = send;
  spaced.body = " \n" + body + "\t ";
  check_replay(spaced, first, f.handle(spaced));

  f.handle(json_post("/v1/otp/send", body, f.bearer("beta")));
  f.handle(json_post(f.compat_path(), body, ""));
  // serve --unsafe-test-clock's route reads a JSON body too.
  f.handle(json_post("/_test/clock", body, ""));
  return 0;
}
