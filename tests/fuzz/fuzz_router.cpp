// libFuzzer target: a short sequence of requests (method, target, headers, body) through
// api::Router, biased towards the real routes and valid credentials so that most of them get
// past authentication, and stateful enough to reach verify, status and cancel of codes this
// input sent. Every answer is checked by the fixture; this file adds tenant isolation (another
// tenant's id is 404) and that a wrong code is never approved.
#include <fuzzer/FuzzedDataProvider.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/message.hpp"
#include "core/code.hpp"
#include "router_fixture.hpp"

namespace {

using otpd::api::Request;
using otpd::api::Response;
using otpd::fuzz::Deployment;
using otpd::fuzz::Fixture;
using otpd::fuzz::Sent;
namespace json = boost::json;

constexpr std::size_t kMaxRequests = 24;

constexpr const char* kEmails[] = {"alice@example.com", " Bob.Smith+tag@Example.ORG ",
                                   "carol@example.co.uk", "d@xn--p1ai.xn--p1ai",
                                   "eve@sub.domain.example"};
// Several +1 numbers: beta's per-prefix velocity limit counts distinct recipients.
constexpr const char* kPhones[] = {"+14155550100", "+447700900123",  "+19005550100",
                                   "+33612345678", "+4915112345678", "+3725123456",
                                   "+12025550123", "+13105550199",   "+16175550111"};
constexpr const char* kMethods[] = {"GET",     "POST",  "HEAD", "PUT", "DELETE",
                                    "OPTIONS", "PATCH", "get",  ""};
constexpr const char* kTargets[] = {
    "/v1/otp/send",    "/v1/otp/verify", "/v1/otp/",    "/v1/otp/x", "/v1/otp/x/cancel",
    "/v1/otp//cancel", "/healthz",       "/readyz",     "/metrics",  "/v1/openapi.json",
    "/_test/clock",    "/otp",           "/legacy/otp", "/",         "",
    "/v1/otp/send/",   "/V1/OTP/SEND"};
constexpr const char* kContentTypes[] = {"application/json",    "application/json; charset=utf-8",
                                         " APPLICATION/JSON\t", "text/plain",
                                         "application/jsonx",   "application/problem+json"};

const Sent* pick_sent(FuzzedDataProvider& in, Fixture& f) {
  if (f.sent().empty()) return nullptr;
  return &f.sent()[in.ConsumeIntegralInRange<std::size_t>(0, f.sent().size() - 1)];
}

std::string pick_to(FuzzedDataProvider& in, Fixture& f) {
  switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0:
      return in.PickValueInArray(kEmails);
    case 1:
      return in.PickValueInArray(kPhones);
    case 2:
      if (const Sent* s = pick_sent(in, f)) return s->to;
      return "alice@example.com";
    default:
      return in.ConsumeRandomLengthString(300);
  }
}

// "Bearer <key>" of the tenant that owns what is being asked about, or something else.
std::string pick_authorization(FuzzedDataProvider& in, Fixture& f, std::string_view tenant) {
  switch (in.ConsumeIntegralInRange(0, 15)) {
    case 0:
      return "";
    case 1:
      return "Bearer not-a-key";
    case 2:
      return "bearer   " +
             f.bearer(tenant).substr(std::min<std::size_t>(7, f.bearer(tenant).size())) + "  ";
    case 3:
      return in.ConsumeRandomLengthString(600);
    case 4:
      return f.bearer(tenant == "beta" ? "acme" : "beta");
    default:
      return f.bearer(tenant);
  }
}

json::value fuzzed_json_value(FuzzedDataProvider& in, int depth) {
  switch (in.ConsumeIntegralInRange(0, depth > 3 ? 4 : 6)) {
    case 0:
      return nullptr;
    case 1:
      return in.ConsumeBool();
    case 2:
      return in.ConsumeIntegral<std::int64_t>();
    case 3:
      return in.ConsumeFloatingPoint<double>();
    case 4:
      return json::string(in.ConsumeRandomLengthString(64));
    case 5: {
      json::array a;
      const auto n = in.ConsumeIntegralInRange(0, 4);
      for (int i = 0; i < n; ++i) a.push_back(fuzzed_json_value(in, depth + 1));
      return a;
    }
    default: {
      json::object o;
      const auto n = in.ConsumeIntegralInRange(0, 4);
      for (int i = 0; i < n; ++i)
        o[in.ConsumeRandomLengthString(16)] = fuzzed_json_value(in, depth + 1);
      return o;
    }
  }
}

json::value small_int(FuzzedDataProvider& in, std::initializer_list<long long> usual) {
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0:
      return in.ConsumeIntegral<std::int64_t>();
    case 1:
      return in.ConsumeFloatingPoint<double>();
    case 2:
      return json::string(std::to_string(*usual.begin()));
    default: {
      const auto i = in.ConsumeIntegralInRange<std::size_t>(0, usual.size() - 1);
      return *(usual.begin() + i);
    }
  }
}

std::string send_body(FuzzedDataProvider& in, Fixture& f) {
  json::object o;
  if (!in.ConsumeBool() || in.ConsumeBool()) {
    if (in.ConsumeIntegralInRange(0, 9) == 0) {
      o["to"] = fuzzed_json_value(in, 0);
    } else {
      o["to"] = pick_to(in, f);
    }
  }
  if (in.ConsumeBool()) {
    static constexpr const char* kChannels[] = {"email", "sms", "webhook", "console", "fax", ""};
    o["channel"] = in.ConsumeBool() ? json::value(in.PickValueInArray(kChannels))
                                    : json::value(in.ConsumeRandomLengthString(16));
  }
  if (in.ConsumeIntegralInRange(0, 3) == 0) {
    static constexpr const char* kLocales[] = {"de", "pt-BR", "en_GB", "", "de!", "zh-Hant-TW"};
    o["locale"] = in.ConsumeBool() ? json::value(in.PickValueInArray(kLocales))
                                   : json::value(in.ConsumeRandomLengthString(40));
  }
  if (in.ConsumeIntegralInRange(0, 3) == 0) o["code_length"] = small_int(in, {6, 4, 10, 3, 11, 8});
  if (in.ConsumeIntegralInRange(0, 3) == 0) {
    o["ttl_seconds"] = small_int(in, {300, 30, 3600, 29, 3601, 120});
  }
  if (in.ConsumeIntegralInRange(0, 3) == 0) {
    if (in.ConsumeBool()) {
      o["metadata"] = fuzzed_json_value(in, 0);
    } else {
      json::object m;
      m["order"] = in.ConsumeIntegral<std::int32_t>();
      m["note"] = std::string(in.ConsumeIntegralInRange<std::size_t>(0, 1100), 'n');
      o["metadata"] = std::move(m);
    }
  }
  if (in.ConsumeIntegralInRange(0, 7) == 0) o[in.ConsumeRandomLengthString(16)] = 1;
  return json::serialize(o);
}

// The code as a person might type it: separators, lower case, Crockford's look-alikes.
std::string typed_code(FuzzedDataProvider& in, const Sent& s) {
  std::string code = s.code;
  switch (in.ConsumeIntegralInRange(0, 4)) {
    case 0:
      if (code.size() > 3) code.insert(3, in.ConsumeBool() ? " " : "-");
      break;
    case 1:
      for (char& c : code) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      break;
    case 2:
      if (s.alnum) {
        for (char& c : code) {
          if (c == '1') c = in.ConsumeBool() ? 'I' : 'l';
          if (c == '0') c = 'o';
        }
      }
      break;
    default:
      break;
  }
  return code;
}

// The same code with one symbol replaced by another of its alphabet: never right.
std::string wrong_code(FuzzedDataProvider& in, const Sent& s) {
  const std::string_view chars =
      s.alnum ? otpd::core::kCrockfordAlphabet : otpd::core::kDigitsAlphabet;
  std::string code = s.code;
  const auto at = in.ConsumeIntegralInRange<std::size_t>(0, code.size() - 1);
  const auto old = chars.find(code[at]);
  const auto shift = in.ConsumeIntegralInRange<std::size_t>(1, chars.size() - 1);
  code[at] = chars[(old + shift) % chars.size()];
  return code;
}

void add_headers(FuzzedDataProvider& in, Request& r) {
  if (in.ConsumeIntegralInRange(0, 3) == 0) {
    r.headers.emplace_back("X-Request-Id", in.ConsumeBool() ? std::string("req-123")
                                                            : in.ConsumeRandomLengthString(140));
  }
  if (in.ConsumeIntegralInRange(0, 4) == 0) {
    static constexpr const char* kKeys[] = {"k1", "k2", ""};
    r.headers.emplace_back("Idempotency-Key", in.ConsumeBool()
                                                  ? std::string(in.PickValueInArray(kKeys))
                                                  : in.ConsumeRandomLengthString(140));
  }
  const auto extra = in.ConsumeIntegralInRange(0, 6) == 0 ? in.ConsumeIntegralInRange(1, 3) : 0;
  for (int i = 0; i < extra; ++i) {
    r.headers.emplace_back(in.ConsumeRandomLengthString(20), in.ConsumeRandomLengthString(60));
  }
}

Request raw_request(FuzzedDataProvider& in, Fixture& f) {
  Request r;
  r.remote_address = "127.0.0.1";
  r.method = in.ConsumeIntegralInRange(0, 7) == 0 ? in.ConsumeRandomLengthString(8)
                                                  : in.PickValueInArray(kMethods);
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0:
      r.target = in.ConsumeRandomLengthString(200);
      break;
    case 1:
      if (const Sent* s = pick_sent(in, f)) {
        r.target = "/v1/otp/" + s->id + (in.ConsumeBool() ? "/cancel" : "");
        break;
      }
      [[fallthrough]];
    default:
      r.target = in.PickValueInArray(kTargets);
      if (in.ConsumeBool()) r.target += in.ConsumeRandomLengthString(64);
  }
  const std::string tenant = in.ConsumeBool() ? "acme" : "beta";
  if (in.ConsumeIntegralInRange(0, 5) != 0) {
    r.headers.emplace_back("Content-Type", in.ConsumeIntegralInRange(0, 5) == 0
                                               ? in.ConsumeRandomLengthString(40)
                                               : std::string(in.PickValueInArray(kContentTypes)));
  }
  if (auto auth = pick_authorization(in, f, tenant); !auth.empty()) {
    r.headers.emplace_back("Authorization", std::move(auth));
  }
  add_headers(in, r);
  r.body = in.ConsumeBool() ? send_body(in, f) : in.ConsumeRandomLengthString(4096);
  return r;
}

void send(FuzzedDataProvider& in, Fixture& f) {
  const std::string tenant = in.ConsumeIntegralInRange(0, 2) == 0 ? "beta" : "acme";
  Request r = otpd::fuzz::json_post("/v1/otp/send", send_body(in, f), f.bearer(tenant));
  add_headers(in, r);
  f.handle(r);
}

void verify_known(FuzzedDataProvider& in, Fixture& f) {
  const Sent* s = pick_sent(in, f);
  if (!s) return;
  const bool wrong = in.ConsumeIntegralInRange(0, 2) == 0;
  const bool by_id = in.ConsumeBool();
  json::object o;
  if (by_id) {
    o["id"] = s->id;
  } else {
    o["to"] = s->to;
  }
  o["code"] = wrong ? wrong_code(in, *s) : typed_code(in, *s);
  const bool other_tenant =
      f.deployment() == Deployment::kTenants && by_id && in.ConsumeIntegralInRange(0, 4) == 0;
  const std::string tenant = other_tenant ? (s->tenant == "acme" ? "beta" : "acme") : s->tenant;
  Request r = otpd::fuzz::json_post("/v1/otp/verify", json::serialize(o), f.bearer(tenant));
  const Response response = f.handle(r);
  // By id only: by `to` the newest verification may be another one, whose code this can be.
  if (wrong && by_id && response.status == 200) {
    otpd::fuzz::violation("a wrong code was approved", r, &response);
  }
  if (other_tenant && response.status != 404 && response.status != 429) {
    otpd::fuzz::violation("another tenant's verification was visible", r, &response);
  }
}

void status_or_cancel(FuzzedDataProvider& in, Fixture& f) {
  const Sent* s = pick_sent(in, f);
  if (!s) return;
  const bool cancel = in.ConsumeBool();
  const bool other_tenant =
      f.deployment() == Deployment::kTenants && in.ConsumeIntegralInRange(0, 3) == 0;
  Request r;
  r.method = cancel ? "POST" : (in.ConsumeIntegralInRange(0, 4) == 0 ? "HEAD" : "GET");
  r.target = "/v1/otp/" + s->id + (cancel ? "/cancel" : "");
  const std::string tenant = other_tenant ? (s->tenant == "acme" ? "beta" : "acme") : s->tenant;
  if (auto auth = f.bearer(tenant); !auth.empty()) r.headers.emplace_back("Authorization", auth);
  const Response response = f.handle(r);
  if (other_tenant && response.status != 404 && response.status != 429) {
    otpd::fuzz::violation("another tenant's verification was visible", r, &response);
  }
}

std::string percent_encode_some(FuzzedDataProvider& in, const std::string& text) {
  if (in.ConsumeBool()) return text;
  std::string out;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (c == '@' || c == '+' || c == ' ' || c == '&' || c == '=' || c == '%' || c < 0x20 ||
        c >= 0x7f) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void compat(FuzzedDataProvider& in, Fixture& f) {
  if (in.ConsumeBool()) {
    Request r;
    r.method = "GET";
    std::string email = in.ConsumeIntegralInRange(0, 3) == 0 ? in.ConsumeRandomLengthString(80)
                                                             : in.PickValueInArray(kEmails);
    r.target = f.compat_path() + "?email=" + percent_encode_some(in, email);
    if (in.ConsumeIntegralInRange(0, 3) == 0) r.target += "&" + in.ConsumeRandomLengthString(40);
    f.handle(r);
    return;
  }
  json::object o;
  const Sent* s = pick_sent(in, f);
  o["email"] = s && in.ConsumeBool() ? s->to : std::string(in.PickValueInArray(kEmails));
  std::string code = s ? (in.ConsumeIntegralInRange(0, 2) == 0 ? wrong_code(in, *s) : s->code)
                       : in.ConsumeRandomLengthString(12);
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: {
      // As the original's clients sent it: a number (leading zeros lost).
      long long n = 0;
      for (char c : code)
        n = c >= '0' && c <= '9' && n < 100'000'000'000LL ? n * 10 + (c - '0') : n;
      o["otp"] = n;
      break;
    }
    case 1:
      o["otp"] = fuzzed_json_value(in, 0);
      break;
    default:
      o["otp"] = code;
  }
  f.handle(otpd::fuzz::json_post(f.compat_path(), json::serialize(o), ""));
}

// Several sends (and wrong guesses) to one recipient with the clock moving between them: the
// way to the per-recipient window, the failure budget, the daily caps and the prefix velocity.
void burst(FuzzedDataProvider& in, Fixture& f) {
  const std::string tenant = in.ConsumeIntegralInRange(0, 3) == 0 ? "acme" : "beta";
  json::object o;
  o["to"] = in.ConsumeBool() ? in.PickValueInArray(kPhones) : in.PickValueInArray(kEmails);
  if (in.ConsumeBool()) o["channel"] = in.ConsumeBool() ? "sms" : "email";
  const std::string body = json::serialize(o);
  static constexpr int kGaps[] = {0, 1, 11, 21, 41, 61, 301};
  const int gap = in.PickValueInArray(kGaps);
  const bool guess = in.ConsumeBool();
  const auto n = in.ConsumeIntegralInRange(2, 8);
  for (int i = 0; i < n; ++i) {
    f.handle(otpd::fuzz::json_post("/v1/otp/send", body, f.bearer(tenant)));
    if (guess) {
      json::object v;
      v["to"] = o["to"];
      v["code"] = tenant == "beta" ? "ZZZZZZZZ" : "999999";
      f.handle(otpd::fuzz::json_post("/v1/otp/verify", json::serialize(v), f.bearer(tenant)));
    }
    f.advance_clock(otpd::core::Seconds(gap));
  }
}

void advance(FuzzedDataProvider& in, Fixture& f) {
  static constexpr int kSteps[] = {1,   2,   9,   10,  11,  29,   30,   31,   60,   119,
                                   120, 299, 300, 301, 600, 3600, 3601, 7200, 86400};
  f.advance_clock(otpd::core::Seconds(in.ConsumeBool() ? in.PickValueInArray(kSteps)
                                                       : in.ConsumeIntegralInRange(0, 200'000)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Fixture& f = Fixture::get();
  f.reset(in.ConsumeIntegralInRange(0, 7) == 0 ? Deployment::kProtected : Deployment::kTenants);
  for (std::size_t i = 0; i < kMaxRequests && in.remaining_bytes() > 0; ++i) {
    switch (in.ConsumeIntegralInRange(0, 10)) {
      case 0:
      case 1:
        f.handle(raw_request(in, f));
        break;
      case 2:
      case 3:
        send(in, f);
        break;
      case 4:
      case 5:
        verify_known(in, f);
        break;
      case 6:
        status_or_cancel(in, f);
        break;
      case 7:
        compat(in, f);
        break;
      case 8:
        advance(in, f);
        break;
      case 9:
        burst(in, f);
        break;
      default: {
        // A verify body assembled from the fields it knows, and others.
        json::object o;
        if (in.ConsumeBool()) o["id"] = fuzzed_json_value(in, 0);
        if (in.ConsumeBool()) o["to"] = pick_to(in, f);
        if (in.ConsumeBool()) o["code"] = fuzzed_json_value(in, 0);
        if (in.ConsumeIntegralInRange(0, 5) == 0) o[in.ConsumeRandomLengthString(12)] = 0;
        const std::string tenant = in.ConsumeBool() ? "acme" : "beta";
        f.handle(otpd::fuzz::json_post("/v1/otp/verify", json::serialize(o), f.bearer(tenant)));
      }
    }
  }
  return 0;
}
