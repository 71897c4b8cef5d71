// Microbenchmarks of each SqliteStore operation on a temporary file (WAL,
// synchronous=NORMAL, as `otpd serve` opens it), pre-filled so lookups go through a
// populated index rather than an empty table. Each includes running its task to completion
// on an io_context.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/run_blocking.hpp"
#include "core/types.hpp"
#include "core/verification.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

using namespace otpd;
namespace fs = std::filesystem;

constexpr int kPrefill = 2000;
const core::TenantId kTenant("bench");

core::TimePoint now() { return std::chrono::time_point_cast<core::Millis>(core::Clock::now()); }

// Unique, fixed-width stand-ins: the store only compares these as opaque strings.
core::RecipientHash recipient(long long n) {
  char buf[65];
  std::snprintf(buf, sizeof buf, "%064llx", n);
  return core::RecipientHash(buf);
}
core::VerificationId verification_id(long long n) {
  char buf[23];
  std::snprintf(buf, sizeof buf, "id%020lld", n);
  return core::VerificationId(buf);
}
std::string hash_of(const std::string& code) {
  return std::string(64 - code.size(), '0') + code;  // hex-looking, 64 chars like an HMAC
}

store::StartRequest start_request(long long n, int max_attempts = 5) {
  store::StartRequest r;
  auto& v = r.verification;
  const auto t = now();
  v.tenant = kTenant;
  v.id = verification_id(n);
  v.recipient = recipient(n);
  v.masked_to = "u***@example.com";
  v.channel = core::ChannelKind::kConsole;
  v.code_hash = hash_of("123456");
  v.max_attempts = max_attempts;
  v.created_at = t;
  v.expires_at = t + core::Seconds(3600);
  v.delete_after = v.expires_at + core::Seconds(3600);
  v.locale = "en";
  r.history = {v.recipient};
  r.rules.max_sends_per_window = 1000;
  r.sealed_delivery = std::string(80, 'x');  // about the size of a sealed payload
  return r;
}

// A store on a fresh file in its own directory, removed afterwards. Its operations run to
// completion on one io_context, as a request's would on its I/O thread.
class BenchStore {
 public:
  BenchStore() {
    std::string pattern = (fs::temp_directory_path() / "otpd-micro-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    store_ = store::SqliteStore::open((dir_ / "otpd.db").string()).value();
    store_->init_schema_now().value();
  }
  ~BenchStore() {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  BenchStore(const BenchStore&) = delete;
  BenchStore& operator=(const BenchStore&) = delete;

  store::SqliteStore* operator->() { return store_.get(); }

  template <typename T>
  T run(Task<T> task) {
    return run_blocking(io_, std::move(task));
  }

  // Starts verifications next_ .. next_+count-1 (max_attempts as given).
  void fill(int count, int max_attempts = 5) {
    for (int i = 0; i < count; ++i) started(max_attempts);
  }
  core::Verification started(int max_attempts = 5) {
    auto out = run(store_->start(start_request(next_++, max_attempts))).value();
    if (out.decision.verdict != core::SendVerdict::kStart) throw std::runtime_error("not started");
    return out.verification;
  }
  long long next() const { return next_; }

 private:
  fs::path dir_;
  boost::asio::io_context io_;
  std::unique_ptr<store::SqliteStore> store_;
  long long next_ = 0;
};

// As the service matches a typed code: against the verification the store found.
store::CodeMatcher matcher(const std::string& code) {
  return [hash = hash_of(code)](const core::Verification& v) {
    return v.code_hash == hash ? core::CodeMatch::kRight : core::CodeMatch::kWrong;
  };
}

store::CheckRequest check_request(const core::VerificationId& id, const std::string& code) {
  store::CheckRequest c;
  c.tenant = kTenant;
  c.id = id;
  c.match = matcher(code);
  c.now = now();
  return c;
}

void BM_StoreStart(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill);
  long long n = store.next();
  for (auto _ : state) {
    auto out = store.run(store->start(start_request(n++)));
    if (!out || out->decision.verdict != core::SendVerdict::kStart) state.SkipWithError("start");
  }
}
BENCHMARK(BM_StoreStart);

void BM_StoreGet(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill);
  long long n = 0;
  for (auto _ : state) {
    auto got = store.run(store->get(kTenant, verification_id(n++ % kPrefill)));
    if (!got || !got->has_value()) state.SkipWithError("get");
  }
}
BENCHMARK(BM_StoreGet);

// The lookup of a recipient's newest verification (what find_latest was), as a check by
// recipient whose code cannot be one of its codes: the lookup and the failure count, no
// write, so every iteration takes the same path.
void BM_StoreCheckByRecipient(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill);
  long long n = 0;
  for (auto _ : state) {
    store::CheckRequest c;
    c.tenant = kTenant;
    c.recipients = {recipient(n++ % kPrefill)};
    c.match = [](const core::Verification&) { return core::CodeMatch::kMalformed; };
    c.now = now();
    auto out = store.run(store->check(std::move(c)));
    if (!out || out->verdict != core::CheckVerdict::kMalformed) state.SkipWithError("check");
  }
}
BENCHMARK(BM_StoreCheckByRecipient);

// A wrong code on a pending verification: the attempt is counted and a failure recorded.
// max_attempts is large so every check takes the same path (kInvalid), never the lock.
void BM_StoreCheckWrong(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill, 1'000'000'000);
  long long n = 0;
  for (auto _ : state) {
    auto out = store.run(store->check(check_request(verification_id(n++ % kPrefill), "000000")));
    if (!out || out->verdict != core::CheckVerdict::kInvalid) state.SkipWithError("check");
  }
}
BENCHMARK(BM_StoreCheckWrong);

// The right code: approves (single use), so each iteration needs a fresh pending one; they
// are started ahead in batches outside the timed region.
void BM_StoreCheckRight(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill);
  std::vector<core::Verification> pending;
  std::size_t next = 0;
  for (auto _ : state) {
    if (next == pending.size()) {
      state.PauseTiming();
      pending.clear();
      next = 0;
      for (int i = 0; i < 500; ++i) pending.push_back(store.started());
      state.ResumeTiming();
    }
    auto out = store.run(store->check(check_request(pending[next++].id, "123456")));
    if (!out || out->verdict != core::CheckVerdict::kApproved) state.SkipWithError("check");
  }
}
BENCHMARK(BM_StoreCheckRight);

void BM_StoreCancel(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill);
  std::vector<core::Verification> pending;
  std::size_t next = 0;
  for (auto _ : state) {
    if (next == pending.size()) {
      state.PauseTiming();
      pending.clear();
      next = 0;
      for (int i = 0; i < 500; ++i) pending.push_back(store.started());
      state.ResumeTiming();
    }
    const auto& v = pending[next++];
    auto out = store.run(store->transition(
        store::TransitionRequest{v.tenant, v.id, core::Transition::kCancel, now()}));
    if (!out || out->verdict != core::TransitionVerdict::kDone) state.SkipWithError("cancel");
  }
}
BENCHMARK(BM_StoreCancel);

// The delivery worker's round trip for one job: take it, then record it sent.
void BM_StoreTakeAndFinishDelivery(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill);  // kPrefill jobs queued
  long long started = kPrefill;
  for (auto _ : state) {
    auto jobs =
        store.run(store->take_due(store::TakeRequest{now(), 1, now() + core::Seconds(30), {}}));
    if (!jobs || jobs->empty()) {
      state.SkipWithError("no job");
      break;
    }
    const auto& job = jobs->front();
    if (!store.run(store->finish({{job.tenant, job.id, core::DeliveryStatus::kSent}}))) {
      state.SkipWithError("finish");
    }
    if (--started == 0) {
      state.PauseTiming();
      store.fill(kPrefill);
      started = kPrefill;
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_StoreTakeAndFinishDelivery);

// One token from a per-key bucket that never runs dry: a read and a write of its row.
void BM_StoreTakeToken(benchmark::State& state) {
  BenchStore store;
  const core::TokenSpec spec{"key:bench", 1e9, 1e9};
  for (auto _ : state) {
    auto out = store.run(store->take_token(spec, now()));
    if (!out || !out->allowed) state.SkipWithError("take_token");
  }
}
BENCHMARK(BM_StoreTakeToken);

void BM_StorePing(benchmark::State& state) {
  BenchStore store;
  for (auto _ : state) {
    if (!store.run(store->ping())) state.SkipWithError("ping");
  }
}
BENCHMARK(BM_StorePing);

}  // namespace
