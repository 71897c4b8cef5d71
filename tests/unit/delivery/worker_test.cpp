// The delivery worker end to end against an in-memory queue and the real SQLite store:
// notify, retries with backoff on the worker's clock, permanent failures, expiry, sealing,
// concurrency, the share of slots between tenants, stop.
#include "delivery/worker.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "core/run_blocking.hpp"
#include "delivery/payload.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_support.hpp"

namespace otpd::delivery {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using core::ChannelKind;
using core::DeliveryStatus;
using testing::eventually;

// ---- retry_backoff -------------------------------------------------------------------

TEST(RetryBackoff, DoublesFromOneSecondToThirtyAtMost) {
  testing::FixedRandom top(0xff);  // jitter factor 1.0
  const std::vector<long long> expected{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
  for (int attempt = 1; attempt <= static_cast<int>(expected.size()); ++attempt) {
    EXPECT_EQ(retry_backoff(attempt, top).count(), expected[attempt - 1]) << attempt;
  }
  EXPECT_EQ(retry_backoff(1000, top).count(), 30000);
  EXPECT_EQ(retry_backoff(0, top).count(), 1000);
  EXPECT_EQ(retry_backoff(-5, top).count(), 1000);
}

TEST(RetryBackoff, JitterHalvesAtMost) {
  testing::FixedRandom bottom(0x00);  // jitter factor 0.5
  EXPECT_EQ(retry_backoff(1, bottom).count(), 500);
  EXPECT_EQ(retry_backoff(2, bottom).count(), 1000);
  EXPECT_EQ(retry_backoff(6, bottom).count(), 15000);
}

TEST(RetryBackoff, RandomJitterStaysInRangeAndSpreads) {
  core::OpenSslRandom rng;
  for (int attempt = 1; attempt <= 7; ++attempt) {
    const long long base = std::min(30000LL, 1000LL << (attempt - 1));
    long long lo = base;
    long long hi = 0;
    for (int i = 0; i < 500; ++i) {
      const long long ms = retry_backoff(attempt, rng).count();
      ASSERT_GE(ms, base / 2) << attempt;
      ASSERT_LE(ms, base) << attempt;
      lo = std::min(lo, ms);
      hi = std::max(hi, ms);
    }
    EXPECT_LT(lo, base * 6 / 10) << attempt;
    EXPECT_GT(hi, base * 9 / 10) << attempt;
  }
}

// ---- the worker ----------------------------------------------------------------------

constexpr long long kT0 = 1'800'000'000'000;
constexpr auto kLongPoll = std::chrono::hours(1);  // only notify() wakes the worker

enum class Backend { kFake, kSqlite };

class WorkerTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    config_.tenants["acme"].name = "acme";
    config_.tenants["acme"].policy.app_name = "Acme";
    channels_[{"acme", ChannelKind::kWebhook}] = webhook_;
    channels_[{"acme", ChannelKind::kConsole}] = console_;
    add_tenant("beta", beta_hook_);
    if (GetParam() == Backend::kSqlite) {
      char dir[] = "/tmp/otpd-delivery-test-XXXXXX";
      ASSERT_NE(::mkdtemp(dir), nullptr);
      dir_ = dir;
      auto opened = store::SqliteStore::open(dir_ + "/otpd.db");
      ASSERT_TRUE(opened.has_value()) << opened.error().message();
      sqlite_ = std::move(*opened);
      ASSERT_TRUE(run_blocking(sqlite_->init_schema()).has_value());
      recording_.emplace(*sqlite_);
    } else {
      recording_.emplace(fake_);
    }
  }

  void TearDown() override {
    if (worker_) worker_->stop();
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    worker_.reset();
    sqlite_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Another tenant, whose webhook jobs go to `channel`.
  void add_tenant(const std::string& name, std::shared_ptr<testing::FakeChannel> channel) {
    config_.tenants[name].name = name;
    config_.tenants[name].policy.app_name = name;
    channels_[{name, ChannelKind::kWebhook}] = std::move(channel);
  }

  void start_worker(WorkerOptions options = {kLongPoll, {}}, int threads = 1) {
    DeliveryCounters counters;
    counters.on_attempt = [this](ChannelKind channel, const char* outcome) {
      std::lock_guard lock(counted_mu_);
      counted_.emplace_back(core::to_string(channel), outcome);
    };
    deliverer_.emplace(keyring_, clock_, jitter_, config_, channels_, counters);
    worker_ = std::make_unique<Worker>(io_, *recording_, *deliverer_, clock_, options);
    worker_->start();
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  std::string seal(const core::Keyring& keyring, const std::string& aad_id,
                   const std::string& to = "alice@example.com", const std::string& code = "123456",
                   const std::string& locale = "en", const std::string& tenant = "acme") {
    return keyring.seal(encode_payload({to, code, locale}), payload_aad(tenant, aad_id), seal_rng_);
  }

  // Queues a job due now, sealed for its own id under the worker's current secret unless
  // `sealed` says otherwise. With `leased`, it is stored leased as the API stores a job it
  // hands over (take_over) and due only once the lease has passed.
  store::DeliveryJob enqueue(const std::string& id, ChannelKind channel, core::Millis ttl = 5min,
                             std::optional<std::string> sealed = std::nullopt, bool leased = false,
                             const std::string& tenant = "acme") {
    const std::string blob =
        sealed ? *sealed : seal(keyring_, id, "alice@example.com", "123456", "en", tenant);
    const auto now = clock_.now();
    store::DeliveryJob job;
    job.tenant = core::TenantId(tenant);
    job.id = core::VerificationId(id);
    job.channel = channel;
    job.sealed = blob;
    job.expires_at = now + ttl;
    if (GetParam() == Backend::kFake) {
      fake_.add(job, leased ? now + Worker::kLease : now);
      return job;
    }
    store::StartRequest request;
    auto& v = request.verification;
    v.tenant = core::TenantId(tenant);
    v.id = core::VerificationId(id);
    v.recipient = core::RecipientHash("rh-" + id);  // one recipient each: no cooldown
    v.masked_to = "a***@example.com";
    v.channel = channel;
    v.code_hash = "00";
    v.created_at = now;
    v.expires_at = now + ttl;
    v.delete_after = v.expires_at + 1h;
    v.locale = "en";
    request.history = {v.recipient};
    request.sealed_delivery = blob;
    if (leased) request.delivery_leased_until = now + Worker::kLease;
    auto r = run_blocking(sqlite_->start(request));
    EXPECT_TRUE(r.has_value() && r->decision.verdict == core::SendVerdict::kStart);
    return job;
  }

  // What the API does with a send: store the job leased, then hand it to the worker.
  void hand_over(const std::string& id, ChannelKind channel, const std::string& tenant = "acme") {
    ASSERT_TRUE(worker_->take_over(enqueue(id, channel, 5min, std::nullopt, true, tenant)));
  }

  std::size_t running(const std::string& tenant) {
    return worker_->running(core::TenantId(tenant));
  }
  std::size_t waiting(const std::string& tenant) {
    return worker_->waiting(core::TenantId(tenant));
  }

  // What the backend itself says about the job's delivery (kQueued while it is queued).
  DeliveryStatus stored_delivery(const std::string& id, const std::string& tenant = "acme") {
    if (GetParam() == Backend::kFake) {
      return fake_.outcome(tenant, id).value_or(DeliveryStatus::kQueued);
    }
    auto v = run_blocking(sqlite_->get(core::TenantId(tenant), core::VerificationId(id)));
    EXPECT_TRUE(v.has_value() && v->has_value());
    return (v.has_value() && v->has_value()) ? (*v)->delivery : DeliveryStatus::kQueued;
  }

  std::size_t depth() { return run_blocking(recording_->depth()).value(); }

  bool finished_as(const std::string& id, DeliveryStatus status) {
    return recording_->finished(id) == status;
  }

  // Wakes the worker and waits until it has looked at the queue at least once more.
  void notify_and_wait_for_round() {
    const int before = recording_->takes();
    worker_->notify();
    ASSERT_TRUE(eventually([&] { return recording_->takes() > before; }));
  }

  std::vector<std::pair<std::string, std::string>> counted() {
    std::lock_guard lock(counted_mu_);
    return counted_;
  }

  core::ManualTimeSource clock_{core::from_unix_ms(kT0)};
  // The worker opens with every secret; the first seals new payloads.
  core::Keyring keyring_{{"current-secret", "previous-secret"}};
  core::OpenSslRandom seal_rng_;
  testing::FixedRandom jitter_{0xff};  // backoff without jitter: 1 s, 2 s, 4 s ...
  config::Config config_;
  std::shared_ptr<testing::FakeChannel> webhook_ = std::make_shared<testing::FakeChannel>();
  std::shared_ptr<testing::FakeChannel> console_ = std::make_shared<testing::FakeChannel>();
  std::shared_ptr<testing::FakeChannel> beta_hook_ = std::make_shared<testing::FakeChannel>();
  ChannelMap channels_;
  std::optional<Deliverer> deliverer_;
  testing::FakeStore fake_;
  std::string dir_;
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::optional<testing::RecordingStore> recording_;
  std::mutex counted_mu_;
  std::vector<std::pair<std::string, std::string>> counted_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  std::vector<std::thread> threads_;
  std::unique_ptr<Worker> worker_;
};

TEST_P(WorkerTest, NotifyDeliversDueJobAtOnce) {
  start_worker();
  // The first round finds nothing; with an hour-long poll only notify() can wake it now.
  ASSERT_TRUE(eventually([&] { return recording_->takes() >= 1; }));
  enqueue("v1", ChannelKind::kWebhook);
  worker_->notify();
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kSent); }));
  EXPECT_EQ(stored_delivery("v1"), DeliveryStatus::kSent);
  EXPECT_EQ(depth(), 0u);

  const auto messages = webhook_->messages();
  ASSERT_EQ(messages.size(), 1u);
  const auto& m = messages[0];
  EXPECT_EQ(m.tenant.str(), "acme");
  EXPECT_EQ(m.id.str(), "v1");
  EXPECT_EQ(m.channel, ChannelKind::kWebhook);
  EXPECT_EQ(m.to, "alice@example.com");
  EXPECT_EQ(m.code, "123456");
  EXPECT_EQ(m.locale, "en");
  EXPECT_EQ(m.expires_at, core::from_unix_ms(kT0) + 5min);
  EXPECT_EQ(m.text, "Acme: your code is 123456. It expires in 5 minutes.");
  EXPECT_EQ(counted(), (std::vector<std::pair<std::string, std::string>>{{"webhook", "sent"}}));
}

TEST_P(WorkerTest, TransientFailureIsRetriedWithBackoff) {
  webhook_->script({AttemptResult::kTransient, AttemptResult::kTransient});
  enqueue("v1", ChannelKind::kWebhook);
  start_worker();
  ASSERT_TRUE(eventually([&] { return recording_->retries().size() == 1; }));
  EXPECT_EQ(recording_->retries()[0], core::from_unix_ms(kT0) + 1s);
  EXPECT_EQ(stored_delivery("v1"), DeliveryStatus::kQueued);

  // Not due yet: another round leaves it alone.
  clock_.advance(999ms);
  notify_and_wait_for_round();
  EXPECT_EQ(webhook_->calls(), 1u);

  // Due now: the worker's timer follows its clock, so moving the clock is all it takes (the
  // poll is an hour away and nobody calls notify()).
  clock_.advance(1ms);
  ASSERT_TRUE(eventually([&] { return recording_->retries().size() == 2; }));
  // The second retry waits twice as long, counted from the second attempt.
  EXPECT_EQ(recording_->retries()[1], core::from_unix_ms(kT0) + 1s + 2s);

  clock_.advance(2s);
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kSent); }));
  EXPECT_EQ(webhook_->calls(), 3u);
  EXPECT_EQ(stored_delivery("v1"), DeliveryStatus::kSent);
  EXPECT_EQ(depth(), 0u);
  // The wording counts the time actually left.
  EXPECT_EQ(webhook_->messages()[2].text, "Acme: your code is 123456. It expires in 4 minutes.");
  EXPECT_EQ(counted(), (std::vector<std::pair<std::string, std::string>>{
                           {"webhook", "retry"}, {"webhook", "retry"}, {"webhook", "sent"}}));
}

TEST_P(WorkerTest, PermanentFailureFails) {
  webhook_->script({AttemptResult::kPermanent});
  enqueue("v1", ChannelKind::kWebhook);
  start_worker();
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kFailed); }));
  EXPECT_EQ(webhook_->calls(), 1u);
  EXPECT_TRUE(recording_->retries().empty());
  EXPECT_EQ(stored_delivery("v1"), DeliveryStatus::kFailed);
  EXPECT_EQ(depth(), 0u);
  EXPECT_EQ(counted(), (std::vector<std::pair<std::string, std::string>>{{"webhook", "failed"}}));
}

TEST_P(WorkerTest, NoRetryPastExpiry) {
  webhook_->script({AttemptResult::kTransient, AttemptResult::kTransient});
  enqueue("v1", ChannelKind::kWebhook, 2500ms);
  start_worker();
  ASSERT_TRUE(eventually([&] { return recording_->retries().size() == 1; }));
  clock_.advance(1s);
  // The next retry would be at 1 s + 2 s, past the code's 2.5 s: give up.
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kFailed); }));
  EXPECT_EQ(webhook_->calls(), 2u);
  EXPECT_EQ(recording_->retries().size(), 1u);
  EXPECT_EQ(stored_delivery("v1"), DeliveryStatus::kFailed);
}

TEST_P(WorkerTest, ExpiredJobIsNeverDelivered) {
  webhook_->script({AttemptResult::kTransient});
  enqueue("v1", ChannelKind::kWebhook, 1500ms);
  start_worker();
  ASSERT_TRUE(eventually([&] { return recording_->retries().size() == 1; }));
  clock_.advance(1500ms);
  notify_and_wait_for_round();
  ASSERT_TRUE(eventually([&] { return stored_delivery("v1") == DeliveryStatus::kFailed; }));
  EXPECT_EQ(webhook_->calls(), 1u);
  EXPECT_EQ(depth(), 0u);
}

TEST_P(WorkerTest, OpensPayloadSealedUnderPreviousSecret) {
  const core::Keyring previous({"previous-secret"});
  enqueue("v1", ChannelKind::kConsole, 5min, seal(previous, "v1", "+14155550100", "987654"));
  start_worker();
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kSent); }));
  const auto messages = console_->messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].to, "+14155550100");
  EXPECT_EQ(messages[0].code, "987654");
}

TEST_P(WorkerTest, UsesRequestedLocaleOrEnglish) {
  config_.tenants["acme"].templates["de"].sms = "{{app_name}}: Ihr Code lautet {{code}}";
  enqueue("v1", ChannelKind::kConsole, 5min,
          seal(keyring_, "v1", "a@example.com", "1111", "de-AT"));
  enqueue("v2", ChannelKind::kConsole, 5min, seal(keyring_, "v2", "b@example.com", "2222", ""));
  start_worker();
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 2; }));
  auto messages = console_->messages();
  ASSERT_EQ(messages.size(), 2u);
  std::sort(messages.begin(), messages.end(),
            [](const Message& a, const Message& b) { return a.id < b.id; });
  EXPECT_EQ(messages[0].locale, "de-AT");
  EXPECT_EQ(messages[0].text, "Acme: Ihr Code lautet 1111");
  EXPECT_EQ(messages[1].locale, "en");
  EXPECT_EQ(messages[1].text, "Acme: your code is 2222. It expires in 5 minutes.");
}

TEST_P(WorkerTest, LogsNeverShowCodeOrRecipient) {
  // Log lines go to fd 2 with write(2): point it at a file for the length of the test.
  std::FILE* capture = std::tmpfile();
  ASSERT_NE(capture, nullptr);
  std::fflush(stderr);
  const int saved = ::dup(2);
  ASSERT_GE(saved, 0);
  ASSERT_GE(::dup2(::fileno(capture), 2), 0);

  webhook_->script({AttemptResult::kTransient, AttemptResult::kPermanent});
  enqueue("v1", ChannelKind::kWebhook, 5min, seal(keyring_, "v1", "alice@example.com", "739154"));
  enqueue("v2", ChannelKind::kSms, 5min, seal(keyring_, "v2", "+14155550100", "739155"));
  enqueue("v3", ChannelKind::kConsole, 5min, seal(keyring_, "v3", "bob@example.com", "739156"));
  enqueue("v4", ChannelKind::kConsole, 5min,
          seal(keyring_, "elsewhere", "carol@example.com", "739157"));
  start_worker();
  const bool first = eventually([&] { return recording_->finish_calls() == 3; });
  clock_.advance(1s);
  const bool all = eventually([&] { return recording_->finish_calls() == 4; });

  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::rewind(capture);
  std::string logged;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, capture)) > 0;) logged.append(buf, n);
  std::fclose(capture);

  ASSERT_TRUE(first && all) << logged;
  EXPECT_NE(logged.find("delivery will be retried"), std::string::npos) << logged;
  EXPECT_NE(logged.find("delivery failed"), std::string::npos) << logged;
  for (const char* secret : {"739154", "739155", "739156", "739157", "alice@", "bob@", "carol@",
                             "4155550100", "current-secret", "previous-secret"}) {
    EXPECT_EQ(logged.find(secret), std::string::npos) << secret << " in " << logged;
  }
}

TEST_P(WorkerTest, PayloadSealedForAnotherRecordOrKeyFails) {
  enqueue("v1", ChannelKind::kConsole, 5min, seal(keyring_, "v2"));  // aad of another id
  const core::Keyring stranger({"unknown-secret"});
  enqueue("v3", ChannelKind::kConsole, 5min, seal(stranger, "v3"));
  std::string tampered = seal(keyring_, "v4");
  tampered.back() ^= 1;
  enqueue("v4", ChannelKind::kConsole, 5min, tampered);
  start_worker();
  for (const char* id : {"v1", "v3", "v4"}) {
    ASSERT_TRUE(eventually([&] { return finished_as(id, DeliveryStatus::kFailed); })) << id;
    EXPECT_EQ(stored_delivery(id), DeliveryStatus::kFailed);
  }
  EXPECT_EQ(console_->calls(), 0u);
}

TEST_P(WorkerTest, MissingChannelFails) {
  enqueue("v1", ChannelKind::kSms);
  start_worker();
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kFailed); }));
  EXPECT_EQ(stored_delivery("v1"), DeliveryStatus::kFailed);
  EXPECT_EQ(counted(), (std::vector<std::pair<std::string, std::string>>{{"sms", "failed"}}));
}

TEST_P(WorkerTest, SurvivesStoreErrorsBackingOffOnItsClock) {
  recording_->fail_next_takes(5);
  enqueue("v1", ChannelKind::kConsole);
  start_worker();
  // After each failed take the worker waits 1 s, doubling, on its clock: moving the clock
  // by exactly that brings the next take (in real time each would take that long, the last
  // one longer than `eventually` waits).
  ASSERT_TRUE(eventually([&] { return recording_->takes() == 1; }));
  core::Millis backoff = 1s;
  for (int take = 2; take <= 6; ++take, backoff *= 2) {
    clock_.advance(backoff);
    ASSERT_TRUE(eventually([&] { return recording_->takes() == take; })) << take;
  }
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kSent); }));
  EXPECT_GE(recording_->takes(), 6);
}

TEST_P(WorkerTest, ChannelThatThrowsLeavesJobLeasedAndWorkerRunning) {
  webhook_->throw_next = true;
  enqueue("v1", ChannelKind::kWebhook);
  start_worker();
  ASSERT_TRUE(eventually([&] { return webhook_->calls() == 1; }));
  enqueue("v2", ChannelKind::kConsole);
  worker_->notify();
  ASSERT_TRUE(eventually([&] { return finished_as("v2", DeliveryStatus::kSent); }));
  EXPECT_FALSE(recording_->finished("v1").has_value());
  // The lease (20 s) hides it until then; after it the job is tried again.
  clock_.advance(19s);
  notify_and_wait_for_round();
  EXPECT_EQ(webhook_->calls(), 1u);
  clock_.advance(1s);
  worker_->notify();
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kSent); }));
  EXPECT_EQ(webhook_->calls(), 2u);
}

TEST_P(WorkerTest, SlowDeliveryDoesNotHoldOthersBack) {
  webhook_->hold = true;
  enqueue("slow", ChannelKind::kWebhook);
  enqueue("fast", ChannelKind::kConsole);
  start_worker();
  ASSERT_TRUE(eventually([&] { return finished_as("fast", DeliveryStatus::kSent); }));
  // The two attempts run concurrently, so "fast" may finish before "slow" has even started;
  // what matters is that "slow" is in flight, held, while "fast" is already done.
  ASSERT_TRUE(eventually([&] { return webhook_->calls() == 1; }));
  EXPECT_FALSE(recording_->finished("slow").has_value());
  webhook_->hold = false;
  ASSERT_TRUE(eventually([&] { return finished_as("slow", DeliveryStatus::kSent); }));
}

TEST_P(WorkerTest, StopLetsAttemptsInFlightFinishAndTakesNoMore) {
  webhook_->hold = true;
  enqueue("v1", ChannelKind::kWebhook);
  start_worker();
  ASSERT_TRUE(eventually([&] { return webhook_->calls() == 1; }));
  worker_->stop();
  webhook_->hold = false;
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kSent); }));

  const int takes = recording_->takes();
  enqueue("v2", ChannelKind::kConsole);
  worker_->notify();
  // Proving a negative needs some wait; a stopped loop would have taken v2 well within it.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(recording_->takes(), takes);
  EXPECT_EQ(console_->calls(), 0u);
}

TEST_P(WorkerTest, ManyJobsAllDelivered) {
  for (int i = 0; i < 150; ++i) enqueue("v" + std::to_string(i), ChannelKind::kConsole);
  start_worker();
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 150; }));
  EXPECT_EQ(console_->calls(), 150u);
  EXPECT_EQ(depth(), 0u);
}

TEST_P(WorkerTest, ManyJobsOnSeveralThreads) {
  webhook_->script({AttemptResult::kTransient, AttemptResult::kTransient});
  for (int i = 0; i < 100; ++i) {
    enqueue("v" + std::to_string(i), i % 2 ? ChannelKind::kConsole : ChannelKind::kWebhook);
  }
  start_worker({kLongPoll, {}}, 4);
  ASSERT_TRUE(eventually([&] { return recording_->retries().size() == 2; }));
  for (int i = 0; i < 5; ++i) worker_->notify();
  clock_.advance(1s);
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 100; }));
  EXPECT_EQ(console_->calls() + webhook_->calls(), 102u);
  EXPECT_EQ(depth(), 0u);
}

TEST_P(WorkerTest, AJobTakenOverIsDeliveredWithoutBeingTakenFromTheStore) {
  start_worker();
  ASSERT_TRUE(eventually([&] { return recording_->takes() >= 1; }));
  const int takes = recording_->takes();
  hand_over("v1", ChannelKind::kWebhook);
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kSent); }));
  EXPECT_EQ(stored_delivery("v1"), DeliveryStatus::kSent);
  EXPECT_EQ(depth(), 0u);
  EXPECT_EQ(recording_->takes(), takes);
  ASSERT_EQ(webhook_->messages().size(), 1u);
  EXPECT_EQ(webhook_->messages()[0].code, "123456");
  // The outcome is recorded inside the batch write, which the worker counts until it returns.
  EXPECT_TRUE(eventually([&] { return worker_->idle(); }));
}

TEST_P(WorkerTest, OutcomesThatFinishTogetherAreWrittenTogether) {
  webhook_->hold = true;
  start_worker({kLongPoll, FairShare{64, 64, 1024}});  // all 40 at once, one tenant
  for (int i = 0; i < 40; ++i) hand_over("v" + std::to_string(i), ChannelKind::kWebhook);
  ASSERT_TRUE(eventually([&] { return webhook_->calls() == 40; }));
  EXPECT_FALSE(worker_->idle());
  webhook_->hold = false;  // all 40 finish within a timer tick of each other
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 40; }));
  EXPECT_LE(recording_->finish_batches(), 20);
  EXPECT_EQ(depth(), 0u);
  ASSERT_TRUE(eventually([&] { return worker_->idle(); }));
}

TEST_P(WorkerTest, JobsPastATenantsShareWaitForItsRoom) {
  webhook_->hold = true;
  start_worker();
  for (int i = 0; i < 20; ++i) hand_over("v" + std::to_string(i), ChannelKind::kWebhook);
  ASSERT_TRUE(eventually([&] { return webhook_->calls() == 16; }));  // the tenant's share
  EXPECT_EQ(running("acme"), 16u);
  EXPECT_EQ(waiting("acme"), 4u);
  worker_->notify();
  // Proving a negative needs some wait; a worker ignoring the share would start them at once.
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(webhook_->calls(), 16u);
  webhook_->hold = false;
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 20; }));
  EXPECT_EQ(webhook_->calls(), 20u);
  EXPECT_EQ(depth(), 0u);
}

TEST_P(WorkerTest, JobsPastTheWorkersSlotsWaitForRoom) {
  auto shared = std::make_shared<testing::FakeChannel>();
  for (int t = 0; t < 5; ++t) add_tenant("t" + std::to_string(t), shared);
  shared->hold = true;
  start_worker();
  // 5 tenants x 14 jobs: each tenant under its share, together past the 64 slots.
  for (int i = 0; i < 70; ++i) {
    hand_over("v" + std::to_string(i), ChannelKind::kWebhook, "t" + std::to_string(i % 5));
  }
  ASSERT_TRUE(eventually([&] { return shared->calls() == 64; }));
  worker_->notify();
  // Proving a negative needs some wait; a loop ignoring the cap would start them at once.
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(shared->calls(), 64u);
  shared->hold = false;
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 70; }));
  EXPECT_EQ(shared->calls(), 70u);
  EXPECT_EQ(depth(), 0u);
}

// The security finding: a tenant whose webhook accepts and never answers, with 300 codes
// queued, held every slot and the queue in front of everyone else's codes.
TEST_P(WorkerTest, AHungTenantHoldsOnlyItsShareOfTheSlots) {
  webhook_->hold = true;
  start_worker();
  for (int i = 0; i < 300; ++i) hand_over("a" + std::to_string(i), ChannelKind::kWebhook);
  ASSERT_TRUE(eventually([&] { return webhook_->calls() == 16; }));
  EXPECT_EQ(waiting("acme"), 284u);

  hand_over("b1", ChannelKind::kWebhook, "beta");
  ASSERT_TRUE(eventually([&] { return finished_as("b1", DeliveryStatus::kSent); }));
  EXPECT_TRUE(eventually([&] { return stored_delivery("b1", "beta") == DeliveryStatus::kSent; }));
  // b1 went through while every attempt of acme was still hung, and none more was started.
  EXPECT_EQ(webhook_->finished, 0);
  EXPECT_EQ(webhook_->calls(), 16u);
  EXPECT_EQ(running("acme"), 16u);

  webhook_->hold = false;
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 301; }));
  EXPECT_EQ(depth(), 0u);
}

// The same backlog waiting in the store (a restart, or another instance's sends): a take
// skips the tenant that has no room left, so the other's job is taken behind it.
TEST_P(WorkerTest, AHungTenantsBacklogInTheStoreIsSkipped) {
  webhook_->hold = true;
  for (int i = 0; i < 300; ++i) enqueue("a" + std::to_string(i), ChannelKind::kWebhook);
  enqueue("b1", ChannelKind::kWebhook, 5min, std::nullopt, false, "beta");
  start_worker();
  ASSERT_TRUE(eventually([&] { return finished_as("b1", DeliveryStatus::kSent); }));
  EXPECT_EQ(webhook_->finished, 0);
  EXPECT_EQ(webhook_->calls(), 16u);
  const auto skips = recording_->skips();
  EXPECT_TRUE(std::any_of(skips.begin(), skips.end(), [](const auto& skip) {
    return skip == std::vector<core::TenantId>{core::TenantId("acme")};
  }));
  // What acme's share could not start waits in memory (at most one batch) or in the store.
  EXPECT_LE(waiting("acme"), 64u);

  // Room freed by acme's attempts wakes the worker to take acme's jobs again: no notify().
  webhook_->hold = false;
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 301; }));
  EXPECT_EQ(depth(), 0u);
}

// One slot, one attempt per tenant: while a1 hangs, a2 a3 and b1 b2 wait; they then start
// by turns (b1 first, having waited since before a1 ended), not first come first served.
TEST_P(WorkerTest, WaitingJobsStartByTurnsOfTenants) {
  auto shared = std::make_shared<testing::FakeChannel>();
  channels_[{"acme", ChannelKind::kWebhook}] = shared;
  add_tenant("beta", shared);
  shared->hold = true;
  start_worker({kLongPoll, FairShare{1, 1, 1024}});
  hand_over("a1", ChannelKind::kWebhook);
  ASSERT_TRUE(eventually([&] { return shared->calls() == 1; }));
  hand_over("a2", ChannelKind::kWebhook);
  hand_over("a3", ChannelKind::kWebhook);
  hand_over("b1", ChannelKind::kWebhook, "beta");
  hand_over("b2", ChannelKind::kWebhook, "beta");
  shared->hold = false;
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 5; }));
  EXPECT_EQ(shared->ids(), (std::vector<std::string>{"a1", "b1", "a2", "b2", "a3"}));
}

// Memory for waiting jobs is shared fairly too: when it is full, the longest queue gives up
// its last job (left leased in the store) for a tenant with fewer waiting; the longest
// tenant's own next job is refused.
TEST_P(WorkerTest, FullMemoryMakesRoomFromTheLongestQueue) {
  auto shared = std::make_shared<testing::FakeChannel>();
  channels_[{"acme", ChannelKind::kWebhook}] = shared;
  add_tenant("beta", shared);
  shared->hold = true;
  start_worker({kLongPoll, FairShare{1, 1, 4}});
  for (int i = 1; i <= 5; ++i) hand_over("a" + std::to_string(i), ChannelKind::kWebhook);
  ASSERT_TRUE(eventually([&] { return shared->calls() == 1; }));
  EXPECT_EQ(waiting("acme"), 4u);
  hand_over("b1", ChannelKind::kWebhook, "beta");  // a5 makes room
  EXPECT_EQ(waiting("acme"), 3u);
  EXPECT_EQ(waiting("beta"), 1u);
  EXPECT_FALSE(worker_->take_over(enqueue("a6", ChannelKind::kWebhook, 5min, {}, true)));

  shared->hold = false;
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 5; }));
  EXPECT_EQ(shared->ids(), (std::vector<std::string>{"a1", "b1", "a2", "a3", "a4"}));
  EXPECT_EQ(depth(), 2u);  // a5 and a6, leased
  clock_.advance(Worker::kLease);
  worker_->notify();
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 7; }));
  EXPECT_EQ(depth(), 0u);
}

// A job that waited in memory until little of its lease is left is not started: the store
// hands it out again once the lease has passed (one attempt at a time, never two).
TEST_P(WorkerTest, AJobWaitingPastHalfItsLeaseIsLeftToTheStore) {
  webhook_->hold = true;
  start_worker({kLongPoll, FairShare{1, 1, 1024}});
  hand_over("v1", ChannelKind::kWebhook);
  ASSERT_TRUE(eventually([&] { return webhook_->calls() == 1; }));
  hand_over("v2", ChannelKind::kWebhook);
  clock_.advance(Worker::kLease / 2);
  webhook_->hold = false;
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kSent); }));
  ASSERT_TRUE(eventually([&] { return waiting("acme") == 0 && running("acme") == 0; }));
  EXPECT_EQ(webhook_->calls(), 1u);
  EXPECT_FALSE(recording_->finished("v2").has_value());

  clock_.advance(Worker::kLease / 2);
  worker_->notify();
  ASSERT_TRUE(eventually([&] { return finished_as("v2", DeliveryStatus::kSent); }));
  EXPECT_EQ(webhook_->calls(), 2u);
}

// An attempt still running when its lease runs out (a provider slower than the lease, or a
// test clock moved past it): the store hands the job out again, and the worker that has it
// in hand does not start a second attempt of it.
TEST_P(WorkerTest, AJobInHandIsNotAttemptedTwiceWhenItsLeaseRunsOut) {
  webhook_->hold = true;
  enqueue("v1", ChannelKind::kWebhook);
  start_worker();
  ASSERT_TRUE(eventually([&] { return webhook_->calls() == 1; }));
  clock_.advance(Worker::kLease + 1s);
  notify_and_wait_for_round();
  notify_and_wait_for_round();
  // Proving a negative needs some wait; a second attempt would start within it.
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(webhook_->calls(), 1u);
  webhook_->hold = false;
  ASSERT_TRUE(eventually([&] { return finished_as("v1", DeliveryStatus::kSent); }));
  EXPECT_EQ(webhook_->calls(), 1u);
}

// A provider that hangs while sends keep coming: memory holds at most 1024 waiting jobs;
// the next is refused and waits in the store, due again once its lease has passed.
TEST_P(WorkerTest, TakeOverRefusesPastTheWaitingLimitAndTheStoreKeepsTheJob) {
  webhook_->hold = true;
  start_worker();
  for (int i = 0; i < 16 + 1024; ++i) hand_over("v" + std::to_string(i), ChannelKind::kWebhook);
  EXPECT_FALSE(worker_->take_over(enqueue("extra", ChannelKind::kWebhook, 5min, {}, true)));
  ASSERT_TRUE(eventually([&] { return webhook_->calls() == 16; }));
  webhook_->hold = false;
  ASSERT_TRUE(eventually([&] { return recording_->finish_calls() == 16 + 1024; }))
      << recording_->finish_calls() << " finished, " << running("acme") << " running, "
      << waiting("acme") << " waiting, " << recording_->finish_batches() << " batches";
  EXPECT_EQ(depth(), 1u);
  EXPECT_FALSE(recording_->finished("extra").has_value());
  clock_.advance(Worker::kLease);
  worker_->notify();
  ASSERT_TRUE(eventually([&] { return finished_as("extra", DeliveryStatus::kSent); }));
  EXPECT_EQ(depth(), 0u);
}

TEST_P(WorkerTest, StopStartsWhatWasTakenOverAndRefusesMore) {
  auto shared = std::make_shared<testing::FakeChannel>();
  for (int t = 0; t < 5; ++t) add_tenant("t" + std::to_string(t), shared);
  shared->hold = true;
  start_worker();
  for (int i = 0; i < 70; ++i) {
    hand_over("v" + std::to_string(i), ChannelKind::kWebhook, "t" + std::to_string(i % 5));
  }
  ASSERT_TRUE(eventually([&] { return shared->calls() == 64; }));
  worker_->stop();
  EXPECT_FALSE(worker_->accepting());
  EXPECT_FALSE(worker_->take_over(enqueue("late", ChannelKind::kConsole, 5min, {}, true)));
  // Accepted sends are not left to wait out their lease: all 70 are attempted.
  ASSERT_TRUE(eventually([&] { return shared->calls() == 70; }));
  EXPECT_FALSE(worker_->idle());
  shared->hold = false;
  ASSERT_TRUE(eventually([&] { return worker_->idle(); }));
  EXPECT_EQ(recording_->finish_calls(), 70);
  EXPECT_EQ(depth(), 1u);  // "late", leased in the store for whoever runs next
  EXPECT_EQ(console_->calls(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, WorkerTest, ::testing::Values(Backend::kFake, Backend::kSqlite),
                         [](const auto& info) {
                           return info.param == Backend::kFake ? std::string("Fake")
                                                               : std::string("Sqlite");
                         });

}  // namespace
}  // namespace otpd::delivery
