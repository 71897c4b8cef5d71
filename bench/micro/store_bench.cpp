// Microbenchmarks of each SqliteStore operation on a temporary file (WAL,
// synchronous=NORMAL, as `otpd serve` opens it), pre-filled so lookups go through a
// populated index rather than an empty table.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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
  r.resend_cooldown_seconds = 30;
  r.max_sends_per_window = 1000;
  r.send_window_seconds = 600;
  r.sealed_delivery = std::string(80, 'x');  // about the size of a sealed payload
  return r;
}

// A store on a fresh file in its own directory, removed afterwards.
class BenchStore {
 public:
  BenchStore() {
    std::string pattern = (fs::temp_directory_path() / "otpd-micro-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    store_ = store::SqliteStore::open((dir_ / "otpd.db").string()).value();
    store_->init_schema().value();
  }
  ~BenchStore() {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  BenchStore(const BenchStore&) = delete;
  BenchStore& operator=(const BenchStore&) = delete;

  store::SqliteStore& operator*() { return *store_; }
  store::SqliteStore* operator->() { return store_.get(); }

  // Starts verifications next_ .. next_+count-1 (max_attempts as given).
  void fill(int count, int max_attempts = 5) {
    for (int i = 0; i < count; ++i) started(max_attempts);
  }
  core::Verification started(int max_attempts = 5) {
    auto out = store_->start(start_request(next_++, max_attempts)).value();
    if (out.kind != store::StartOutcome::Kind::kStarted) throw std::runtime_error("not started");
    return out.verification;
  }
  long long next() const { return next_; }

 private:
  fs::path dir_;
  std::unique_ptr<store::SqliteStore> store_;
  long long next_ = 0;
};

store::CheckRequest check_request(const core::Verification& v, const std::string& code) {
  store::CheckRequest c;
  c.tenant = v.tenant;
  c.id = v.id;
  c.candidate_hashes = {hash_of(code)};
  c.now = now();
  return c;
}

void BM_StoreStart(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill);
  long long n = store.next();
  for (auto _ : state) {
    auto out = store->start(start_request(n++));
    if (!out || out->kind != store::StartOutcome::Kind::kStarted) state.SkipWithError("start");
  }
}
BENCHMARK(BM_StoreStart);

void BM_StoreGet(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill);
  long long n = 0;
  for (auto _ : state) {
    auto got = store->get(kTenant, verification_id(n++ % kPrefill));
    if (!got || !got->has_value()) state.SkipWithError("get");
  }
}
BENCHMARK(BM_StoreGet);

void BM_StoreFindLatest(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill);
  long long n = 0;
  for (auto _ : state) {
    auto got = store->find_latest(kTenant, {recipient(n++ % kPrefill)});
    if (!got || !got->has_value()) state.SkipWithError("find_latest");
  }
}
BENCHMARK(BM_StoreFindLatest);

// A wrong code on a pending verification: the attempt is counted and a failure recorded.
// max_attempts is large so every check takes the same path (kInvalid), never the lock.
void BM_StoreCheckWrong(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill, 1'000'000'000);
  long long n = 0;
  for (auto _ : state) {
    core::Verification v;
    v.tenant = kTenant;
    v.id = verification_id(n++ % kPrefill);
    auto out = store->check(check_request(v, "000000"));
    if (!out || out->kind != store::CheckOutcome::Kind::kInvalid) state.SkipWithError("check");
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
    auto out = store->check(check_request(pending[next++], "123456"));
    if (!out || out->kind != store::CheckOutcome::Kind::kApproved) state.SkipWithError("check");
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
    auto out = store->cancel(v.tenant, v.id, now());
    if (!out || *out != store::CancelOutcome::kCanceled) state.SkipWithError("cancel");
  }
}
BENCHMARK(BM_StoreCancel);

// The delivery worker's round trip for one job: take it, then record it sent.
void BM_StoreTakeAndFinishDelivery(benchmark::State& state) {
  BenchStore store;
  store.fill(kPrefill);  // kPrefill jobs queued
  long long started = kPrefill;
  for (auto _ : state) {
    auto jobs = store->take_due_deliveries(now(), 1, now() + core::Seconds(30));
    if (!jobs || jobs->empty()) {
      state.SkipWithError("no job");
      break;
    }
    const auto& job = jobs->front();
    if (!store->finish_delivery(job.tenant, job.id, core::DeliveryStatus::kSent)) {
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

void BM_StorePing(benchmark::State& state) {
  BenchStore store;
  for (auto _ : state) {
    if (!store->ping()) state.SkipWithError("ping");
  }
}
BENCHMARK(BM_StorePing);

}  // namespace
