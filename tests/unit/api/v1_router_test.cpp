// The v1 API in process: every outcome table of the API reference (docs/api.md) through the real
// router, presenters and service, on a MemoryStore with a manual clock (seconds pass by decree).
#include <gtest/gtest.h>

#include "router_fixture.hpp"

namespace otpd::api::testing {
namespace {

using std::chrono::seconds;

std::string id_of(const Answer& a) { return a.field("id"); }

TEST(V1Router, SendThenVerifyApprovesOnceAndSingleUse) {
  RouterFixture f;
  Answer sent = f.send(R"({"to":"alice@example.com","metadata":{"order":"42"}})");
  ASSERT_EQ(sent.response.status, 201) << sent.response.body;
  EXPECT_EQ(*sent.response.header("Location"), "/v1/otp/" + id_of(sent));
  EXPECT_EQ(sent.field("status"), "pending");
  EXPECT_EQ(sent.field("to"), "a***@example.com");
  const std::string code = f.code_of(id_of(sent));
  ASSERT_EQ(code.size(), 6u);

  Answer ok = f.verify(R"({"id":")" + id_of(sent) + R"(","code":")" + code + R"("})");
  ASSERT_EQ(ok.response.status, 200) << ok.response.body;
  EXPECT_EQ(ok.field("status"), "approved");
  EXPECT_EQ(ok.json().as_object().at("metadata").as_object().at("order").as_string(), "42");

  Answer again = f.verify(R"({"id":")" + id_of(sent) + R"(","code":")" + code + R"("})");
  EXPECT_EQ(again.response.status, 404);
  EXPECT_EQ(again.code(), "not_found");
  EXPECT_EQ(again.field("verification_status"), "approved");
}

TEST(V1Router, WrongCodesCountDownThenLock) {
  RouterFixture f;
  const std::string id = id_of(f.send(R"({"to":"bob@example.com"})"));
  const std::string code = f.code_of(id);
  const std::string wrong = code == "000000" ? "111111" : "000000";
  for (int left = 4; left >= 1; --left) {
    Answer a = f.verify(R"({"id":")" + id + R"(","code":")" + wrong + R"("})");
    ASSERT_EQ(a.response.status, 422);
    EXPECT_EQ(a.code(), "invalid_code");
    EXPECT_EQ(a.json().as_object().at("attempts_remaining").as_int64(), left);
  }
  Answer locked = f.verify(R"({"id":")" + id + R"(","code":")" + wrong + R"("})");
  EXPECT_EQ(locked.response.status, 429);
  EXPECT_EQ(locked.code(), "max_attempts");
  Answer right = f.verify(R"({"id":")" + id + R"(","code":")" + code + R"("})");
  EXPECT_EQ(right.code(), "max_attempts");
}

TEST(V1Router, ExpiredIsGoneAndCountsNoAttempt) {
  RouterFixture f;
  const std::string id = id_of(f.send(R"({"to":"carol@example.com","ttl_seconds":30})"));
  f.advance(seconds(30));
  Answer a = f.verify(R"({"id":")" + id + R"(","code":")" + f.code_of(id) + R"("})");
  EXPECT_EQ(a.response.status, 410);
  EXPECT_EQ(a.code(), "expired");
  Answer status = f.call("GET", "/v1/otp/" + id);
  EXPECT_EQ(status.field("status"), "expired");
  EXPECT_EQ(status.json().as_object().at("attempts_remaining").as_int64(), 5);
}

TEST(V1Router, ResendCooldownDoublesAndSupersedes) {
  RouterFixture f;
  const std::string first = id_of(f.send(R"({"to":"dave@example.com"})"));
  Answer held = f.send(R"({"to":"dave@example.com"})");
  EXPECT_EQ(held.response.status, 429);
  EXPECT_EQ(held.code(), "resend_cooldown");
  EXPECT_EQ(*held.response.header("Retry-After"), "30");
  f.advance(seconds(30));
  const std::string second = id_of(f.send(R"({"to":"dave@example.com"})"));
  EXPECT_EQ(f.call("GET", "/v1/otp/" + first).field("status"), "canceled");
  Answer doubled = f.send(R"({"to":"dave@example.com"})");
  EXPECT_EQ(*doubled.response.header("Retry-After"), "60");
  Answer old = f.verify(R"({"id":")" + first + R"(","code":")" + f.code_of(first) + R"("})");
  EXPECT_EQ(old.response.status, 404);
  EXPECT_EQ(old.field("verification_status"), "canceled");
  EXPECT_EQ(f.verify(R"({"to":"dave@example.com","code":")" + f.code_of(second) + R"("})")
                .response.status,
            200);
}

TEST(V1Router, ACooldownLongerThanTheWindowIsHonouredAsConfigured) {
  RouterFixture f("resend_cooldown_seconds = 900\nsend_window_seconds = 600\n");
  f.send(R"({"to":"erin@example.com"})");
  Answer held = f.send(R"({"to":"erin@example.com"})");
  EXPECT_EQ(held.code(), "resend_cooldown");
  EXPECT_EQ(*held.response.header("Retry-After"), "900");
}

TEST(V1Router, IdempotencyReplaysTheFirstAnswerAndSendsNothing) {
  RouterFixture f;
  const std::pair<std::string, std::string> key{"Idempotency-Key", "order-7"};
  Answer first = f.send(R"({"to":"frank@example.com","locale":"de"})", {key});
  ASSERT_EQ(first.response.status, 201);
  Answer replay = f.send(R"({ "locale" : "de", "to":"frank@example.com"})", {key});
  EXPECT_EQ(replay.response.status, 201);
  EXPECT_EQ(replay.response.body, first.response.body);
  EXPECT_EQ(*replay.response.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(f.jobs().size(), 1u);
  Answer other = f.send(R"({"to":"grace@example.com"})", {key});
  EXPECT_EQ(other.response.status, 409);
  EXPECT_EQ(other.code(), "idempotency_conflict");
}

TEST(V1Router, TenantsSeeOnlyTheirOwnVerifications) {
  RouterFixture f;
  const std::string id = id_of(f.send(R"({"to":"heidi@example.com"})"));
  Answer other = f.call("GET", "/v1/otp/" + id, "", {}, kGlobexKey);
  EXPECT_EQ(other.response.status, 404);
  Answer cancel = f.call("POST", "/v1/otp/" + id + "/cancel", "", {}, kGlobexKey);
  EXPECT_EQ(cancel.response.status, 404);
  EXPECT_EQ(f.call("GET", "/v1/otp/" + id).field("status"), "pending");
}

TEST(V1Router, CancelOutcomes) {
  RouterFixture f;
  const std::string id = id_of(f.send(R"({"to":"ivan@example.com"})"));
  EXPECT_EQ(f.call("POST", "/v1/otp/" + id + "/cancel").field("status"), "canceled");
  EXPECT_EQ(f.call("POST", "/v1/otp/" + id + "/cancel").code(), "not_pending");
  const std::string approved = id_of(f.send(R"({"to":"judy@example.com"})"));
  f.verify(R"({"id":")" + approved + R"(","code":")" + f.code_of(approved) + R"("})");
  EXPECT_EQ(f.call("POST", "/v1/otp/" + approved + "/cancel").code(), "already_approved");
  EXPECT_EQ(f.call("POST", "/v1/otp/v_unknown/cancel").response.status, 404);
}

TEST(V1Router, BadInputIsA4xxAndChangesNothing) {
  RouterFixture f;
  EXPECT_EQ(f.send(R"({"to":"nobody"})").code(), "invalid_request");
  EXPECT_EQ(f.send(R"({"to":"kim@example.com","code_length":3})").code(), "invalid_request");
  EXPECT_EQ(f.send(R"({"to":"kim@example.com","ttl_seconds":"60"})").code(), "invalid_request");
  EXPECT_EQ(f.send(R"([1,2])").code(), "invalid_request");
  EXPECT_EQ(f.send(R"({"to":)").code(), "invalid_request");
  EXPECT_EQ(f.call("POST", "/v1/otp/send", "x", {{"Content-Type", "text/plain"}}).response.status,
            415);
  EXPECT_TRUE(f.jobs().empty());
  Answer several = f.send(R"({"to":"kim@example.com","code_length":99,"ttl_seconds":5})");
  EXPECT_EQ(several.json().as_object().at("errors").as_array().size(), 2u);
}

TEST(V1Router, AuthMethodsAndRoutes) {
  RouterFixture f;
  Answer anon = f.send(R"({"to":"leo@example.com"})", {}, nullptr);
  EXPECT_EQ(anon.response.status, 401);
  EXPECT_EQ(*anon.response.header("WWW-Authenticate"), "Bearer");
  Answer wrong_method = f.call("GET", "/v1/otp/send");
  EXPECT_EQ(wrong_method.response.status, 405);
  EXPECT_EQ(*wrong_method.response.header("Allow"), "POST");
  EXPECT_EQ(f.call("GET", "/nowhere").response.status, 404);
  EXPECT_EQ(f.call("GET", "/healthz", "", {}, nullptr).response.status, 200);
  EXPECT_EQ(f.call("GET", "/readyz", "", {}, nullptr).response.status, 200);
}

TEST(V1Router, EveryAnswerCarriesARequestIdEchoedWhenSane) {
  RouterFixture f;
  Answer echoed = f.call("GET", "/healthz", "", {{"X-Request-Id", "abc-123"}}, nullptr);
  EXPECT_EQ(*echoed.response.header("X-Request-Id"), "abc-123");
  Answer made = f.call("GET", "/healthz", "", {{"X-Request-Id", "has space"}}, nullptr);
  EXPECT_EQ(made.response.header("X-Request-Id")->size(), 16u);
  EXPECT_TRUE(f.send(R"({"to":"nobody"})").response.header("X-Request-Id").has_value());
}

TEST(V1Router, AKeysRequestRateIsLimited) {
  RouterFixture f("requests_per_second_per_key = 1\n");
  EXPECT_EQ(f.call("GET", "/v1/otp/v_a").response.status, 404);
  Answer limited = f.call("GET", "/v1/otp/v_a");
  EXPECT_EQ(limited.response.status, 429);
  EXPECT_EQ(limited.code(), "rate_limited");
  EXPECT_EQ(*limited.response.header("Retry-After"), "1");
  f.advance(seconds(1));
  EXPECT_EQ(f.call("GET", "/v1/otp/v_a").response.status, 404);
}

TEST(V1Router, ASpentFailureBudgetRefusesSendsUntilTheHourPasses) {
  RouterFixture f("failures_per_recipient_per_hour = 3\nresend_cooldown_seconds = 0\n");
  const std::string id = id_of(f.send(R"({"to":"mia@example.com"})"));
  const std::string wrong = f.code_of(id) == "000000" ? "111111" : "000000";
  for (int i = 0; i < 3; ++i) f.verify(R"({"id":")" + id + R"(","code":")" + wrong + R"("})");
  Answer refused = f.send(R"({"to":"mia@example.com"})");
  EXPECT_EQ(refused.response.status, 429);
  EXPECT_EQ(refused.code(), "too_many_failures");
  EXPECT_EQ(*refused.response.header("Retry-After"), "3600");
  EXPECT_EQ(f.jobs().size(), 1u);  // nothing was paid for
  f.advance(seconds(3600));
  EXPECT_EQ(f.send(R"({"to":"mia@example.com"})").response.status, 201);
}

TEST(V1Router, TheCodeGoesToTheAddressAsGivenAndLimitsCountTheMailbox) {
  RouterFixture f;
  const std::string id = id_of(f.send(R"({"to":"Nia.Mixed+news@GMail.com"})"));
  EXPECT_EQ(f.address_of(id), "Nia.Mixed+news@GMail.com");
  EXPECT_EQ(f.send(R"({"to":"niamixed@gmail.com"})").code(), "resend_cooldown");
  EXPECT_EQ(f.send(R"({"to":"n.i.a.m.i.x.e.d+x@googlemail.com"})").code(), "resend_cooldown");
}

TEST(V1Router, CompatFacadeAnswersInTheOriginalWords) {
  RouterFixture f("", "[compat]\nenabled = true\ntenant = \"acme\"\n");
  Answer sent = f.call("GET", "/otp?email=olga%2Btag@example.com", "", {}, nullptr);
  EXPECT_EQ(sent.response.status, 200);
  EXPECT_EQ(sent.response.body, "otp send successfully");
  ASSERT_EQ(f.jobs().size(), 1u);
  EXPECT_EQ(f.address_of(f.jobs()[0].id.str()), "olga+tag@example.com");
  EXPECT_EQ(f.call("GET", "/otp?email=olga%2Btag@example.com", "", {}, nullptr).response.status,
            409);
  const std::string code = f.code_of(f.jobs()[0].id.str());
  auto post = [&](const std::string& body) {
    return f.call("POST", "/otp", body, {}, nullptr).response;
  };
  EXPECT_EQ(post(R"({"email":"olga+tag@example.com"})").status, 403);
  EXPECT_EQ(post(R"({"email":"olga+tag@example.com","otp":null})").status, 403);
  EXPECT_EQ(
      post(R"({"email":"olga+tag@example.com","otp":)" + std::to_string(std::stoi(code)) + ".0}")
          .body,
      "otp verified successfully");
  EXPECT_EQ(post(R"({"email":"olga+tag@example.com","otp":")" + code + R"("})").status, 404);
  // The original's lifetime (60 s) instead of the tenant's.
  f.advance(seconds(30));
  f.call("GET", "/otp?email=pia@example.com", "", {}, nullptr);
  f.advance(seconds(60));
  const std::string pia = f.code_of(f.jobs().back().id.str());
  EXPECT_EQ(post(R"({"email":"pia@example.com","otp":")" + pia + R"("})").body, "otp expired");
  const std::string wrong = pia == "000000" ? "111111" : "000000";
  EXPECT_EQ(post(R"({"email":"pia@example.com","otp":")" + wrong + R"("})").body, "invalid otp");
}

}  // namespace
}  // namespace otpd::api::testing
