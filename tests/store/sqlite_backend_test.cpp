// Runs the conformance suite on SqliteStore (a file in a temporary directory per test),
// plus what only the SQLite backend has: the file, its schema versions and migrations, the
// writer thread's group commit and bounded queue, per-thread readers, the process lock and
// the online backup.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/run_blocking.hpp"
#include "store/sqlite/sqlite_backup.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store_conformance.hpp"

extern char** environ;

namespace otpd::store::testing {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using core::CheckVerdict;
using core::SendVerdict;

// A directory of its own per test, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "otpd-store-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

class SqliteBackend final : public Backend {
 public:
  std::unique_ptr<Store> open() override {
    auto store = SqliteStore::open(file()).value();
    store->init_schema_now().value();
    return store;
  }
  std::string file() const { return (dir_.path() / "otpd.db").string(); }

 private:
  TempDir dir_;
};

BackendFactory sqlite_factory() {
  return BackendFactory{"sqlite", [] { return std::make_unique<SqliteBackend>(); },
                        /*persistent=*/true};
}

}  // namespace

OTPD_STORE_CONFORMANCE(Sqlite, (sqlite_factory()));

namespace {

// A plain connection of this process to the same file, as the sqlite3 shell would open it
// (in this process it shares the store's lock, so it can look at and change the file).
class RawConnection {
 public:
  explicit RawConnection(const std::string& file) {
    if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open");
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawConnection() { sqlite3_close(db_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string what = message != nullptr ? message : "?";
      sqlite3_free(message);
      throw std::runtime_error(sql + ": " + what);
    }
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

template <typename T>
T run(Task<T> task) {
  return otpd::run_blocking(std::move(task));
}

const core::TimePoint kNow = core::from_unix_ms(1'900'000'000'000);

// The columns every schema version's verifications table has.
#define OTPD_TEST_COLUMNS                                                              \
  "tenant, id, recipient_hash, masked_to, channel, alphabet, code_length, code_hash, " \
  "status, attempts, max_attempts, created_at, expires_at, resend_at, approved_at, "   \
  "delete_after, delivery, locale, metadata"
const core::TenantId kAcme("acme");

StartRequest simple_start(const std::string& id, core::TimePoint now,
                          const std::string& recipient = "feed") {
  StartRequest r;
  r.verification.tenant = kAcme;
  r.verification.id = core::VerificationId(id);
  r.verification.recipient = core::RecipientHash(recipient);
  r.verification.code_hash = "hmac:123456";
  r.verification.created_at = now;
  r.verification.expires_at = now + core::Seconds(300);
  r.verification.delete_after = now + core::Seconds(3900);
  r.history = {r.verification.recipient};
  r.rules.failures_per_hour = 0;
  r.sealed_delivery = "sealed";
  return r;
}

CheckRequest check_of(const std::string& id, const std::string& hash, core::TimePoint now) {
  CheckRequest c;
  c.tenant = kAcme;
  c.id = core::VerificationId(id);
  c.match = [hash](const core::Verification& v) {
    return v.code_hash == hash ? core::CodeMatch::kRight : core::CodeMatch::kWrong;
  };
  c.now = now;
  return c;
}

SendVerdict started(SqliteStore& store, StartRequest request) {
  return run(store.start(std::move(request))).value().decision.verdict;
}

std::unique_ptr<SqliteStore> open_ready(const std::string& file, SqliteOptions options = {}) {
  auto store = SqliteStore::open(file, std::move(options)).value();
  run(store->init_schema()).value();
  return store;
}

std::string schema_problem(SqliteStore& store) {
  return run(store.schema_problem()).value().value_or("");
}

// Holds the writer thread before its next batch until released, so that a test can queue
// operations behind it and know they all go into one batch.
class WriterGate {
 public:
  std::function<void()> hook() {
    return [this] {
      std::unique_lock lock(mu_);
      ++held_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return open_; });
    };
  }
  void wait_until_held() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [this] { return held_ > 0; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int held_ = 0;
  bool open_ = false;
};

// Polls `done` until it holds or a generous deadline passes.
template <typename Done>
bool eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// ---- schema --------------------------------------------------------------------------

TEST(SqliteStore, ANewFileIsNewAndNeedsInit) {
  TempDir dir;
  auto store = SqliteStore::open(dir.file("new.db")).value();
  EXPECT_TRUE(store->is_new_database().value());
  EXPECT_EQ(schema_problem(*store), "schema version 0, expected 5: run `otpd store init`");
  EXPECT_TRUE(run(store->ping()));  // reachable, just empty

  // Operations before init answer an error, never crash.
  auto early = run(store->get(kAcme, core::VerificationId("x")));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), make_error(StoreErrc::kUnavailable));
  auto early_write = run(store->start(simple_start("x", kNow)));
  ASSERT_FALSE(early_write);
  EXPECT_EQ(early_write.error(), make_error(StoreErrc::kUnavailable));

  ASSERT_TRUE(run(store->init_schema()));
  EXPECT_FALSE(store->is_new_database().value());
  EXPECT_EQ(schema_problem(*store), "");
  ASSERT_TRUE(run(store->init_schema()));  // idempotent
  EXPECT_TRUE(run(store->get(kAcme, core::VerificationId("x"))).value() == std::nullopt);
}

TEST(SqliteStore, AForeignDatabaseIsNotNew) {
  TempDir dir;
  const std::string file = dir.file("foreign.db");
  RawConnection(file).exec("CREATE TABLE something_else (x)");
  auto store = SqliteStore::open(file).value();
  EXPECT_FALSE(store->is_new_database().value());
  EXPECT_EQ(schema_problem(*store), "schema version 0, expected 5: run `otpd store init`");
}

TEST(SqliteStore, ANewerSchemaIsRefused) {
  TempDir dir;
  const std::string file = dir.file("newer.db");
  RawConnection(file).exec("PRAGMA user_version = 6");
  auto store = SqliteStore::open(file).value();
  EXPECT_NE(schema_problem(*store).find("newer"), std::string::npos);
  auto init = run(store->init_schema());
  ASSERT_FALSE(init);
  EXPECT_EQ(init.error(), make_error(StoreErrc::kSchemaMissing));
  store.reset();
  EXPECT_EQ(RawConnection(file).text("PRAGMA user_version"), "6");
}

// A file made by otpd 1 (no counters, no buckets) is not current: serve refuses it, and
// `otpd store init` migrates it keeping what it holds.
TEST(SqliteStore, AVersion1FileIsMigratedByInit) {
  TempDir dir;
  const std::string file = dir.file("v1.db");
  {
    auto store = open_ready(file);
    ASSERT_EQ(started(*store, simple_start("v1", kNow)), SendVerdict::kStart);
  }
  // Version 2 only added these tables (and their indexes, which go with them).
  RawConnection(file).exec(
      "DROP TABLE send_counters; DROP TABLE token_buckets; PRAGMA user_version = 1");

  auto store = SqliteStore::open(file).value();
  EXPECT_FALSE(store->is_new_database().value());
  EXPECT_EQ(schema_problem(*store), "schema version 1, expected 5: run `otpd store init`");
  // The new operations answer an error before the migration, never crash.
  auto early = run(store->take_token(core::TokenSpec{"send:acme", 1, 1}, kNow));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), make_error(StoreErrc::kUnavailable));

  ASSERT_TRUE(run(store->init_schema()));
  EXPECT_EQ(schema_problem(*store), "");
  EXPECT_EQ(RawConnection(file).text("PRAGMA user_version"), "5");
  ASSERT_TRUE(run(store->init_schema()));  // idempotent

  EXPECT_TRUE(run(store->get(kAcme, core::VerificationId("v1"))).value().has_value());
  EXPECT_EQ(run(store->depth()).value(), 1u);
  EXPECT_TRUE(run(store->take_token(core::TokenSpec{"send:acme", 1, 1}, kNow)).value().allowed);
  StartRequest counted = simple_start("v2", kNow + core::Seconds(30));
  counted.counters = {{"daily", 1, core::Seconds(86400)}};
  EXPECT_EQ(started(*store, counted), SendVerdict::kStart);
}

constexpr const char* kVersion2Schema = R"sql(
CREATE TABLE verifications (
  tenant TEXT NOT NULL, id TEXT NOT NULL, recipient_hash TEXT NOT NULL, masked_to TEXT NOT NULL,
  channel TEXT NOT NULL, alphabet TEXT NOT NULL, code_length INTEGER NOT NULL,
  code_hash TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  resend_at INTEGER NOT NULL, approved_at INTEGER, delete_after INTEGER NOT NULL,
  delivery TEXT NOT NULL, locale TEXT NOT NULL, metadata TEXT NOT NULL,
  PRIMARY KEY (tenant, id));
CREATE INDEX verifications_by_recipient ON verifications (tenant, recipient_hash, created_at);
CREATE INDEX verifications_by_delete_after ON verifications (delete_after);
CREATE TABLE sends (tenant TEXT NOT NULL, recipient_hash TEXT NOT NULL, sent_at INTEGER NOT NULL);
CREATE INDEX sends_by_recipient ON sends (tenant, recipient_hash, sent_at);
CREATE TABLE failures (tenant TEXT NOT NULL, recipient_hash TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX failures_by_recipient ON failures (tenant, recipient_hash, at);
CREATE TABLE deliveries (
  tenant TEXT NOT NULL, id TEXT NOT NULL, channel TEXT NOT NULL, sealed BLOB NOT NULL,
  attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id));
CREATE INDEX deliveries_by_next_attempt ON deliveries (next_attempt_at);
CREATE TABLE idempotency (
  tenant TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, state TEXT NOT NULL,
  status INTEGER NOT NULL, response_body TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, key));
CREATE TABLE send_counters (
  key TEXT NOT NULL, window_start INTEGER NOT NULL, window_end INTEGER NOT NULL,
  count INTEGER NOT NULL, PRIMARY KEY (key, window_start, window_end));
CREATE INDEX send_counters_by_window_end ON send_counters (window_end);
CREATE TABLE token_buckets (
  key TEXT NOT NULL PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL,
  full_at INTEGER NOT NULL);
CREATE INDEX token_buckets_by_full_at ON token_buckets (full_at);
PRAGMA user_version = 2;
)sql";

// `otpd store init` on a version 2 file rebuilds its tables WITHOUT ROWID and keeps every
// row: the code verifies, its job is still queued, its send still counts in the window, and
// the counter and bucket still say what they said. (v4 drops v3's idempotency records.)
TEST(SqliteStore, AVersion2FileIsRebuiltKeepingItsRows) {
  TempDir dir;
  const std::string file = dir.file("v2.db");
  const long long now = core::to_unix_ms(kNow);
  {
    RawConnection raw(file);
    raw.exec("PRAGMA journal_mode=WAL");
    raw.exec(kVersion2Schema);
    const std::string t = std::to_string(now);
    raw.exec(
        "INSERT INTO verifications VALUES ('acme', 'v1', 'feed', 'a***', 'email', 'digits', 6,"
        " 'hmac:123456', 'pending', 0, 5, " +
        t + ", " + std::to_string(now + 300'000) + ", " + std::to_string(now + 30'000) +
        ", NULL, " + std::to_string(now + 3'900'000) + ", 'queued', 'en', '{}');" +
        "INSERT INTO sends VALUES ('acme', 'feed', " + t + ");" +
        "INSERT INTO deliveries VALUES ('acme', 'v1', 'email', x'00ff', 0, " + t + ", " +
        std::to_string(now + 300'000) + ");" +
        "INSERT INTO idempotency VALUES ('acme', 'k1', 'h1', 'complete', 201, '{}', " +
        std::to_string(now + 86'400'000) + ");" + "INSERT INTO send_counters VALUES ('daily', 0, " +
        std::to_string(now + 86'400'000) + ", 1);" +
        "INSERT INTO token_buckets VALUES ('send:acme', 0.0, " + t + ", " +
        std::to_string(now + 1000) + ");");
  }
  auto store = SqliteStore::open(file).value();
  EXPECT_EQ(schema_problem(*store), "schema version 2, expected 5: run `otpd store init`");
  ASSERT_TRUE(run(store->init_schema()));
  EXPECT_EQ(schema_problem(*store), "");
  ASSERT_TRUE(run(store->init_schema()));  // idempotent

  RawConnection raw(file);
  for (const char* table : {"idempotency", "send_counters", "token_buckets"}) {
    EXPECT_NE(raw.text(std::string("SELECT sql FROM sqlite_master WHERE name = '") + table + "'")
                  .find("WITHOUT ROWID"),
              std::string::npos)
        << table;
  }
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v3'"), "0");
  EXPECT_EQ(raw.text("SELECT count(*) FROM idempotency"), "0");
  // v5: the send record and the job are the verification's own now.
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE name IN ('sends', 'deliveries')"),
            "0");

  TakeRequest take;
  take.now = kNow;
  take.max = 10;
  take.lease_until = kNow + core::Seconds(20);
  auto job = run(store->take_due(take)).value();
  ASSERT_EQ(job.size(), 1u);
  EXPECT_EQ(job[0].sealed, std::string("\0\xff", 2));
  EXPECT_EQ(
      run(store->check(check_of("v1", "hmac:123456", kNow + core::Seconds(1)))).value().verdict,
      CheckVerdict::kApproved);
  // The migrated send still counts: a window of one send refuses the next.
  StartRequest again = simple_start("v2", kNow + core::Seconds(60));
  again.rules.max_sends_per_window = 1;
  EXPECT_EQ(started(*store, again), SendVerdict::kSendLimit);
  EXPECT_EQ(raw.text("SELECT count FROM send_counters WHERE key = 'daily'"), "1");
  EXPECT_FALSE(
      run(store->take_token(core::TokenSpec{"send:acme", 0.001, 1}, kNow)).value().allowed);
}

// The schema otpd 4 wrote, frozen here as that version's files hold it.
constexpr const char* kVersion4Schema = R"sql(
CREATE TABLE verifications (
  tenant TEXT NOT NULL, id TEXT NOT NULL, recipient_hash TEXT NOT NULL, masked_to TEXT NOT NULL,
  channel TEXT NOT NULL, alphabet TEXT NOT NULL, code_length INTEGER NOT NULL,
  code_hash TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  resend_at INTEGER NOT NULL, approved_at INTEGER, delete_after INTEGER NOT NULL,
  delivery TEXT NOT NULL, locale TEXT NOT NULL, metadata TEXT NOT NULL,
  PRIMARY KEY (tenant, id));
CREATE INDEX verifications_by_recipient ON verifications (tenant, recipient_hash, created_at);
CREATE INDEX verifications_by_delete_after ON verifications (delete_after);
CREATE TABLE sends (
  tenant TEXT NOT NULL, recipient_hash TEXT NOT NULL, sent_at INTEGER NOT NULL, id TEXT NOT NULL,
  PRIMARY KEY (tenant, recipient_hash, sent_at, id)) WITHOUT ROWID;
CREATE TABLE deliveries (
  tenant TEXT NOT NULL, id TEXT NOT NULL, channel TEXT NOT NULL, sealed BLOB NOT NULL,
  attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)) WITHOUT ROWID;
CREATE INDEX deliveries_by_next_attempt ON deliveries (next_attempt_at);
CREATE TABLE failures (tenant TEXT NOT NULL, recipient_hash TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX failures_by_recipient ON failures (tenant, recipient_hash, at);
CREATE TABLE idempotency (
  tenant TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, state TEXT NOT NULL,
  status INTEGER NOT NULL, response_body TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, key)) WITHOUT ROWID;
CREATE TABLE send_counters (
  key TEXT NOT NULL, window_start INTEGER NOT NULL, window_end INTEGER NOT NULL,
  count INTEGER NOT NULL, PRIMARY KEY (key, window_start, window_end)) WITHOUT ROWID;
CREATE INDEX send_counters_by_window_end ON send_counters (window_end);
CREATE TABLE token_buckets (
  key TEXT NOT NULL PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL,
  full_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX token_buckets_by_full_at ON token_buckets (full_at);
)sql";

// `otpd store init` on a version 4 file moves each delivery job into its verification
// (attempts and lease kept, a job without a verification dropped) and drops the send
// records, whose count the verifications now give: the job is taken when its lease ends,
// with the attempts it had, and the window still counts both sends.
TEST(SqliteStore, AVersion4FileFoldsJobsAndSendsIntoVerifications) {
  TempDir dir;
  const std::string file = dir.file("v4.db");
  const long long now = core::to_unix_ms(kNow);
  const std::string t = std::to_string(now);
  {
    RawConnection raw(file);
    raw.exec("PRAGMA journal_mode=WAL");
    raw.exec(kVersion4Schema);
    const auto row = [&](const std::string& id, long long created, const char* delivery) {
      return "INSERT INTO verifications VALUES ('acme', '" + id +
             "', 'feed', 'a***', 'email', 'digits', 6, 'hmac:123456', 'pending', 0, 5, " +
             std::to_string(created) + ", " + std::to_string(created + 300'000) + ", " +
             std::to_string(created + 30'000) + ", NULL, " + std::to_string(created + 3'900'000) +
             ", '" + delivery + "', 'en', '{}');" + "INSERT INTO sends VALUES ('acme', 'feed', " +
             std::to_string(created) + ", '" + id + "');";
    };
    raw.exec(row("old", now - 60'000, "sent") + row("v1", now, "queued") +
             "INSERT INTO deliveries VALUES ('acme', 'v1', 'email', x'00ff', 2, " +
             std::to_string(now + 20'000) + ", " + std::to_string(now + 300'000) + ");" +
             "INSERT INTO deliveries VALUES ('acme', 'gone', 'email', x'01', 0, " + t + ", " +
             std::to_string(now + 300'000) + ");" + "PRAGMA user_version = 4");
  }
  auto store = SqliteStore::open(file).value();
  EXPECT_EQ(schema_problem(*store), "schema version 4, expected 5: run `otpd store init`");
  ASSERT_TRUE(run(store->init_schema()));
  EXPECT_EQ(schema_problem(*store), "");
  ASSERT_TRUE(run(store->init_schema()));  // idempotent

  RawConnection raw(file);
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE name IN ('sends', 'deliveries')"),
            "0");
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE name = 'verifications_due'"), "1");
  EXPECT_EQ(run(store->depth()).value(), 1u) << "the job without a verification is dropped";

  TakeRequest take;
  take.now = kNow;
  take.max = 10;
  take.lease_until = kNow + core::Seconds(40);
  EXPECT_TRUE(run(store->take_due(take)).value().empty()) << "still leased";
  take.now = kNow + core::Seconds(20);
  auto jobs = run(store->take_due(take)).value();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, core::VerificationId("v1"));
  EXPECT_EQ(jobs[0].attempts, 2);
  EXPECT_EQ(jobs[0].sealed, std::string("\0\xff", 2));
  EXPECT_EQ(jobs[0].expires_at, kNow + core::Seconds(300));

  // Both migrated sends count: a window of two refuses a third.
  StartRequest third = simple_start("v2", kNow + core::Seconds(200));
  third.rules.max_sends_per_window = 2;
  EXPECT_EQ(started(*store, third), SendVerdict::kSendLimit);
  third.rules.max_sends_per_window = 3;
  EXPECT_EQ(started(*store, third), SendVerdict::kStart);
  EXPECT_EQ(run(store->depth()).value(), 1u) << "v2's job replaces v1's, which it superseded";
}

// A version 3 file's idempotency records hold a response body, which version 4 cannot
// replay: `otpd store init` drops them and keeps everything else.
TEST(SqliteStore, AVersion3FileLosesOnlyItsIdempotencyRecords) {
  TempDir dir;
  const std::string file = dir.file("v3.db");
  {
    auto store = open_ready(file);
    ASSERT_EQ(started(*store, simple_start("v1", kNow)), SendVerdict::kStart);
  }
  RawConnection(file).exec(
      "INSERT INTO idempotency VALUES ('acme', 'k1', 'h1', 'complete', 201, '{\"id\":\"v1\"}', " +
      std::to_string(core::to_unix_ms(kNow) + 86'400'000) + "); PRAGMA user_version = 3");

  auto store = SqliteStore::open(file).value();
  EXPECT_EQ(schema_problem(*store), "schema version 3, expected 5: run `otpd store init`");
  ASSERT_TRUE(run(store->init_schema()));
  EXPECT_EQ(schema_problem(*store), "");
  RawConnection raw(file);
  EXPECT_EQ(raw.text("PRAGMA user_version"), "5");
  EXPECT_EQ(raw.text("SELECT count(*) FROM idempotency"), "0");

  EXPECT_TRUE(run(store->get(kAcme, core::VerificationId("v1"))).value().has_value());
  EXPECT_EQ(run(store->depth()).value(), 1u);
  // The pending code's cooldown was kept with it.
  EXPECT_EQ(started(*store, simple_start("v2", kNow + core::Seconds(1))), SendVerdict::kCooldown);
  // The key is free: claimed afresh, then replayed from the new record.
  StartRequest claimed = simple_start("v3", kNow + core::Seconds(2), "f00d");
  claimed.idempotency = core::IdempotencyClaim{"k1", "h1", kNow + core::Seconds(86400)};
  EXPECT_EQ(started(*store, claimed), SendVerdict::kStart);
  StartRequest replayed = simple_start("v4", kNow + core::Seconds(3), "f00d");
  replayed.idempotency = claimed.idempotency;
  StartOutcome replay = run(store->start(replayed)).value();
  EXPECT_EQ(replay.decision.verdict, SendVerdict::kReplay);
  EXPECT_EQ(replay.verification.id, core::VerificationId("v3"));
}

// Tables made by hand (or by a migration that failed after its DDL) before user_version was
// set: the migration tolerates tables that already exist.
TEST(SqliteStore, MigrationToleratesTablesThatAlreadyExist) {
  TempDir dir;
  const std::string file = dir.file("half.db");
  open_ready(file).reset();
  RawConnection(file).exec("PRAGMA user_version = 1");
  auto store = open_ready(file);
  EXPECT_EQ(schema_problem(*store), "");
}

// ---- the writer ----------------------------------------------------------------------

// N starts from two threads, queued while the writer is held, finish in one commit.
TEST(SqliteStore, ConcurrentWritesShareOneCommit) {
  TempDir dir;
  const std::string file = dir.file("group.db");
  open_ready(file).reset();
  WriterGate gate;
  SqliteOptions options;
  options.before_batch = gate.hook();
  auto store = SqliteStore::open(file, options).value();
  const auto commits_before = store->commits();

  constexpr int kPerThread = 40;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  for (int t = 0; t < 2; ++t) ios.push_back(std::make_unique<asio::io_context>());
  for (int t = 0; t < 2; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      asio::co_spawn(*ios[t], store->start(simple_start(id, kNow, "r" + id)),
                     [&ok](std::exception_ptr, Result<StartOutcome> r) {
                       if (r && r->decision.verdict == SendVerdict::kStart) ++ok;
                     });
    }
    threads.emplace_back([&io = *ios[t]] { io.run(); });
  }
  gate.wait_until_held();
  ASSERT_TRUE(eventually([&] { return store->queued_writes() == 2 * kPerThread; }));
  gate.open();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 2 * kPerThread);
  const auto commits = store->commits() - commits_before;
  EXPECT_GE(commits, 1u);
  EXPECT_LT(commits, static_cast<std::uint64_t>(2 * kPerThread));
  EXPECT_EQ(commits, 1u) << "everything queued behind the held writer is one batch";
}

// A failing operation rolls back its own savepoint only: its neighbours in the batch are
// committed, and what it wrote before failing (here: canceling the code it superseded) is
// undone.
TEST(SqliteStore, AFailingOperationDoesNotUndoItsNeighbours) {
  TempDir dir;
  const std::string file = dir.file("batch.db");
  open_ready(file).reset();
  WriterGate gate;
  SqliteOptions options;
  options.before_batch = gate.hook();
  auto store = SqliteStore::open(file, options).value();
  const auto commits_before = store->commits();

  asio::io_context io;
  std::vector<std::optional<Result<StartOutcome>>> results(4);
  auto spawn = [&](std::size_t i, StartRequest r) {
    asio::co_spawn(io, store->start(std::move(r)),
                   [&results, i](std::exception_ptr, Result<StartOutcome> r) { results[i] = r; });
  };
  spawn(0, simple_start("first", kNow, "alice"));
  spawn(1, simple_start("a", kNow, "bob"));
  // The same id again for alice, past the cooldown: it supersedes "first" (cancels it) and
  // then fails on the duplicate primary key.
  StartRequest duplicate = simple_start("first", kNow + core::Seconds(31), "alice");
  spawn(2, duplicate);
  spawn(3, simple_start("b", kNow, "carol"));
  std::thread runner([&] { io.run(); });
  gate.wait_until_held();
  ASSERT_TRUE(eventually([&] { return store->queued_writes() == 4; }));
  gate.open();
  runner.join();

  ASSERT_TRUE(results[0] && *results[0]);
  ASSERT_TRUE(results[1] && *results[1]);
  ASSERT_TRUE(results[2]);
  ASSERT_FALSE(*results[2]);
  EXPECT_EQ(results[2]->error(), make_error(StoreErrc::kUnavailable));
  ASSERT_TRUE(results[3] && *results[3]);
  EXPECT_EQ(store->commits() - commits_before, 1u);

  auto first = run(store->get(kAcme, core::VerificationId("first"))).value();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, core::Status::kPending) << "the failed supersede was rolled back";
  EXPECT_TRUE(run(store->get(kAcme, core::VerificationId("a"))).value());
  EXPECT_TRUE(run(store->get(kAcme, core::VerificationId("b"))).value());
  EXPECT_EQ(run(store->depth()).value(), 3u);
}

// Past the bound, an operation fails at once with kUnavailable instead of waiting.
TEST(SqliteStore, AFullQueueAnswersUnavailableAtOnce) {
  TempDir dir;
  const std::string file = dir.file("bound.db");
  open_ready(file).reset();
  WriterGate gate;
  SqliteOptions options;
  options.max_queued_writes = 4;
  options.before_batch = gate.hook();
  auto store = SqliteStore::open(file, options).value();

  asio::io_context io;
  std::atomic<int> refused{0};
  std::atomic<int> done{0};
  for (int i = 0; i < 10; ++i) {
    const std::string id = "q" + std::to_string(i);
    asio::co_spawn(io, store->start(simple_start(id, kNow, "r" + id)),
                   [&](std::exception_ptr, Result<StartOutcome> r) {
                     if (!r && r.error() == make_error(StoreErrc::kUnavailable)) ++refused;
                     ++done;
                   });
  }
  std::thread runner([&] { io.run(); });
  gate.wait_until_held();
  // The writer holds none of them yet: four wait in the queue, six were refused, and those
  // six are answered while the writer is still held.
  ASSERT_TRUE(eventually([&] { return done.load() == 6; }));
  EXPECT_EQ(refused.load(), 6);
  EXPECT_EQ(store->queued_writes(), 4u);
  gate.open();
  runner.join();
  EXPECT_EQ(refused.load(), 6);
  EXPECT_EQ(done.load(), 10);
  EXPECT_EQ(run(store->depth()).value(), 4u);
}

// The writer never runs the caller: a coroutine resumes on the thread running its own
// io_context, after the commit.
TEST(SqliteStore, CompletionsRunOnTheCallersExecutor) {
  TempDir dir;
  auto store = open_ready(dir.file("executor.db"));
  asio::io_context io;
  std::thread::id resumed_on;
  std::optional<SendVerdict> verdict;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        auto r = co_await store->start(simple_start("v1", kNow));
        resumed_on = std::this_thread::get_id();
        verdict = r.value().decision.verdict;
      },
      asio::detached);
  std::thread runner([&] { io.run(); });
  const auto runner_id = runner.get_id();
  runner.join();
  EXPECT_EQ(resumed_on, runner_id);
  EXPECT_EQ(verdict, SendVerdict::kStart);
}

// A read on any thread sees every commit that completed before it, though each thread
// reads on a connection of its own that was opened (and had read) before those commits.
TEST(SqliteStore, ReadsSeeCompletedCommitsOnEveryThread) {
  TempDir dir;
  auto store = open_ready(dir.file("reads.db"));
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string id = "v" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_FALSE(run(store->get(kAcme, core::VerificationId(id))).value());
        ASSERT_EQ(started(*store, simple_start(id, kNow, "r" + id)), SendVerdict::kStart);
        auto seen = run(store->get(kAcme, core::VerificationId(id))).value();
        ASSERT_TRUE(seen) << id;
        EXPECT_EQ(seen->status, core::Status::kPending);
        // And a check's commit is seen by the next read as well.
        ASSERT_EQ(
            run(store->check(check_of(id, "hmac:123456", kNow + core::Seconds(1)))).value().verdict,
            CheckVerdict::kApproved);
        EXPECT_EQ(run(store->get(kAcme, core::VerificationId(id))).value()->status,
                  core::Status::kApproved);
      }
    });
  }
  for (auto& t : readers) t.join();
}

// What a completed operation wrote is in the file when the store is opened again.
TEST(SqliteStore, CommittedWritesSurviveReopening) {
  TempDir dir;
  const std::string file = dir.file("reopen.db");
  {
    auto store = open_ready(file);
    ASSERT_EQ(started(*store, simple_start("kept", kNow)), SendVerdict::kStart);
    ASSERT_EQ(
        run(store->check(check_of("kept", "hmac:wrong", kNow + core::Seconds(1)))).value().verdict,
        CheckVerdict::kInvalid);
  }
  auto store = SqliteStore::open(file).value();
  auto kept = run(store->get(kAcme, core::VerificationId("kept"))).value();
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->attempts, 1);
  EXPECT_EQ(run(store->depth()).value(), 1u);
}

// A sweep bigger than one slice deletes everything due, in several commits.
TEST(SqliteStore, SweepRunsInSlices) {
  TempDir dir;
  const std::string file = dir.file("slices.db");
  auto store = open_ready(file);
  constexpr int kRows = 600;  // more than two slices of 256
  {
    RawConnection raw(file);
    raw.exec("BEGIN");
    for (int i = 0; i < kRows; ++i) {
      const std::string n = std::to_string(i);
      raw.exec("INSERT INTO verifications (" OTPD_TEST_COLUMNS ") VALUES ('acme', 'v" + n +
               "', 'r" + n +
               "', 'a***', 'email', 'digits', 6, 'h', 'pending', 0, 5, 1, 2, 3,"
               " NULL, 4, 'sent', 'en', '')");
    }
    raw.exec("COMMIT");
  }
  const auto commits_before = store->commits();
  EXPECT_EQ(run(store->sweep(kNow, core::Seconds(7200))).value(), static_cast<std::size_t>(kRows));
  EXPECT_GE(store->commits() - commits_before, 3u);
  EXPECT_EQ(RawConnection(file).text("SELECT count(*) FROM verifications"), "0");
}

// Counter rows hold one fixed window each; bucket rows say when they are full again; sweep
// drops each exactly when it no longer matters.
TEST(SqliteStore, SweepDropsCounterAndBucketRowsOnceLapsed) {
  TempDir dir;
  const std::string file = dir.file("sweep.db");
  auto store = open_ready(file);
  const core::Seconds horizon(7200);

  StartRequest request = simple_start("v1", kNow);
  request.counters = {
      {"minute", 10, core::Seconds(60)}, {"day", 10, core::Seconds(86400)}, {"off", 0}};
  ASSERT_EQ(started(*store, request), SendVerdict::kStart);
  ASSERT_TRUE(run(store->take_token(core::TokenSpec{"fast", 10, 1}, kNow)).value().allowed);
  ASSERT_TRUE(run(store->take_token(core::TokenSpec{"slow", 0.01, 1}, kNow)).value().allowed);
  ASSERT_TRUE(run(store->take_token(core::TokenSpec{"free", 0, 1}, kNow)).value().allowed);

  RawConnection raw(file);
  EXPECT_EQ(raw.text("SELECT count(*) FROM send_counters"), "2");
  // kNow is 40 s into its minute and 64,000 s into its UTC day.
  EXPECT_EQ(raw.text("SELECT window_start || ' ' || window_end || ' ' || count FROM send_counters"
                     " WHERE key = 'minute'"),
            "1899999960000 1900000020000 1");
  EXPECT_EQ(raw.text("SELECT count(*) FROM token_buckets"), "2");

  EXPECT_EQ(run(store->sweep(kNow + core::Millis(99), horizon)).value(), 0u);
  EXPECT_EQ(run(store->sweep(kNow + core::Millis(100), horizon)).value(), 1u);
  EXPECT_EQ(raw.text("SELECT group_concat(key) FROM token_buckets"), "slow");
  EXPECT_EQ(run(store->sweep(kNow + core::Seconds(20), horizon)).value(), 1u);
  EXPECT_EQ(raw.text("SELECT group_concat(key) FROM send_counters"), "day");
  EXPECT_EQ(run(store->sweep(kNow + core::Seconds(100), horizon)).value(), 1u);
  EXPECT_EQ(raw.text("SELECT count(*) FROM token_buckets"), "0");
}

// A refusal writes nothing: the row still says what it said after the last token taken.
TEST(SqliteStore, ARefusedTakeLeavesTheBucketRowAlone) {
  TempDir dir;
  const std::string file = dir.file("bucket.db");
  auto store = open_ready(file);
  ASSERT_TRUE(run(store->take_token(core::TokenSpec{"k", 1, 1}, kNow)).value().allowed);
  RawConnection raw(file);
  const std::string row = "SELECT tokens || ' ' || updated_at || ' ' || full_at FROM token_buckets";
  const std::string before = raw.text(row);
  EXPECT_EQ(before, "0.0 1900000000000 1900000001000");
  EXPECT_FALSE(
      run(store->take_token(core::TokenSpec{"k", 1, 1}, kNow + core::Millis(500))).value().allowed);
  EXPECT_EQ(raw.text(row), before);
}

// ---- the file ------------------------------------------------------------------------

TEST(SqliteStore, UsesWriteAheadLoggingWithTheWalIndexInMemory) {
  TempDir dir;
  const std::string file = dir.file("wal.db");
  auto store = open_ready(file);
  ASSERT_EQ(started(*store, simple_start("v1", kNow)), SendVerdict::kStart);
  EXPECT_TRUE(run(store->get(kAcme, core::VerificationId("v1"))).value());
  EXPECT_EQ(RawConnection(file).text("PRAGMA journal_mode"), "wal");
  EXPECT_TRUE(fs::exists(file + "-wal"));
  EXPECT_FALSE(fs::exists(file + "-shm")) << "unix-excl keeps the WAL index in heap memory";
}

// Nobody calls a checkpoint and SQLite's auto-checkpoint is off: the background thread
// copies the WAL into the file, and the writer copies the last frames, so the WAL is
// reused instead of growing with every write.
TEST(SqliteStore, TheWalIsCheckpointedInTheBackground) {
  TempDir dir;
  const fs::path file = dir.path() / "checkpoint.db";
  const fs::path wal = dir.path() / "checkpoint.db-wal";
  auto store = open_ready(file.string());
  const auto file_size_at_start = fs::file_size(file);

  // Past the 1000-page threshold (frames of a 4 KiB page and a 24-byte header), one start
  // at a time as requests would. (Stopping at 1000 * 4096 bytes, 994 frames, left the
  // copy to the quiet-time checkpoint, 10 s later.)
  int n = 0;
  while (fs::file_size(wal) < 32u + 1001u * (4096u + 24u) && n < 20'000) {
    const std::string id = "v" + std::to_string(n);
    ASSERT_EQ(started(*store, simple_start(id, kNow, "r" + id)), SendVerdict::kStart);
    ++n;
  }
  const auto first_round = n;
  ASSERT_TRUE(eventually([&] { return fs::file_size(file) > file_size_at_start; }))
      << "nothing was copied into the file";

  // As many writes again: once checkpointed, the WAL starts over from its beginning.
  for (int i = 0; i < first_round; ++i) {
    const std::string id = "w" + std::to_string(i);
    ASSERT_EQ(started(*store, simple_start(id, kNow, "s" + id)), SendVerdict::kStart);
  }
  EXPECT_LT(fs::file_size(wal), 3u * 1000u * 4096u);
  EXPECT_EQ(RawConnection(file.string()).text("SELECT count(*) FROM verifications"),
            std::to_string(2 * first_round));
}

// Starts on two threads, each with 64 in flight at all times (as 128 connections would
// have), until `enough()` (checked before each start) or `limit` has passed. Returns how
// many were started; every one of them must have succeeded.
template <typename Enough>
int steady_starts(SqliteStore& store, std::chrono::seconds limit, Enough enough) {
  constexpr int kInFlight = 64;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::atomic<int> ok{0};
  std::atomic<int> issued{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      asio::io_context io;
      auto next = std::make_shared<int>(0);
      std::function<void()> start_one = [&, t, next] {
        if (enough() || std::chrono::steady_clock::now() > deadline) return;
        const std::string id = "s" + std::to_string(t) + "-" + std::to_string((*next)++);
        ++issued;
        asio::co_spawn(io, store.start(simple_start(id, kNow, "r" + id)),
                       [&](std::exception_ptr, Result<StartOutcome> r) {
                         if (r && r->decision.verdict == SendVerdict::kStart) ++ok;
                         start_one();
                       });
      };
      for (int i = 0; i < kInFlight; ++i) start_one();
      io.run();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), issued.load());
  return issued.load();
}

// Under a steady stream of group commits, as under load, the checkpointer is woken by
// nearly every commit. It must leave the writer room to copy the last frames: a background
// checkpoint running at that moment made the writer's give up (SQLITE_BUSY), the WAL never
// started over and grew by about 100 MB/s, and cutting it back inside a commit held every
// queued send for up to a third of a second.
TEST(SqliteStore, TheWritersCopyOfTheLastFramesIsNeverCutShort) {
  TempDir dir;
  auto store = open_ready(dir.file("steady.db"));
  // Until the writer has copied the last frames twice (a cycle takes a second or more in
  // an optimised build). A build too slow to outrun the checkpointer (the sanitizers')
  // never needs a tail copy: then there is nothing to check.
  constexpr std::uint64_t kTails = 2;
  const int starts = steady_starts(*store, std::chrono::seconds(15), [&] {
    return store->checkpoint_counts().tail_copies >= kTails;
  });
  const auto counts = store->checkpoint_counts();
  if (counts.tail_copies == 0) {
    GTEST_SKIP() << starts << " starts in 15 s never outran the background checkpoint";
  }
  EXPECT_EQ(counts.incomplete_tail_copies, 0u)
      << "copies of the last frames cut short, of " << counts.tail_copies;
}

// The WAL file is not cut back inside a commit (that held the commit's sends for 50 to
// 340 ms): a burst leaves it large, and the first quiet moment cuts it back.
TEST(SqliteStore, AWalLeftLargeByABurstIsCutBackOnceQuiet) {
  TempDir dir;
  const fs::path file = dir.path() / "burst.db";
  const fs::path wal = dir.path() / "burst.db-wal";
  SqliteOptions options;
  options.quiet_checkpoint_interval = std::chrono::milliseconds(200);
  auto store = open_ready(file.string(), options);
  ASSERT_EQ(started(*store, simple_start("v1", kNow)), SendVerdict::kStart);

  // The burst, made independent of the machine's speed: one 24 MiB commit by a second
  // connection of this process (the same in-memory WAL index, through unix-excl).
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE, "unix-excl"), SQLITE_OK);
    sqlite3_busy_timeout(raw, 5000);
    ASSERT_EQ(sqlite3_exec(raw,
                           "PRAGMA wal_autocheckpoint=0; CREATE TABLE test_padding(x BLOB);"
                           "INSERT INTO test_padding VALUES (zeroblob(24 * 1024 * 1024))",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  ASSERT_GT(fs::file_size(wal), 24u << 20);

  EXPECT_TRUE(eventually([&] { return store->checkpoint_counts().wal_shrinks >= 1; }));
  EXPECT_LE(fs::file_size(wal), 16u << 20);
  // Nothing was lost, and the store goes on.
  ASSERT_EQ(started(*store, simple_start("v2", kNow, "r2")), SendVerdict::kStart);
  EXPECT_EQ(RawConnection(file.string()).text("SELECT count(*) FROM verifications"), "2");
}

TEST(SqliteStore, NotADatabaseIsCorrupt) {
  TempDir dir;
  const std::string file = dir.file("garbage.db");
  std::ofstream(file) << std::string(4096, 'x');
  auto store = SqliteStore::open(file);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error(), make_error(StoreErrc::kCorrupt));
}

TEST(SqliteStore, AMissingDirectoryIsUnavailable) {
  TempDir dir;
  auto store = SqliteStore::open((dir.path() / "no" / "such" / "dir.db").string());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error(), make_error(StoreErrc::kUnavailable));
}

// A write lock held past the busy timeout (here by another connection of this process):
// the batch gives up with kUnavailable, changes nothing, and the store works once the
// lock is gone. Takes ~5 s.
TEST(SqliteStore, AWriteLockHeldElsewhereTimesOutAsUnavailable) {
  TempDir dir;
  const std::string file = dir.file("locked.db");
  auto store = open_ready(file);
  {
    RawConnection other(file);
    other.exec("BEGIN IMMEDIATE");
    auto blocked = run(store->start(simple_start("v1", kNow)));
    ASSERT_FALSE(blocked);
    EXPECT_EQ(blocked.error(), make_error(StoreErrc::kUnavailable));
    // Reads are not blocked by a writer in WAL mode.
    EXPECT_TRUE(run(store->get(kAcme, core::VerificationId("v1"))).value() == std::nullopt);
    other.exec("ROLLBACK");
  }
  EXPECT_EQ(run(store->depth()).value(), 0u);
  EXPECT_EQ(started(*store, simple_start("v1", kNow)), SendVerdict::kStart);
}

// A failure in the middle of an operation rolls back what it wrote before: here a send
// supersedes (cancels) the pending code and then collides on an id already taken.
TEST(SqliteStore, AFailedStepRollsBackTheWholeOperation) {
  TempDir dir;
  const std::string file = dir.file("rollback.db");
  auto store = open_ready(file);
  ASSERT_EQ(started(*store, simple_start("v0", kNow)), SendVerdict::kStart);
  RawConnection(file).exec("INSERT INTO verifications (" OTPD_TEST_COLUMNS
                           ") VALUES ('acme', 'taken', 'other', 'a***', 'email', 'digits', 6,"
                           " 'h', 'pending', 0, 5, 1, 2, 3, NULL, 4, 'sent', 'en', '')");

  StartRequest colliding = simple_start("taken", kNow + core::Seconds(31));
  colliding.counters = {{"daily", 10, core::Seconds(86400)}};
  auto failed = run(store->start(colliding));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), make_error(StoreErrc::kUnavailable));
  RawConnection raw(file);
  EXPECT_EQ(raw.text("SELECT status FROM verifications WHERE id = 'v0'"), "pending");
  EXPECT_EQ(raw.text("SELECT sealed IS NOT NULL FROM verifications WHERE id = 'v0'"), "1");
  EXPECT_EQ(raw.text("SELECT count(*) FROM send_counters"), "0");

  // Nothing was counted: under a free id the same send goes through, with the cooldown of a
  // second send (the first one's), not a third.
  colliding.verification.id = core::VerificationId("free");
  auto again = run(store->start(colliding));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->decision.verdict, SendVerdict::kStart);
  EXPECT_EQ(again->superseded, core::VerificationId("v0"));
  EXPECT_EQ(again->verification.resend_at, kNow + core::Seconds(31 + 60));
  EXPECT_EQ(raw.text("SELECT count FROM send_counters"), "1");
}

TEST(SqliteStore, StoresTimesAsMillisAndEnumsAsNames) {
  TempDir dir;
  const std::string file = dir.file("at-rest.db");
  auto store = open_ready(file);
  ASSERT_EQ(started(*store, simple_start("v1", kNow)), SendVerdict::kStart);
  RawConnection raw(file);
  EXPECT_EQ(raw.text("SELECT code_hash FROM verifications"), "hmac:123456");
  EXPECT_EQ(raw.text("SELECT status FROM verifications"), "pending");
  EXPECT_EQ(raw.text("SELECT delivery FROM verifications"), "queued");
  EXPECT_EQ(raw.text("SELECT created_at FROM verifications"), "1900000000000");
}

// An in-memory store (the fuzzers') has no readers of its own: its reads go through the
// writer, and still see its writes.
TEST(SqliteStore, AnInMemoryStoreWorks) {
  auto store = open_ready(":memory:");
  ASSERT_EQ(started(*store, simple_start("v1", kNow)), SendVerdict::kStart);
  EXPECT_TRUE(run(store->get(kAcme, core::VerificationId("v1"))).value());
  EXPECT_EQ(run(store->depth()).value(), 1u);
}

// ---- backup and other processes ------------------------------------------------------

// The backup is a consistent, self-contained copy made while the store keeps writing.
TEST(SqliteStore, BackupCopiesTheLiveStore) {
  TempDir dir;
  const std::string file = dir.file("live.db");
  const std::string copy = dir.file("copy.db");
  auto store = open_ready(file);
  for (int i = 0; i < 20; ++i) {
    const std::string id = "v" + std::to_string(i);
    ASSERT_EQ(started(*store, simple_start(id, kNow, "r" + id)), SendVerdict::kStart);
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      const std::string id = "w" + std::to_string(i);
      (void)run(store->start(simple_start(id, kNow, "s" + id)));
    }
  });
  auto made = run(store->backup(copy));
  stop = true;
  writer.join();
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_FALSE(fs::exists(dir.path() / ".copy.db.partial"));

  RawConnection raw(copy);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "delete");
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(SqliteStore::kSchemaVersion));
  EXPECT_GE(std::stoi(raw.text("SELECT count(*) FROM verifications WHERE id LIKE 'v%'")), 20);
  // One commit's state, never half of one: every copied start has its job and its bucket's
  // share of the counter.
  EXPECT_EQ(raw.text("SELECT count(*) FROM verifications WHERE sealed IS NULL"), "0");

  // Again over the first copy: replaced whole.
  ASSERT_TRUE(run(store->backup(copy)));
  EXPECT_EQ(RawConnection(copy).text("PRAGMA integrity_check"), "ok");
}

// Runs this test binary again as another process, with one test selected and the
// environment telling it which file to try.
int run_child(const std::string& test, const std::string& file) {
  const std::string filter = "--gtest_filter=" + test;
  const std::string env_file = "OTPD_SQLITE_CHILD_FILE=" + file;
  std::vector<char*> argv{const_cast<char*>("/proc/self/exe"), const_cast<char*>(filter.c_str()),
                          nullptr};
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(const_cast<char*>(env_file.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data()) != 0) {
    return -1;
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// The child's half of the next test: run only as another process.
TEST(SqliteStoreChild, AnotherProcessCannotOpenAHeldFile) {
  const char* file = std::getenv("OTPD_SQLITE_CHILD_FILE");
  if (file == nullptr) GTEST_SKIP() << "run by OtherProcessesAreKeptOut as another process";
  auto opened = SqliteStore::open(file);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), make_error(SqliteErrc::kInUse));
  EXPECT_NE(opened.error().message().find("in use by another process"), std::string::npos);
  auto copied = sqlite::backup_database(file, std::string(file) + ".copy");
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error(), make_error(SqliteErrc::kInUse));
}

// While a store is open no other process can open the file (`otpd store init` next to a
// running server fails with a clear message and changes nothing), and once it is closed
// one can. Takes ~10 s (two busy timeouts in the child).
TEST(SqliteStore, OtherProcessesAreKeptOut) {
  TempDir dir;
  const std::string file = dir.file("held.db");
  {
    auto store = open_ready(file);
    ASSERT_EQ(started(*store, simple_start("v1", kNow)), SendVerdict::kStart);
    EXPECT_EQ(run_child("SqliteStoreChild.AnotherProcessCannotOpenAHeldFile", file), 0);
    EXPECT_TRUE(run(store->get(kAcme, core::VerificationId("v1"))).value());
  }
  EXPECT_FALSE(fs::exists(file + ".copy"));
  // Closed: another process (here this one, after the store is gone) opens it as usual.
  ASSERT_TRUE(sqlite::backup_database(file, file + ".copy"));
  auto reopened = SqliteStore::open(file + ".copy").value();
  EXPECT_TRUE(run(reopened->get(kAcme, core::VerificationId("v1"))).value());
}

TEST(StoreErrors, HaveTheirOwnCategory) {
  const auto ec = make_error(StoreErrc::kUnavailable);
  EXPECT_STREQ(ec.category().name(), "otpd.store");
  EXPECT_EQ(ec.value(), 1);
  EXPECT_NE(make_error(StoreErrc::kCorrupt), ec);
  EXPECT_STREQ(make_error(SqliteErrc::kInUse).category().name(), "otpd.sqlite");
  EXPECT_NE(make_error(SqliteErrc::kInUse), ec);
}

}  // namespace
}  // namespace otpd::store::testing
