// Runs the conformance suite on SqliteStore, plus what only SQLite has: the file, its
// schema version and its locking against other processes.
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "store/sqlite/sqlite_store.hpp"
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

namespace fs = std::filesystem;

// A directory of its own per test, removed with everything in it (the -wal and -shm files
// included).
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

 private:
  fs::path path_;
};

class SqliteBackend final : public Backend {
 public:
  std::unique_ptr<Store> open() override {
    auto store = SqliteStore::open(file()).value();
    store->init_schema().value();
    return store;
  }
  std::string file() const { return (dir_.path() / "otpd.db").string(); }

 private:
  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
                         ::testing::Values(BackendFactory{
                             "sqlite", [] { return std::make_unique<SqliteBackend>(); }}),
                         BackendFactory::name_of);

// ---- SQLite only ---------------------------------------------------------------------

// A second connection, as another process (the sqlite3 shell, `otpd store init`) would have.
class RawConnection {
 public:
  explicit RawConnection(const std::string& file) {
    if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open");
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

StartRequest simple_start(const std::string& id, core::TimePoint now) {
  StartRequest r;
  r.verification.tenant = core::TenantId("acme");
  r.verification.id = core::VerificationId(id);
  r.verification.recipient = core::RecipientHash("feed");
  r.verification.code_hash = "hmac:123456";
  r.verification.created_at = now;
  r.verification.expires_at = now + core::Seconds(300);
  r.verification.delete_after = now + core::Seconds(3900);
  r.sealed_delivery = "sealed";
  return r;
}

const core::TimePoint kNow = core::from_unix_ms(1'900'000'000'000);

TEST(SqliteStore, ANewFileIsNewAndNeedsInit) {
  TempDir dir;
  auto store = SqliteStore::open((dir.path() / "new.db").string()).value();
  EXPECT_TRUE(store->is_new_database().value());

  std::string missing;
  auto checked = store->check_schema(&missing);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error(), make_error(StoreErrc::kSchemaMissing));
  EXPECT_EQ(missing, "schema version 0, expected 3: run `otpd store init`");
  EXPECT_TRUE(store->ping());  // reachable, just empty

  // Operations before init answer an error, never crash.
  auto early = store->get(core::TenantId("acme"), core::VerificationId("x"));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), make_error(StoreErrc::kUnavailable));

  ASSERT_TRUE(store->init_schema());
  EXPECT_FALSE(store->is_new_database().value());
  EXPECT_TRUE(store->check_schema(&missing));
  ASSERT_TRUE(store->init_schema());  // idempotent
  EXPECT_TRUE(store->get(core::TenantId("acme"), core::VerificationId("x")).value() ==
              std::nullopt);
}

TEST(SqliteStore, AForeignDatabaseIsNotNew) {
  TempDir dir;
  const std::string file = (dir.path() / "foreign.db").string();
  RawConnection(file).exec("CREATE TABLE something_else (x)");
  auto store = SqliteStore::open(file).value();
  EXPECT_FALSE(store->is_new_database().value());
  std::string missing;
  EXPECT_FALSE(store->check_schema(&missing));
  EXPECT_EQ(missing, "schema version 0, expected 3: run `otpd store init`");
}

TEST(SqliteStore, ANewerSchemaIsRefused) {
  TempDir dir;
  const std::string file = (dir.path() / "newer.db").string();
  RawConnection(file).exec("PRAGMA user_version = 4");
  auto store = SqliteStore::open(file).value();
  std::string missing;
  auto checked = store->check_schema(&missing);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error(), make_error(StoreErrc::kSchemaMissing));
  EXPECT_NE(missing.find("newer"), std::string::npos) << missing;
  auto init = store->init_schema();
  ASSERT_FALSE(init);
  EXPECT_EQ(init.error(), make_error(StoreErrc::kSchemaMissing));
  EXPECT_EQ(RawConnection(file).text("PRAGMA user_version"), "4");
}

// A file made by the previous otpd (schema 1: no counters, no buckets) is not current: serve
// refuses it, as it is not new it does not create the schema itself, and `otpd store init`
// migrates it keeping what it holds.
TEST(SqliteStore, AVersion1FileIsMigratedByInit) {
  TempDir dir;
  const std::string file = (dir.path() / "v1.db").string();
  {
    auto store = SqliteStore::open(file).value();
    ASSERT_TRUE(store->init_schema());
    ASSERT_EQ(store->start(simple_start("v1", kNow)).value().kind, StartOutcome::Kind::kStarted);
  }
  // Version 2 only added these tables (and their indexes, which go with them).
  RawConnection(file).exec(
      "DROP TABLE send_counters; DROP TABLE token_buckets; PRAGMA user_version = 1");

  auto store = SqliteStore::open(file).value();
  EXPECT_FALSE(store->is_new_database().value());
  std::string missing;
  auto checked = store->check_schema(&missing);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error(), make_error(StoreErrc::kSchemaMissing));
  EXPECT_EQ(missing, "schema version 1, expected 3: run `otpd store init`");
  // The new operations answer an error before the migration, never crash.
  auto early = store->take_token(TokenRequest{"send:acme", 1, 1, kNow});
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), make_error(StoreErrc::kUnavailable));

  ASSERT_TRUE(store->init_schema());
  EXPECT_TRUE(store->check_schema(&missing)) << missing;
  EXPECT_EQ(RawConnection(file).text("PRAGMA user_version"), "3");
  ASSERT_TRUE(store->init_schema());  // idempotent

  EXPECT_TRUE(store->get(core::TenantId("acme"), core::VerificationId("v1")).value().has_value());
  EXPECT_EQ(store->delivery_queue_depth().value(), 1u);
  EXPECT_TRUE(store->take_token(TokenRequest{"send:acme", 1, 1, kNow}).value().allowed);
  StartRequest counted = simple_start("v2", kNow + core::Seconds(30));
  counted.counters = {{"daily", 1, core::Seconds(86400)}};
  EXPECT_EQ(store->start(counted).value().kind, StartOutcome::Kind::kStarted);
}

// The schema otpd 2 wrote (rowid tables everywhere, send records without a key), frozen
// here as that version's files hold it.
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
// row: the code verifies, its job is still queued, its send still counts in the window,
// and the idempotency record, counter and bucket still say what they said.
TEST(SqliteStore, AVersion2FileIsRebuiltKeepingItsRows) {
  TempDir dir;
  const std::string file = (dir.path() / "v2.db").string();
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
  std::string missing;
  ASSERT_FALSE(store->check_schema(&missing));
  EXPECT_EQ(missing, "schema version 2, expected 3: run `otpd store init`");
  ASSERT_TRUE(store->init_schema());
  EXPECT_TRUE(store->check_schema(&missing)) << missing;
  ASSERT_TRUE(store->init_schema());  // idempotent

  RawConnection raw(file);
  for (const char* table :
       {"sends", "deliveries", "idempotency", "send_counters", "token_buckets"}) {
    EXPECT_NE(raw.text(std::string("SELECT sql FROM sqlite_master WHERE name = '") + table + "'")
                  .find("WITHOUT ROWID"),
              std::string::npos)
        << table;
  }
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v3'"), "0");

  auto job = store->take_due_deliveries(kNow, 10, kNow + core::Seconds(20)).value();
  ASSERT_EQ(job.size(), 1u);
  EXPECT_EQ(job[0].sealed, std::string("\0\xff", 2));
  CheckRequest check;
  check.tenant = core::TenantId("acme");
  check.id = core::VerificationId("v1");
  check.candidate_hashes = {"hmac:123456"};
  check.now = kNow + core::Seconds(1);
  EXPECT_EQ(store->check(check).value().kind, CheckOutcome::Kind::kApproved);
  // The migrated send still counts: a window of one send refuses the next.
  StartRequest again = simple_start("v2", kNow + core::Seconds(60));
  again.max_sends_per_window = 1;
  EXPECT_EQ(store->start(again).value().kind, StartOutcome::Kind::kSendLimit);
  EXPECT_EQ(store->reserve_idempotency(core::TenantId("acme"), "k1", "h1", kNow, core::Seconds(30))
                .value()
                .kind,
            IdempotencyReservation::Kind::kReplay);
  EXPECT_EQ(raw.text("SELECT count FROM send_counters WHERE key = 'daily'"), "1");
  EXPECT_FALSE(store->take_token(TokenRequest{"send:acme", 0.001, 1, kNow}).value().allowed);
}

// A file whose tables were made by hand (or by a migration that failed after its DDL) before
// user_version was set: the migration tolerates tables that already exist.
TEST(SqliteStore, MigrationToleratesTablesThatAlreadyExist) {
  TempDir dir;
  const std::string file = (dir.path() / "half.db").string();
  {
    auto store = SqliteStore::open(file).value();
    ASSERT_TRUE(store->init_schema());
  }
  RawConnection(file).exec("PRAGMA user_version = 1");
  auto store = SqliteStore::open(file).value();
  ASSERT_TRUE(store->init_schema());
  EXPECT_TRUE(store->check_schema(nullptr));
}

// Counter rows hold one fixed window each; bucket rows say when they are full again; sweep
// drops each exactly when it no longer matters.
TEST(SqliteStore, SweepDropsCounterAndBucketRowsOnceLapsed) {
  TempDir dir;
  const std::string file = (dir.path() / "sweep.db").string();
  auto store = SqliteStore::open(file).value();
  ASSERT_TRUE(store->init_schema());
  const core::Seconds horizon(7200);

  StartRequest request = simple_start("v1", kNow);
  request.counters = {
      {"minute", 10, core::Seconds(60)}, {"day", 10, core::Seconds(86400)}, {"off", 0}};
  ASSERT_EQ(store->start(request).value().kind, StartOutcome::Kind::kStarted);
  ASSERT_TRUE(store->take_token(TokenRequest{"fast", 10, 1, kNow}).value().allowed);    // 100 ms
  ASSERT_TRUE(store->take_token(TokenRequest{"slow", 0.01, 1, kNow}).value().allowed);  // 100 s
  ASSERT_TRUE(store->take_token(TokenRequest{"free", 0, 1, kNow}).value().allowed);     // no row

  RawConnection raw(file);
  EXPECT_EQ(raw.text("SELECT count(*) FROM send_counters"), "2");
  // kNow is 40 s into its minute and 64,000 s into its UTC day.
  EXPECT_EQ(raw.text("SELECT window_start || ' ' || window_end || ' ' || count FROM send_counters"
                     " WHERE key = 'minute'"),
            "1899999960000 1900000020000 1");
  EXPECT_EQ(raw.text("SELECT window_start || ' ' || window_end FROM send_counters"
                     " WHERE key = 'day'"),
            "1899936000000 1900022400000");
  EXPECT_EQ(raw.text("SELECT count(*) FROM token_buckets"), "2");
  EXPECT_EQ(raw.text("SELECT tokens || ' ' || (full_at - updated_at) FROM token_buckets"
                     " WHERE key = 'fast'"),
            "0.0 100");

  EXPECT_EQ(store->sweep(kNow + core::Millis(99), horizon).value(), 0u);
  EXPECT_EQ(store->sweep(kNow + core::Millis(100), horizon).value(), 1u);
  EXPECT_EQ(raw.text("SELECT group_concat(key) FROM token_buckets"), "slow");
  EXPECT_EQ(store->sweep(kNow + core::Millis(19'999), horizon).value(), 0u);
  EXPECT_EQ(store->sweep(kNow + core::Seconds(20), horizon).value(), 1u);
  EXPECT_EQ(raw.text("SELECT group_concat(key) FROM send_counters"), "day");
  EXPECT_EQ(store->sweep(kNow + core::Seconds(100), horizon).value(), 1u);
  EXPECT_EQ(raw.text("SELECT count(*) FROM token_buckets"), "0");
  store->sweep(kNow + core::Seconds(22'400), horizon).value();
  EXPECT_EQ(raw.text("SELECT count(*) FROM send_counters"), "0");
}

// A refusal writes nothing: the row still says what it said after the last token taken.
TEST(SqliteStore, ARefusedTakeLeavesTheBucketRowAlone) {
  TempDir dir;
  const std::string file = (dir.path() / "bucket.db").string();
  auto store = SqliteStore::open(file).value();
  ASSERT_TRUE(store->init_schema());
  ASSERT_TRUE(store->take_token(TokenRequest{"k", 1, 1, kNow}).value().allowed);
  RawConnection raw(file);
  const std::string row = "SELECT tokens || ' ' || updated_at || ' ' || full_at FROM token_buckets";
  const std::string before = raw.text(row);
  EXPECT_EQ(before, "0.0 1900000000000 1900000001000");
  EXPECT_FALSE(
      store->take_token(TokenRequest{"k", 1, 1, kNow + core::Millis(500)}).value().allowed);
  EXPECT_EQ(raw.text(row), before);
}

TEST(SqliteStore, UsesWriteAheadLogging) {
  TempDir dir;
  const std::string file = (dir.path() / "wal.db").string();
  auto store = SqliteStore::open(file).value();
  ASSERT_TRUE(store->init_schema());
  EXPECT_EQ(RawConnection(file).text("PRAGMA journal_mode"), "wal");
}

// Nobody calls a checkpoint and SQLite's auto-checkpoint is off: the background thread
// copies the WAL into the file, so the WAL is reused instead of growing with every write.
TEST(SqliteStore, TheWalIsCheckpointedInTheBackground) {
  TempDir dir;
  const fs::path file = dir.path() / "checkpoint.db";
  const fs::path wal = dir.path() / "checkpoint.db-wal";
  auto store = SqliteStore::open(file.string()).value();
  ASSERT_TRUE(store->init_schema());
  const auto file_size_at_start = fs::file_size(file);

  // Past the 1000-page threshold (4 KiB pages), one start at a time as requests would.
  int n = 0;
  auto write_past_threshold = [&] {
    const auto limit = n + 20'000;
    while (fs::file_size(wal) < 1000u * 4096u && n < limit) {
      StartRequest r = simple_start("v" + std::to_string(n), kNow);
      r.verification.recipient = core::RecipientHash("r" + std::to_string(n));
      ASSERT_EQ(store->start(r).value().kind, StartOutcome::Kind::kStarted);
      ++n;
    }
  };
  write_past_threshold();
  const auto first_round = n;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (fs::file_size(file) == file_size_at_start && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(fs::file_size(file), file_size_at_start) << "nothing was copied into the file";

  // As many writes again: once checkpointed, the WAL starts over from its beginning.
  for (int i = 0; i < first_round; ++i) {
    StartRequest r = simple_start("w" + std::to_string(i), kNow);
    r.verification.recipient = core::RecipientHash("s" + std::to_string(i));
    ASSERT_EQ(store->start(r).value().kind, StartOutcome::Kind::kStarted);
  }
  EXPECT_LT(fs::file_size(wal), 3u * 1000u * 4096u);
  EXPECT_EQ(RawConnection(file.string()).text("SELECT count(*) FROM verifications"),
            std::to_string(2 * first_round));
}

TEST(SqliteStore, NotADatabaseIsCorrupt) {
  TempDir dir;
  const std::string file = (dir.path() / "garbage.db").string();
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

// Another process holding the write lock past the busy timeout: the operation gives up with
// kUnavailable, changes nothing, and the store works once the lock is gone. Takes ~5 s.
TEST(SqliteStore, AWriteLockHeldElsewhereTimesOutAsUnavailable) {
  TempDir dir;
  const std::string file = (dir.path() / "locked.db").string();
  auto store = SqliteStore::open(file).value();
  ASSERT_TRUE(store->init_schema());

  {
    RawConnection other(file);
    other.exec("BEGIN IMMEDIATE");
    auto blocked = store->start(simple_start("v1", kNow));
    ASSERT_FALSE(blocked);
    EXPECT_EQ(blocked.error(), make_error(StoreErrc::kUnavailable));
    // Reads are not blocked by a writer in WAL mode.
    EXPECT_TRUE(store->get(core::TenantId("acme"), core::VerificationId("v1")).value() ==
                std::nullopt);
    other.exec("ROLLBACK");
  }
  EXPECT_EQ(store->delivery_queue_depth().value(), 0u);
  auto started = store->start(simple_start("v1", kNow));
  ASSERT_TRUE(started);
  EXPECT_EQ(started->kind, StartOutcome::Kind::kStarted);
}

// A failure in the middle of a transaction rolls back what came before it: here the
// delivery insert collides after the verification and send rows were written.
TEST(SqliteStore, AFailedStepRollsBackTheWholeOperation) {
  TempDir dir;
  const std::string file = (dir.path() / "rollback.db").string();
  auto store = SqliteStore::open(file).value();
  ASSERT_TRUE(store->init_schema());
  RawConnection(file).exec(
      "INSERT INTO deliveries VALUES ('acme', 'v1', 'console', x'00', 0, 0, 0)");

  auto failed = store->start(simple_start("v1", kNow));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), make_error(StoreErrc::kUnavailable));
  RawConnection raw(file);
  EXPECT_EQ(raw.text("SELECT count(*) FROM verifications"), "0");
  EXPECT_EQ(raw.text("SELECT count(*) FROM sends"), "0");

  // Nothing was counted: after removing the obstacle the same start goes through without a
  // cooldown or a send from the failed attempt.
  raw.exec("DELETE FROM deliveries");
  auto started = store->start(simple_start("v1", kNow));
  ASSERT_TRUE(started);
  EXPECT_EQ(started->kind, StartOutcome::Kind::kStarted);
  EXPECT_EQ(started->verification.resend_at, kNow + core::Seconds(30));
}

TEST(SqliteStore, StoresTimesAsMillisAndEnumsAsNames) {
  TempDir dir;
  const std::string file = (dir.path() / "at-rest.db").string();
  auto store = SqliteStore::open(file).value();
  ASSERT_TRUE(store->init_schema());
  ASSERT_TRUE(store->start(simple_start("v1", kNow)));
  RawConnection raw(file);
  EXPECT_EQ(raw.text("SELECT code_hash FROM verifications"), "hmac:123456");
  EXPECT_EQ(raw.text("SELECT status FROM verifications"), "pending");
  EXPECT_EQ(raw.text("SELECT delivery FROM verifications"), "queued");
  EXPECT_EQ(raw.text("SELECT created_at FROM verifications"), "1900000000000");
}

TEST(StoreErrors, HaveTheirOwnCategory) {
  const auto ec = make_error(StoreErrc::kUnavailable);
  EXPECT_STREQ(ec.category().name(), "otpd.store");
  EXPECT_EQ(ec.value(), 1);
  EXPECT_FALSE(ec.message().empty());
  EXPECT_NE(make_error(StoreErrc::kCorrupt), ec);
  EXPECT_EQ(&make_error(StoreErrc::kSchemaMissing).category(), &store_category());
}

}  // namespace
}  // namespace otpd::store::testing
