// What only the Redis store has: every key it writes expires by itself at the time it
// should, its idempotency claims (Cluster), what it does when Redis is frozen or restarted,
// and callers on strands of a multi-threaded io_context.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <optional>
#include <thread>

#include "core/placement.hpp"
#include "core/random.hpp"
#include "core/verification.hpp"
#include "redis_backend.hpp"
#include "store/redis/records.hpp"
#include "store/redis/slot.hpp"
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using Kind = testing_support::RedisServers::Kind;
using core::TimePoint;
using std::chrono::hours;
using std::chrono::seconds;

class RedisLayout : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    backend_ = make_redis_backend(GetParam());
    if (!backend_) GTEST_SKIP() << "no redis-server here";
    redis_ = static_cast<RedisBackend*>(backend_.get());
    store_ = redis_->open_clocked();
  }

  template <typename T>
  T run(Task<T> task) {
    return run_blocking(io_, std::move(task));
  }

  // The value and expiry (PEXPIRETIME) of one key, read through a client of the whole
  // deployment.
  std::pair<std::optional<std::string>, long long> key(const std::string& name) {
    std::vector<std::string> keys{name};
    std::vector<std::string> get{"TYPE", name};
    const auto type = run(redis_->io().command(keys, get)).value().str();
    std::vector<std::string> expiry{"PEXPIRETIME", name};
    const long long at = run(redis_->io().command(keys, expiry)).value().integer();
    if (type != "string") return {std::nullopt, at};
    std::vector<std::string> value{"GET", name};
    return {run(redis_->io().command(keys, value)).value().str(), at};
  }

  std::optional<std::string> field(const redis::KeySchema::Field& where) {
    std::vector<std::string> keys{where.key};
    std::vector<std::string> args{"HGET", where.key, where.field};
    auto reply = run(redis_->io().command(keys, args)).value();
    if (!reply.is_bulk()) return std::nullopt;
    return reply.str();
  }

  const redis::KeySchema& schema() { return store_->redis().schema(); }

  boost::asio::io_context io_;
  std::unique_ptr<Backend> backend_;
  RedisBackend* redis_ = nullptr;
  std::unique_ptr<ClockedRedisStore> store_;
};

// Nothing needs a sweeper: every key the store writes carries a PEXPIREAT, and each record
// of a bucket hash its own expiry, at the time the other stores' sweep would delete it.
TEST_P(RedisLayout, EveryKeyExpiresByItselfWhenItsContentDoes) {
  const std::vector<core::CounterSpec> cap = {{"daily:acme:email", 100, hours(24)}};
  StartRequest request = counted_start(kAlice, kT0, cap);
  request.idempotency = core::IdempotencyClaim{"order-1", "h", kT0 + hours(24)};
  request.rate = core::TokenSpec{"send:acme", 1, 5};
  const core::Verification v = run(store_->start(request)).value().verification;
  StartRequest other = counted_start(kBob, kT0, cap);
  const core::Verification w = run(store_->start(other)).value().verification;
  ASSERT_EQ(run(store_->check(check_request(w, "000000", kT0 + seconds(1)))).value().verdict,
            Check::kInvalid);
  ASSERT_TRUE(run(store_->take_token(core::TokenSpec{"key:k1", 2, 3}, kT0)).value().allowed);

  // Every key of this test's prefix: a PEXPIREAT on all but the layout version.
  auto keys = run(redis_->nodes().keys(redis_->prefix()));
  std::size_t with_expiry = 0;
  for (const auto& [node, name] : keys) {
    const long long at = key(name).second;
    if (name == schema().schema()) {
      EXPECT_EQ(at, -1) << "the layout version is kept";
      continue;
    }
    EXPECT_GT(at, 0) << "no expiry on " << name;
    ++with_expiry;
  }
  EXPECT_GE(with_expiry, 7u);  // records, jobs, queue, index, idempotency, buckets, counter

  // And each at its time.
  const auto record = schema().record(kTenant, kAlice);
  EXPECT_EQ(redis::expiry_of(field(record).value()), core::to_unix_ms(v.delete_after));
  EXPECT_GE(key(record.key).second, core::to_unix_ms(v.delete_after));
  const auto bob = schema().record(kTenant, kBob);
  // Bob's record holds a failure too: kept an hour after it if that is later.
  EXPECT_EQ(
      redis::expiry_of(field(bob).value()),
      std::max(core::to_unix_ms(w.delete_after), core::to_unix_ms(kT0 + seconds(1) + hours(1))));
  const int group = schema().group_of(kTenant, kAlice);
  const auto job = schema().job(group, kTenant, v.id);
  EXPECT_EQ(redis::expiry_of(field(job).value()), core::to_unix_ms(v.expires_at));
  EXPECT_GE(key(schema().queue(group)).second, core::to_unix_ms(v.expires_at));
  const auto index = schema().index(kTenant, v.id, kAlice);
  EXPECT_EQ(redis::expiry_of(field(index).value()), core::to_unix_ms(v.delete_after));
  EXPECT_EQ(key(schema().idempotency(kTenant, "order-1")).second,
            core::to_unix_ms(kT0 + hours(24)));
  const auto window = core::counter_window(kT0, hours(24));
  const auto counter = key(schema().counter("daily:acme:email", window));
  EXPECT_EQ(counter.first, "2");
  EXPECT_EQ(counter.second, window.end_ms);
  // 1 token/s, burst 5, one taken at kT0: full again a second later.
  EXPECT_EQ(key(schema().bucket("send:acme")).second, core::to_unix_ms(kT0 + seconds(1)));
  EXPECT_EQ(key(schema().bucket("key:k1")).second, core::to_unix_ms(kT0) + 500);

  // Delivered, the job goes; canceled, too.
  run(store_->finish({{kTenant, v.id, core::DeliveryStatus::kSent}})).value();
  EXPECT_EQ(field(job), std::nullopt);
  ASSERT_EQ(run(store_->transition({kTenant, w.id, core::Transition::kCancel, kT0 + seconds(2)}))
                .value()
                .verdict,
            Transit::kDone);
  EXPECT_EQ(field(schema().job(schema().group_of(kTenant, kBob), kTenant, w.id)), std::nullopt);
  EXPECT_EQ(run(store_->depth()).value(), 0u);
  // The store itself sweeps nothing.
  EXPECT_EQ(run(store_->redis().sweep(kT0 + hours(48), hours(2))).value(), 0u);
}

// An operation by id costs what one by recipient does: an id of the service's form names
// its recipient's group, where its index entry is, so one script finds the entry and reads
// the record it names. Any other id is in the shared index, a slot of its own on a Cluster:
// one round trip more there (on a standalone server, every id is found by one script).
TEST_P(RedisLayout, AnOperationByIdIsOneReadAndOneCommit) {
  RedisStore& redis = store_->redis();
  auto cost = [&](auto&& operation) {
    const auto before = redis.round_trips();
    operation();
    return redis.round_trips() - before;
  };
  const bool cluster = GetParam() == Kind::kCluster;
  core::OpenSslRandom rng;
  auto started = [&](const core::RecipientHash& recipient, core::VerificationId id) {
    StartRequest request = start_request(kTenant, recipient, kT0);
    request.verification.id = std::move(id);
    return run(store_->start(request)).value().verification;
  };
  // A send without an idempotency key, bucket or cap is a read and a commit too, on a
  // Cluster as well: its index entry commits with its record.
  core::Verification placed;
  EXPECT_EQ(cost([&] {
              placed = started(
                  kAlice, core::new_verification_id(rng, kT0, core::placement_of(kTenant, kAlice)));
            }),
            2u);
  const auto entry = schema().index(kTenant, placed.id, kAlice);
  EXPECT_EQ(redis::key_slot(entry.key), redis::key_slot(schema().record(kTenant, kAlice).key));
  EXPECT_EQ(redis::expiry_of(field(entry).value()), core::to_unix_ms(placed.delete_after));

  // A delivery retry goes to the job in the group the id names: a read and a commit.
  EXPECT_EQ(cost([&] { run(redis.retry(kTenant, placed.id, kT0 + seconds(5))).value(); }), 2u);
  const auto job = schema().job(schema().group_of(kTenant, kAlice), kTenant, placed.id);
  EXPECT_EQ(redis::decode_job(field(job).value()).value().attempts, 1);

  EXPECT_EQ(cost([&] { EXPECT_TRUE(run(redis.get(kTenant, placed.id)).value()); }), 1u);
  EXPECT_EQ(
      cost([&] {
        EXPECT_EQ(
            run(redis.check(check_request(placed, "000000", kT0 + seconds(1)))).value().verdict,
            Check::kInvalid);
      }),
      2u);
  EXPECT_EQ(
      cost([&] {
        EXPECT_EQ(
            run(redis.check(check_request(placed, "123456", kT0 + seconds(2)))).value().verdict,
            Check::kApproved);
      }),
      2u);

  // A Twilio SID (128 random bits, no room for more), and an id naming another group than
  // its recipient's: both found, through the shared index.
  const core::Verification twilio =
      started(kBob, core::new_verification_id(rng, core::IdStyle::kTwilio, kT0, 0));
  const core::RecipientHash carol = nth_recipient(3);
  const auto wrong_group = static_cast<std::uint8_t>(core::placement_of(kTenant, carol) + 1);
  const core::Verification elsewhere =
      started(carol, core::new_verification_id(rng, kT0, wrong_group));
  EXPECT_EQ(cost([&] { EXPECT_TRUE(run(redis.get(kTenant, twilio.id)).value()); }),
            cluster ? 2u : 1u);
  EXPECT_EQ(cost([&] { EXPECT_TRUE(run(redis.get(kTenant, elsewhere.id)).value()); }),
            cluster ? 3u : 1u);
  EXPECT_EQ(cost([&] {
              EXPECT_EQ(run(store_->transition(
                                {kTenant, twilio.id, core::Transition::kCancel, kT0 + seconds(3)}))
                            .value()
                            .verdict,
                        Transit::kDone);
            }),
            cluster ? 3u : 2u);
  // Its job is found all the same, through the index, when the group it names has none.
  run(redis.retry(kTenant, elsewhere.id, kT0 + seconds(5))).value();
  const auto carol_job = schema().job(schema().group_of(kTenant, carol), kTenant, elsewhere.id);
  EXPECT_EQ(redis::decode_job(field(carol_job).value()).value().attempts, 1);
  EXPECT_EQ(
      run(store_->transition({kTenant, elsewhere.id, core::Transition::kApprove, kT0 + seconds(3)}))
          .value()
          .verdict,
      Transit::kDone);

  // Unknown ids: nothing found, in as many round trips as a lookup takes.
  core::Verification unknown = placed;
  unknown.id = core::new_verification_id(rng, kT0, core::placement_of(kTenant, kAlice));
  EXPECT_EQ(cost([&] { EXPECT_FALSE(run(redis.get(kTenant, unknown.id)).value()); }),
            cluster ? 2u : 1u);
  EXPECT_EQ(
      cost([&] {
        EXPECT_EQ(
            run(redis.check(check_request(unknown, "123456", kT0 + seconds(4)))).value().verdict,
            Check::kNotFound);
      }),
      cluster ? 2u : 1u);
}

// The layout version: data of another layout is refused by start-up's check, whichever side
// it is on (layout 1, never released, indexed ids by recipient, not by record).
TEST_P(RedisLayout, DataOfAnotherLayoutIsRefused) {
  RedisStore& redis = store_->redis();
  ASSERT_TRUE(run(redis.init_schema()));
  EXPECT_EQ(run(redis.schema_problem()).value(), std::nullopt);
  const std::string version = schema().schema();
  std::vector<std::string> keys{version};
  for (const int other : {redis::KeySchema::kVersion - 1, redis::KeySchema::kVersion + 1}) {
    std::vector<std::string> set{"SET", version, std::to_string(other)};
    run(redis_->io().command(keys, set)).value();
    const auto problem = run(redis.schema_problem()).value();
    ASSERT_TRUE(problem) << other;
    EXPECT_NE(problem->find("layout " + std::to_string(other)), std::string::npos) << *problem;
    EXPECT_FALSE(run(redis.init_schema())) << "init does not write over it";
  }
}

// A claim of an idempotency key still marked pending (on a Cluster, the claim and the
// recipient's commit are two steps): when its verification is stored, the next request with
// the key replays it and finishes the record; when it is not, that request waits, then gives
// up as unavailable rather than sending twice.
TEST_P(RedisLayout, APendingIdempotencyClaimIsFinishedOrWaitedFor) {
  const core::Verification stored =
      run(store_->start(start_request(kTenant, kAlice, kT0))).value().verification;
  auto claim = [&](const core::Verification& first, const std::string& key_name) {
    redis::IdempotencyEntry entry;
    entry.pending = true;
    entry.record = core::IdempotencyRecord{"h", first, kT0 + hours(24)};
    const std::string name = schema().idempotency(kTenant, key_name);
    std::vector<std::string> keys{name};
    std::vector<std::string> set{"SET", name,
                                 redis::encode_idempotency(entry, kT0 + RedisStore::kPendingClaim)};
    run(redis_->io().command(keys, set)).value();
    return name;
  };

  const std::string finished = claim(stored, "done-elsewhere");
  StartRequest again = start_request(kTenant, kBob, kT0 + seconds(1));
  again.idempotency = core::IdempotencyClaim{"done-elsewhere", "h", kT0 + hours(24)};
  StartOutcome replay = run(store_->start(again)).value();
  EXPECT_EQ(replay.decision.verdict, Send::kReplay);
  EXPECT_EQ(replay.verification.id, stored.id);
  auto entry = redis::decode_idempotency(key(finished).first.value(), kTenant).value();
  EXPECT_FALSE(entry.pending);
  EXPECT_EQ(key(finished).second, core::to_unix_ms(kT0 + hours(24)));

  StartRequest never = start_request(kTenant, nth_recipient(1), kT0);
  claim(never.verification, "never-stored");
  StartRequest waiting = start_request(kTenant, nth_recipient(2), kT0 + seconds(1));
  waiting.idempotency = core::IdempotencyClaim{"never-stored", "h", kT0 + hours(24)};
  auto refused = run(store_->start(waiting));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), make_error(StoreErrc::kUnavailable));
  EXPECT_FALSE(run(store_->get(kTenant, waiting.verification.id)).value().has_value());
}

INSTANTIATE_TEST_SUITE_P(Redis, RedisLayout, ::testing::Values(Kind::kStandalone, Kind::kCluster),
                         [](const auto& info) {
                           return info.param == Kind::kStandalone ? "standalone" : "cluster";
                         });

// ---- a server of its own: frozen, restarted ----------------------------------------------

std::unique_ptr<RedisStore> open_on(const testing_support::RedisServers& servers,
                                    const std::string& options) {
  const std::string url = servers.url();
  auto store =
      RedisStore::open(url + (url.find('?') == std::string::npos ? "?" : "&") + options).value();
  return store;
}

// A standalone server of the test's own (it freezes it); nullptr, with `why`, where none starts.
std::shared_ptr<testing_support::RedisServers> own_standalone_server(std::string& why) {
  try {
    return testing_support::RedisServers::start(Kind::kStandalone);
  } catch (const std::exception& e) {
    why = e.what();
    return nullptr;
  }
}

TEST(RedisStoreOutage, AFrozenServerIsUnavailableWithinTheTimeoutAndWorksOnceThawed) {
  std::string why;
  const auto servers = own_standalone_server(why);
  if (!servers) GTEST_SKIP() << why;
  auto store = open_on(*servers, "timeout_ms=300");
  boost::asio::io_context io;
  const core::Verification v =
      run_blocking(io, store->start(start_request(kTenant, kAlice, kT0))).value().verification;

  servers->freeze();
  const auto unavailable = make_error(StoreErrc::kUnavailable);
  EXPECT_EQ(run_blocking(io, store->start(start_request(kTenant, kBob, kT0))).error(), unavailable);
  EXPECT_EQ(run_blocking(io, store->check(check_request(v, "123456", kT0))).error(), unavailable);
  EXPECT_EQ(run_blocking(io, store->get(kTenant, v.id)).error(), unavailable);
  EXPECT_EQ(run_blocking(io, store->take_due(TakeRequest{kT0, 10, kT0 + seconds(30), {}})).error(),
            unavailable);
  EXPECT_EQ(run_blocking(io, store->ping()).error(), unavailable);

  servers->thaw();
  // The client backs off after the failures (at most about 2 s): then everything works,
  // and the check that failed during the freeze counted nothing.
  Result<core::CheckDecision> checked = unavailable;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!checked && std::chrono::steady_clock::now() < deadline) {
    checked = run_blocking(io, store->check(check_request(v, "123456", kT0 + seconds(1))));
    if (!checked) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(checked);
  EXPECT_EQ(checked->verdict, Check::kApproved);
  EXPECT_TRUE(run_blocking(io, store->ping()));
}

// A store closed while a call waits on a server that does not answer (a frozen or dead
// node at shutdown) lets the call go: it fails, or its frame is destroyed with the store's
// threads. Before, the call and its connection kept each other alive for good (a leak at
// every such shutdown, which LeakSanitizer reported).
TEST(RedisStoreOutage, ClosingTheStoreLetsGoOfACallStillWaitingOnAFrozenServer) {
  std::string why;
  const auto servers = own_standalone_server(why);
  if (!servers) GTEST_SKIP() << why;
  // A timeout far longer than the test: the call is still waiting when the store closes.
  auto store = open_on(*servers, "timeout_ms=20000");
  boost::asio::io_context io;
  const core::Verification v =
      run_blocking(io, store->start(start_request(kTenant, kAlice, kT0))).value().verification;

  servers->freeze();
  struct Ended {
    bool* flag;
    ~Ended() { *flag = true; }
  };
  bool ended = false;
  std::optional<Result<std::optional<core::Verification>>> answer;
  boost::asio::co_spawn(
      io,
      [&]() -> Task<void> {
        const Ended guard{&ended};
        answer = co_await store->get(kTenant, v.id);
      },
      boost::asio::detached);
  io.run_for(std::chrono::milliseconds(300));  // the call reaches the frozen server's socket
  ASSERT_FALSE(ended) << "the call should still be waiting";

  store.reset();
  // Whatever the closed store posted back to this caller runs now.
  io.restart();
  io.run_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(ended) << "the call's frame was neither completed nor destroyed";
  if (answer) {
    EXPECT_FALSE(*answer);
  }
  servers->thaw();
}

// With the AOF fsync'd on every write, what a commit acknowledged is on disk: a server
// killed (SIGKILL) and started again has it, and the store reconnects by itself.
TEST(RedisStoreOutage, AcknowledgedCommitsSurviveAServerKilledAndRestartedWithTheAof) {
  std::shared_ptr<testing_support::RedisServers> servers;
  try {
    servers = testing_support::RedisServers::start(Kind::kStandalone, "", "always");
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  auto store = open_on(*servers, "timeout_ms=500");
  boost::asio::io_context io;
  const core::Verification v =
      run_blocking(io, store->start(start_request(kTenant, kAlice, kT0))).value().verification;
  ASSERT_EQ(
      run_blocking(io, store->check(check_request(v, "000000", kT0 + seconds(1)))).value().verdict,
      Check::kInvalid);

  servers->kill_node(0);
  EXPECT_FALSE(run_blocking(io, store->get(kTenant, v.id)));
  servers->restart_node(0);

  Result<std::optional<core::Verification>> found = make_error(StoreErrc::kUnavailable);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!found && std::chrono::steady_clock::now() < deadline) {
    found = run_blocking(io, store->get(kTenant, v.id));
    if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->attempts, 1);
  EXPECT_EQ(run_blocking(io, store->start(start_request(kTenant, kAlice, kT0 + seconds(2))))
                .value()
                .decision.verdict,
            Send::kCooldown);
}

// ---- callers ---------------------------------------------------------------------------

// The store is called from coroutines on strands of a multi-threaded io_context, as the
// HTTP sessions call it: each call resumes its caller on the caller's strand.
TEST(RedisStoreCallers, CallersOnStrandsResumeOnTheirStrands) {
  auto backend = make_redis_backend(Kind::kStandalone);
  if (!backend) GTEST_SKIP() << "no redis-server here";
  auto store = static_cast<RedisBackend*>(backend.get())->open_clocked();
  boost::asio::io_context io;
  std::atomic<int> done{0};
  for (int s = 0; s < 4; ++s) {
    auto strand = boost::asio::make_strand(io);
    boost::asio::co_spawn(
        strand,
        [&, strand]() -> Task<void> {
          for (int i = 0; i < 50; ++i) {
            auto found = co_await store->get(kTenant, core::VerificationId("none"));
            EXPECT_TRUE(found);
            EXPECT_TRUE(strand.running_in_this_thread());
          }
          ++done;
        },
        boost::asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back([&] { io.run(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(done, 4);
}

}  // namespace
}  // namespace otpd::store::testing
