// SqliteStore: each Store operation as one SQLite transaction over prepared statements.
#include "store/sqlite/sqlite_store.hpp"

#include <openssl/crypto.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string_view>
#include <utility>

namespace otpd::store {

using core::ChannelKind;
using core::DeliveryStatus;
using core::Millis;
using core::Seconds;
using core::Status;
using core::TimePoint;
using core::Verification;

namespace {

constexpr int kBusyTimeoutMs = 5000;
// WAL pages after which a commit wakes the checkpointer: SQLite's own auto-checkpoint
// threshold, so the WAL stays about as small as it would have.
constexpr int kCheckpointPages = 1000;
// A WAL that never reaches the threshold is still copied back now and then, so that a
// quiet server's file does not keep its last writes only in the WAL.
constexpr std::chrono::seconds kCheckpointIdleInterval{10};
constexpr Millis kFailureBudgetWindow = std::chrono::hours(1);

// Version n -> n+1 is kMigrations[n], all run inside init_schema's transaction. IF NOT
// EXISTS tolerates a file whose tables were made by hand before user_version was set.
// The DDL creates every table in its current shape (v3: WITHOUT ROWID where a primary key
// exists), so a new file is made in one pass; files from before v3 keep the tables they
// had and get them rebuilt by kV3Rebuilds.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE IF NOT EXISTS verifications (
  tenant         TEXT    NOT NULL,
  id             TEXT    NOT NULL,
  recipient_hash TEXT    NOT NULL,
  masked_to      TEXT    NOT NULL,
  channel        TEXT    NOT NULL,
  alphabet       TEXT    NOT NULL,
  code_length    INTEGER NOT NULL,
  code_hash      TEXT    NOT NULL,
  status         TEXT    NOT NULL,
  attempts       INTEGER NOT NULL,
  max_attempts   INTEGER NOT NULL,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  resend_at      INTEGER NOT NULL,
  approved_at    INTEGER,
  delete_after   INTEGER NOT NULL,
  delivery       TEXT    NOT NULL,
  locale         TEXT    NOT NULL,
  metadata       TEXT    NOT NULL,
  PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS verifications_by_recipient
  ON verifications (tenant, recipient_hash, created_at);
CREATE INDEX IF NOT EXISTS verifications_by_delete_after ON verifications (delete_after);
CREATE TABLE IF NOT EXISTS sends (
  tenant         TEXT    NOT NULL,
  recipient_hash TEXT    NOT NULL,
  sent_at        INTEGER NOT NULL,
  id             TEXT    NOT NULL,
  PRIMARY KEY (tenant, recipient_hash, sent_at, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS failures (
  tenant         TEXT    NOT NULL,
  recipient_hash TEXT    NOT NULL,
  at             INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_by_recipient ON failures (tenant, recipient_hash, at);
CREATE TABLE IF NOT EXISTS deliveries (
  tenant          TEXT    NOT NULL,
  id              TEXT    NOT NULL,
  channel         TEXT    NOT NULL,
  sealed          BLOB    NOT NULL,
  attempts        INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_by_next_attempt ON deliveries (next_attempt_at);
CREATE TABLE IF NOT EXISTS idempotency (
  tenant        TEXT    NOT NULL,
  key           TEXT    NOT NULL,
  request_hash  TEXT    NOT NULL,
  state         TEXT    NOT NULL,
  status        INTEGER NOT NULL,
  response_body TEXT    NOT NULL,
  expires_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant, key)
) WITHOUT ROWID;
)sql",
    // v2: the abuse limits. A counter row is one fixed window of one key; the window's end
    // is part of the key so that changing a counter's length starts it afresh instead of
    // reading another length's count. A bucket row keeps its tokens as of updated_at, and
    // full_at, when it will have refilled to its burst: from then on it is the same as no
    // row at all, which is what lets sweep drop it.
    R"sql(
CREATE TABLE IF NOT EXISTS send_counters (
  key          TEXT    NOT NULL,
  window_start INTEGER NOT NULL,
  window_end   INTEGER NOT NULL,
  count        INTEGER NOT NULL,
  PRIMARY KEY (key, window_start, window_end)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS send_counters_by_window_end ON send_counters (window_end);
CREATE TABLE IF NOT EXISTS token_buckets (
  key        TEXT    NOT NULL PRIMARY KEY,
  tokens     REAL    NOT NULL,
  updated_at INTEGER NOT NULL,
  full_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS token_buckets_by_full_at ON token_buckets (full_at);
)sql",
    // v3: the tables written on every send, check or token taken are clustered on their
    // primary key (WITHOUT ROWID): one B-tree each instead of a rowid table plus the index
    // of its key, so each commit writes fewer pages (two fewer for a send). A send record
    // now carries its verification's id, which makes it a key, and goes with it when the
    // sweep deletes it; a v2 send record whose verification is already gone is dropped.
    // Done by kV3Rebuilds.
    "SELECT 1",
};

// One table of v3, rebuilt from its v1/v2 shape; skipped when it is WITHOUT ROWID already.
struct TableRebuild {
  const char* table;
  const char* sql;
};
constexpr TableRebuild kV3Rebuilds[] = {
    {"sends", R"sql(
CREATE TABLE sends_v3 (
  tenant TEXT NOT NULL, recipient_hash TEXT NOT NULL, sent_at INTEGER NOT NULL, id TEXT NOT NULL,
  PRIMARY KEY (tenant, recipient_hash, sent_at, id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO sends_v3 (tenant, recipient_hash, sent_at, id)
  SELECT s.tenant, s.recipient_hash, s.sent_at, v.id FROM sends s JOIN verifications v
    ON v.tenant = s.tenant AND v.recipient_hash = s.recipient_hash AND v.created_at = s.sent_at;
DROP TABLE sends;
ALTER TABLE sends_v3 RENAME TO sends;
)sql"},
    {"deliveries", R"sql(
CREATE TABLE deliveries_v3 (
  tenant TEXT NOT NULL, id TEXT NOT NULL, channel TEXT NOT NULL, sealed BLOB NOT NULL,
  attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
INSERT INTO deliveries_v3 (tenant, id, channel, sealed, attempts, next_attempt_at, expires_at)
  SELECT tenant, id, channel, sealed, attempts, next_attempt_at, expires_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v3 RENAME TO deliveries;
CREATE INDEX deliveries_by_next_attempt ON deliveries (next_attempt_at);
)sql"},
    {"idempotency", R"sql(
CREATE TABLE idempotency_v3 (
  tenant TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, state TEXT NOT NULL,
  status INTEGER NOT NULL, response_body TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, key)
) WITHOUT ROWID;
INSERT INTO idempotency_v3 (tenant, key, request_hash, state, status, response_body, expires_at)
  SELECT tenant, key, request_hash, state, status, response_body, expires_at FROM idempotency;
DROP TABLE idempotency;
ALTER TABLE idempotency_v3 RENAME TO idempotency;
)sql"},
    {"send_counters", R"sql(
CREATE TABLE send_counters_v3 (
  key TEXT NOT NULL, window_start INTEGER NOT NULL, window_end INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (key, window_start, window_end)
) WITHOUT ROWID;
INSERT INTO send_counters_v3 (key, window_start, window_end, count)
  SELECT key, window_start, window_end, count FROM send_counters;
DROP TABLE send_counters;
ALTER TABLE send_counters_v3 RENAME TO send_counters;
CREATE INDEX send_counters_by_window_end ON send_counters (window_end);
)sql"},
    {"token_buckets", R"sql(
CREATE TABLE token_buckets_v3 (
  key TEXT NOT NULL PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL,
  full_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO token_buckets_v3 (key, tokens, updated_at, full_at)
  SELECT key, tokens, updated_at, full_at FROM token_buckets;
DROP TABLE token_buckets;
ALTER TABLE token_buckets_v3 RENAME TO token_buckets;
CREATE INDEX token_buckets_by_full_at ON token_buckets (full_at);
)sql"},
};
static_assert(std::size(kMigrations) == SqliteStore::kSchemaVersion);

#define OTPD_VERIFICATION_COLUMNS                                                      \
  "tenant, id, recipient_hash, masked_to, channel, alphabet, code_length, code_hash, " \
  "status, attempts, max_attempts, created_at, expires_at, resend_at, approved_at, "   \
  "delete_after, delivery, locale, metadata"

// ---- enum <-> text: local, so the store does not depend on core's .cpp files ----------

template <typename E>
struct Name {
  E value;
  std::string_view text;
};

constexpr Name<Status> kStatusNames[] = {
    {Status::kPending, "pending"},
    {Status::kApproved, "approved"},
    {Status::kCanceled, "canceled"},
    {Status::kExpired, "expired"},
    {Status::kMaxAttemptsReached, "max_attempts_reached"},
};
constexpr Name<ChannelKind> kChannelNames[] = {
    {ChannelKind::kConsole, "console"},
    {ChannelKind::kEmail, "email"},
    {ChannelKind::kSms, "sms"},
    {ChannelKind::kWebhook, "webhook"},
};
constexpr Name<core::Alphabet> kAlphabetNames[] = {
    {core::Alphabet::kDigits, "digits"},
    {core::Alphabet::kAlnum, "alnum"},
};
constexpr Name<DeliveryStatus> kDeliveryNames[] = {
    {DeliveryStatus::kQueued, "queued"},
    {DeliveryStatus::kSent, "sent"},
    {DeliveryStatus::kFailed, "failed"},
};

constexpr std::string_view kInProgress = "in_progress";
constexpr std::string_view kComplete = "complete";

template <typename E, std::size_t N>
std::string_view name_of(const Name<E> (&names)[N], E value) {
  for (const auto& n : names) {
    if (n.value == value) return n.text;
  }
  return "?";  // unreachable for a valid enum; fails decoding on the way back
}

template <typename E, std::size_t N>
bool parse_name(const Name<E> (&names)[N], std::string_view text, E& out) {
  for (const auto& n : names) {
    if (n.text == text) {
      out = n.value;
      return true;
    }
  }
  return false;
}

// Retry-After is whole seconds and never 0: a client told "0" would retry at once.
Seconds retry_after(Millis remaining) {
  const long long ms = remaining.count();
  return Seconds(std::max(1LL, (ms + 999) / 1000));
}

// core::Policy::cooldown_after_send, repeated here so the store links without core's .cpp:
// base, 2*base, 4*base... for the n-th send (1-based), capped at the window.
Seconds cooldown_after_send(int base_seconds, int window_seconds, int n) {
  long long cooldown = std::max(0, base_seconds);
  const long long cap = window_seconds > 0 ? window_seconds : 365LL * 24 * 3600;
  for (int i = 1; i < n && cooldown > 0 && cooldown < cap; ++i) cooldown *= 2;
  return Seconds(std::min(cooldown, cap));
}

// The fixed window of a SendCounter that holds `now`: [start, end) in Unix milliseconds,
// aligned to multiples of its length from the epoch (so a 1-day window is a UTC day).
struct CounterWindow {
  long long start_ms = 0;
  long long end_ms = 0;
};

CounterWindow counter_window(TimePoint now, Seconds window) {
  // Capped so that the arithmetic below cannot overflow (about 35,000 years).
  const long long length_ms = std::min<long long>(window.count(), 1LL << 40) * 1000;
  const long long t = core::to_unix_ms(now);
  long long q = t / length_ms;
  if (t % length_ms != 0 && t < 0) --q;  // floor, not truncation, before the epoch
  return {q * length_ms, q * length_ms + length_ms};
}

// Refill is floating point, so "one whole token" carries a tolerance: without it a bucket
// refilled at 0.1 token/s could hold 0.99999999 after the 10 s retry_after promised.
constexpr double kTokenEpsilon = 1e-9;
// Beyond any real clock; keeps full_at and retry_after finite for absurdly slow rates.
constexpr double kFarFutureMs = 1e15;

boost::system::error_code sqlite_error(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return make_error(StoreErrc::kCorrupt);
    default:
      return make_error(StoreErrc::kUnavailable);
  }
}

// An error_code converts to bool too, so Result<bool> needs to be told which one it holds.
Result<bool> bool_error(boost::system::error_code ec) {
  return Result<bool>(boost::system::in_place_error, ec);
}

// Constant-time in the content of the hashes; their length (fixed for an HMAC) may leak.
bool any_hash_matches(const std::string& stored, const std::vector<std::string>& candidates) {
  bool matched = false;
  for (const auto& candidate : candidates) {
    const bool equal = !stored.empty() && candidate.size() == stored.size() &&
                       CRYPTO_memcmp(candidate.data(), stored.data(), stored.size()) == 0;
    matched = matched || equal;
  }
  return matched;
}

}  // namespace

// ---- statements ----------------------------------------------------------------------

namespace detail {

enum class SqliteSql : int {
  kBegin,
  kCommit,
  kRollback,
  kPing,
  kUserVersion,
  kCountTables,
  kSelectVerification,
  kSelectNewest,
  kInsertVerification,
  kUpdateState,
  kSetDelivery,
  kSendsInWindow,
  kInsertSend,
  kFailuresInWindow,
  kInsertFailure,
  kInsertDelivery,
  kDeleteDelivery,
  kSelectDue,
  kLeaseDelivery,
  kRetryDelivery,
  kDeliveryDepth,
  kSelectIdempotency,
  kReserveIdempotency,
  kCompleteIdempotency,
  kReleaseIdempotency,
  kSweepVerifications,
  kFailExpiredDeliveries,
  kSweepDeliveries,
  kSweepIdempotency,
  kSweepSends,
  kSweepFailures,
  kSelectCounter,
  kIncrementCounter,
  kSweepCounters,
  kSelectBucket,
  kStoreBucket,
  kSweepBuckets,
  kCount
};

}  // namespace detail

namespace {

using Sql = detail::SqliteSql;

// Indexed by Sql.
constexpr const char* kSqlText[] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SELECT 1",
    "PRAGMA user_version",
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    "SELECT " OTPD_VERIFICATION_COLUMNS " FROM verifications WHERE tenant = ?1 AND id = ?2",
    // rowid breaks ties between two starts in the same millisecond: the later insert wins.
    "SELECT " OTPD_VERIFICATION_COLUMNS
    " FROM verifications WHERE tenant = ?1 AND recipient_hash = ?2"
    " ORDER BY created_at DESC, rowid DESC LIMIT 1",
    "INSERT INTO verifications (" OTPD_VERIFICATION_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19)",
    "UPDATE verifications SET status = ?3, attempts = ?4, approved_at = ?5"
    " WHERE tenant = ?1 AND id = ?2",
    "UPDATE verifications SET delivery = ?3 WHERE tenant = ?1 AND id = ?2",
    "SELECT count(*), min(sent_at) FROM sends"
    " WHERE tenant = ?1 AND recipient_hash = ?2 AND sent_at > ?3 AND sent_at <= ?4",
    "INSERT INTO sends (tenant, recipient_hash, sent_at, id) VALUES (?1, ?2, ?3, ?4)",
    "SELECT count(*), min(at) FROM failures"
    " WHERE tenant = ?1 AND recipient_hash = ?2 AND at > ?3 AND at <= ?4",
    "INSERT INTO failures (tenant, recipient_hash, at) VALUES (?1, ?2, ?3)",
    "INSERT INTO deliveries (tenant, id, channel, sealed, attempts, next_attempt_at, expires_at)"
    " VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
    "DELETE FROM deliveries WHERE tenant = ?1 AND id = ?2",
    "SELECT tenant, id, channel, sealed, attempts, expires_at FROM deliveries"
    " WHERE next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2",
    "UPDATE deliveries SET next_attempt_at = ?3 WHERE tenant = ?1 AND id = ?2",
    "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?3"
    " WHERE tenant = ?1 AND id = ?2",
    "SELECT count(*) FROM deliveries",
    "SELECT request_hash, state, status, response_body, expires_at FROM idempotency"
    " WHERE tenant = ?1 AND key = ?2",
    "INSERT OR REPLACE INTO idempotency"
    " (tenant, key, request_hash, state, status, response_body, expires_at)"
    " VALUES (?1, ?2, ?3, 'in_progress', 0, '', ?4)",
    "UPDATE idempotency SET state = 'complete', status = ?3, response_body = ?4, expires_at = ?5"
    " WHERE tenant = ?1 AND key = ?2",
    // Only an unfinished reservation: a completed response stays replayable.
    "DELETE FROM idempotency WHERE tenant = ?1 AND key = ?2 AND state = 'in_progress'",
    "DELETE FROM verifications WHERE delete_after <= ?1",
    // Driven from the (small) queue, so the sweep never scans every verification.
    "UPDATE verifications SET delivery = 'failed' WHERE delivery = 'queued' AND (tenant, id) IN"
    " (SELECT tenant, id FROM deliveries WHERE expires_at <= ?1)",
    "DELETE FROM deliveries WHERE expires_at <= ?1 OR NOT EXISTS"
    " (SELECT 1 FROM verifications v WHERE v.tenant = deliveries.tenant AND v.id = deliveries.id)",
    "DELETE FROM idempotency WHERE expires_at <= ?1",
    // A send record goes with its verification, found by the delete_after index and deleted
    // by primary key: a scan for old records would read every send under the store's lock
    // (seconds with millions of codes pending).
    "DELETE FROM sends WHERE (tenant, recipient_hash, sent_at, id) IN"
    " (SELECT tenant, recipient_hash, created_at, id FROM verifications WHERE delete_after <= ?1)",
    "DELETE FROM failures WHERE at < ?1",
    "SELECT count FROM send_counters WHERE key = ?1 AND window_start = ?2 AND window_end = ?3",
    "INSERT INTO send_counters (key, window_start, window_end, count) VALUES (?1, ?2, ?3, 1)"
    " ON CONFLICT (key, window_start, window_end) DO UPDATE SET count = count + 1",
    "DELETE FROM send_counters WHERE window_end <= ?1",
    "SELECT tokens, updated_at FROM token_buckets WHERE key = ?1",
    "INSERT OR REPLACE INTO token_buckets (key, tokens, updated_at, full_at)"
    " VALUES (?1, ?2, ?3, ?4)",
    "DELETE FROM token_buckets WHERE full_at <= ?1",
};
static_assert(std::size(kSqlText) == static_cast<std::size_t>(Sql::kCount));

#undef OTPD_VERIFICATION_COLUMNS

}  // namespace

namespace detail {

// A borrowed prepared statement, reset and unbound when it goes out of scope so the cached
// statement is ready for the next caller and holds no read lock meanwhile.
class SqliteStatement {
 public:
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  SqliteStatement(SqliteStatement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  ~SqliteStatement() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }

  // Bind failures are programming errors (index, type); they surface at the next step.
  SqliteStatement& bind(int i, long long value) {
    return check(sqlite3_bind_int64(stmt_, i, value));
  }
  SqliteStatement& bind(int i, TimePoint t) { return bind(i, core::to_unix_ms(t)); }
  SqliteStatement& bind(int i, std::optional<TimePoint> t) {
    return t ? bind(i, *t) : check(sqlite3_bind_null(stmt_, i));
  }
  SqliteStatement& bind(int i, std::string_view text) {
    return check(
        sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  SqliteStatement& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  // Named apart from bind: an int argument would be ambiguous between long long and double.
  SqliteStatement& bind_real(int i, double value) {
    return check(sqlite3_bind_double(stmt_, i, value));
  }
  SqliteStatement& bind_blob(int i, const std::string& bytes) {
    // A null pointer would bind SQL NULL; an empty payload is still a (zero-length) blob.
    static const char kEmpty = 0;
    return check(sqlite3_bind_blob64(stmt_, i, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                                     SQLITE_TRANSIENT));
  }

  // true: a row is ready; false: done.
  Result<bool> step() {
    const int rc = bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return bool_error(sqlite_error(rc));
  }
  // For statements that return no rows.
  Result<void> run() {
    auto r = step();
    if (!r) return r.error();
    return {};
  }

  long long int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  TimePoint time(int col) const { return core::from_unix_ms(int64(col)); }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
  }
  std::string blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }

 private:
  SqliteStatement& check(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace detail

namespace {

using Statement = detail::SqliteStatement;

}  // namespace

// ---- lifetime ------------------------------------------------------------------------

SqliteStore::SqliteStore(sqlite3* db)
    : db_(db), statements_(static_cast<std::size_t>(Sql::kCount), nullptr) {}

SqliteStore::~SqliteStore() {
  if (checkpoint_thread_.joinable()) {
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_stopping_ = true;
    }
    checkpoint_cv_.notify_one();
    checkpoint_thread_.join();
  }
  sqlite3_close_v2(checkpoint_db_);
  for (sqlite3_stmt* stmt : statements_) sqlite3_finalize(stmt);
  // The last connection to close checkpoints the whole WAL and removes it.
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: mu_ already serialises every use of the connection.
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close_v2(db);  // open allocates a handle even when it fails
    return sqlite_error(rc);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));

  sqlite3_extended_result_codes(db, 1);
  // Waits for another process's write transaction instead of failing at once; after that
  // the operation answers kUnavailable (503 with Retry-After) rather than queueing forever.
  sqlite3_busy_timeout(db, kBusyTimeoutMs);

  // WAL lets readers run alongside the writer and makes a commit one append to the log.
  // synchronous=NORMAL in WAL mode does not fsync at each commit, only at checkpoints: a
  // committed transaction is in the OS page cache once COMMIT returns, so it survives the
  // process being killed (kill -9, a crash), which is the invariant PRODUCT.md §4.7 asks
  // for; only an OS crash or power loss can lose the last commits. FULL would fsync every
  // commit, costing a disk flush per request for a guarantee the product does not promise.
  std::string mode;
  const int wal_rc = sqlite3_exec(
      db, "PRAGMA journal_mode=WAL",
      [](void* out, int, char** values, char**) {
        if (values[0] != nullptr) *static_cast<std::string*>(out) = values[0];
        return 0;
      },
      &mode, nullptr);
  if (wal_rc != SQLITE_OK) return sqlite_error(wal_rc);
  // An in-memory database (tests, tools) cannot use WAL; a file must.
  if (mode != "wal" && !(mode == "memory" && path == ":memory:")) {
    return make_error(StoreErrc::kUnavailable);
  }
  if (const int s = sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
      s != SQLITE_OK) {
    return sqlite_error(s);
  }
  // Reads of pages SQLite's own cache does not hold come from the OS page cache: through
  // a shared mapping they cost a memcpy instead of a pread system call each (system calls
  // are dear on this kind of virtual machine), and a larger cache (64 MiB instead of 2)
  // keeps the indexes a lookup walks in memory as the tables grow.
  if (const int s = sqlite3_exec(db, "PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536",
                                 nullptr, nullptr, nullptr);
      s != SQLITE_OK) {
    return sqlite_error(s);
  }
  if (mode == "wal") {
    // Under load the WAL can grow to tens of MB between two complete checkpoints; once it
    // starts over, the file is cut back to this instead of keeping its high-water mark.
    if (const int s =
            sqlite3_exec(db, "PRAGMA journal_size_limit=16777216", nullptr, nullptr, nullptr);
        s != SQLITE_OK) {
      return sqlite_error(s);
    }
    if (auto r = store->start_checkpointer(path); !r) return r.error();
  }
  return store;
}

Result<void> SqliteStore::start_checkpointer(const std::string& path) {
  const int rc = sqlite3_open_v2(path.c_str(), &checkpoint_db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(rc);
  sqlite3_extended_result_codes(checkpoint_db_, 1);
  // A connection opens the file lazily, and a checkpoint on one that has not yet seen the
  // WAL does nothing (it reports the database as not in WAL mode): make it look now.
  if (const int r =
          sqlite3_exec(checkpoint_db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
      r != SQLITE_OK) {
    return sqlite_error(r);
  }
  if (const int r =
          sqlite3_exec(checkpoint_db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
      r != SQLITE_OK) {
    return sqlite_error(r);
  }
  // Replaces the auto-checkpoint (which is itself a WAL hook) on the serving connection.
  sqlite3_wal_hook(db_, &SqliteStore::on_wal_commit, this);
  sqlite3_wal_autocheckpoint(checkpoint_db_, 0);
  checkpoint_thread_ = std::thread([this] { checkpoint_loop(); });
  return {};
}

// Runs inside the commit, with mu_ held: only flags the work.
int SqliteStore::on_wal_commit(void* self, sqlite3*, const char*, int wal_pages) {
  if (wal_pages >= kCheckpointPages) {
    auto* store = static_cast<SqliteStore*>(self);
    {
      std::lock_guard lock(store->checkpoint_mu_);
      store->checkpoint_wanted_ = true;
    }
    store->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::checkpoint() {
  // PASSIVE copies what it can without waiting for the writer or readers, so requests go
  // on committing meanwhile; this is where the bulk of the copying and the disk flushes
  // happen. A failure (the file gone, the disk full) is left for the serving connection's
  // own operations to report.
  int wal_frames = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                           &wal_frames, &copied);
  if (rc != SQLITE_OK || copied >= wal_frames) return;
  // The commits made meanwhile are still only in the WAL, and SQLite starts the WAL over
  // only once all of it is in the file: a checkpoint racing the writer forever would let
  // the WAL grow without bound (hundreds of MB in a minute of sends). So the rest, a few
  // frames, is copied with the writer held off.
  std::lock_guard lock(mu_);
  (void)sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                  nullptr);
}

void SqliteStore::checkpoint_loop() {
  std::unique_lock lock(checkpoint_mu_);
  while (!checkpoint_stopping_) {
    checkpoint_cv_.wait_for(lock, kCheckpointIdleInterval,
                            [this] { return checkpoint_wanted_ || checkpoint_stopping_; });
    if (checkpoint_stopping_) break;
    checkpoint_wanted_ = false;
    lock.unlock();
    checkpoint();
    lock.lock();
  }
}

// ---- the two places that lock --------------------------------------------------------

template <typename Body>
auto SqliteStore::in_transaction(Body&& body) -> decltype(body()) {
  std::lock_guard lock(mu_);
  if (auto begun = run(Sql::kBegin); !begun) return begun.error();
  auto result = body();
  if (result) {
    auto committed = run(Sql::kCommit);
    if (committed) return result;
    result = committed.error();
  }
  // Some errors (SQLITE_FULL, IOERR, NOMEM) roll back on their own; a second ROLLBACK would
  // only fail with "no transaction is active".
  if (sqlite3_get_autocommit(db_) == 0) (void)run(Sql::kRollback);
  return result;
}

template <typename Body>
auto SqliteStore::locked(Body&& body) -> decltype(body()) {
  std::lock_guard lock(mu_);
  return body();
}

// ---- helpers (REQUIRES: mu_ held) ----------------------------------------------------

Result<Statement> SqliteStore::statement(Sql id) {
  // Prepared on first use rather than at open: statements naming tables cannot be prepared
  // before init_schema has created them.
  sqlite3_stmt*& slot = statements_[static_cast<std::size_t>(id)];
  if (slot == nullptr) {
    const int rc = sqlite3_prepare_v3(db_, kSqlText[static_cast<std::size_t>(id)], -1,
                                      SQLITE_PREPARE_PERSISTENT, &slot, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(slot);
      slot = nullptr;
      return sqlite_error(rc);
    }
  }
  return Statement(slot);
}

Result<void> SqliteStore::run(Sql id) {
  auto st = statement(id);
  if (!st) return st.error();
  return st->run();
}

Result<void> SqliteStore::exec_script(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(rc);
  return {};
}

Result<bool> SqliteStore::is_without_rowid(const char* table) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(
      db_, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return bool_error(sqlite_error(rc));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, &sqlite3_finalize);
  sqlite3_bind_text(raw, 1, table, -1, SQLITE_STATIC);
  const int step = sqlite3_step(raw);
  if (step == SQLITE_DONE) return bool_error(make_error(StoreErrc::kCorrupt));  // no table
  if (step != SQLITE_ROW) return bool_error(sqlite_error(step));
  const auto* sql = reinterpret_cast<const char*>(sqlite3_column_text(raw, 0));
  return sql != nullptr && std::string_view(sql).find("WITHOUT ROWID") != std::string_view::npos;
}

Result<int> SqliteStore::user_version() {
  auto st = statement(Sql::kUserVersion);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(StoreErrc::kCorrupt);
  return static_cast<int>(st->int64(0));
}

namespace {

Result<Verification> read_verification(const Statement& st) {
  Verification v;
  v.tenant = core::TenantId(st.text(0));
  v.id = core::VerificationId(st.text(1));
  v.recipient = core::RecipientHash(st.text(2));
  v.masked_to = st.text(3);
  const bool enums_ok = parse_name(kChannelNames, st.text(4), v.channel) &&
                        parse_name(kAlphabetNames, st.text(5), v.alphabet) &&
                        parse_name(kStatusNames, st.text(8), v.status) &&
                        parse_name(kDeliveryNames, st.text(16), v.delivery);
  if (!enums_ok) return make_error(StoreErrc::kCorrupt);
  v.code_length = static_cast<int>(st.int64(6));
  v.code_hash = st.text(7);
  v.attempts = static_cast<int>(st.int64(9));
  v.max_attempts = static_cast<int>(st.int64(10));
  v.created_at = st.time(11);
  v.expires_at = st.time(12);
  v.resend_at = st.time(13);
  if (!st.is_null(14)) v.approved_at = st.time(14);
  v.delete_after = st.time(15);
  v.locale = st.text(17);
  v.metadata_json = st.text(18);
  return v;
}

// One row of a (count, oldest) query over a window of events.
struct WindowCount {
  long long count = 0;
  TimePoint oldest;
};

Result<WindowCount> read_window(Statement& st) {
  auto row = st.step();
  if (!row) return row.error();
  if (!*row) return make_error(StoreErrc::kCorrupt);
  WindowCount w;
  w.count = st.int64(0);
  if (!st.is_null(1)) w.oldest = st.time(1);
  return w;
}

}  // namespace

namespace {
// The first row of a verification query whose two parameters are tenant and `key`.
Result<std::optional<Verification>> first_verification(Result<Statement> st,
                                                       const std::string& tenant,
                                                       const std::string& key) {
  if (!st) return st.error();
  st->bind(1, tenant).bind(2, key);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Verification>();
  auto v = read_verification(*st);
  if (!v) return v.error();
  return std::optional<Verification>(std::move(*v));
}
}  // namespace

Result<std::optional<Verification>> SqliteStore::select_verification(
    const core::TenantId& tenant, const core::VerificationId& id) {
  return first_verification(statement(Sql::kSelectVerification), tenant.str(), id.str());
}

Result<std::optional<Verification>> SqliteStore::select_newest(
    const core::TenantId& tenant, const core::RecipientHash& recipient) {
  return first_verification(statement(Sql::kSelectNewest), tenant.str(), recipient.str());
}

Result<void> SqliteStore::update_state(const Verification& v) {
  auto st = statement(Sql::kUpdateState);
  if (!st) return st.error();
  st->bind(1, v.tenant.str())
      .bind(2, v.id.str())
      .bind(3, name_of(kStatusNames, v.status))
      .bind(4, static_cast<long long>(v.attempts))
      .bind(5, v.approved_at);
  return st->run();
}

Result<void> SqliteStore::delete_delivery(const core::TenantId& tenant,
                                          const core::VerificationId& id) {
  auto st = statement(Sql::kDeleteDelivery);
  if (!st) return st.error();
  st->bind(1, tenant.str()).bind(2, id.str());
  return st->run();
}

// ---- schema --------------------------------------------------------------------------

Result<bool> SqliteStore::is_new_database() {
  return locked([&]() -> Result<bool> {
    auto st = statement(Sql::kCountTables);
    if (!st) return bool_error(st.error());
    auto row = st->step();
    if (!row) return row;
    if (!*row) return bool_error(make_error(StoreErrc::kCorrupt));
    return st->int64(0) == 0;
  });
}

Result<void> SqliteStore::init_schema() {
  return in_transaction([&]() -> Result<void> {
    auto version = user_version();
    if (!version) return version.error();
    // A newer otpd has migrated this file; running old code against it could corrupt it.
    if (*version > kSchemaVersion) return make_error(StoreErrc::kSchemaMissing);
    for (int v = *version; v < kSchemaVersion; ++v) {
      if (auto r = exec_script(kMigrations[v]); !r) return r;
    }
    if (*version < 3) {
      for (const auto& rebuild : kV3Rebuilds) {
        auto clustered = is_without_rowid(rebuild.table);
        if (!clustered) return clustered.error();
        if (*clustered) continue;
        if (auto r = exec_script(rebuild.sql); !r) return r;
      }
    }
    // PRAGMA takes no bound parameters; the value is a compile-time constant.
    const std::string set_version = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
    return exec_script(set_version.c_str());
  });
}

Result<void> SqliteStore::check_schema(std::string* what_is_missing) {
  return locked([&]() -> Result<void> {
    auto version = user_version();
    if (!version) return version.error();
    if (*version == kSchemaVersion) return {};
    if (what_is_missing != nullptr) {
      if (*version > kSchemaVersion) {
        *what_is_missing = "schema version " + std::to_string(*version) +
                           " is newer than this otpd understands (" +
                           std::to_string(kSchemaVersion) + "): upgrade otpd";
      } else {
        *what_is_missing = "schema version " + std::to_string(*version) + ", expected " +
                           std::to_string(kSchemaVersion) + ": run `otpd store init`";
      }
    }
    return make_error(StoreErrc::kSchemaMissing);
  });
}

Result<void> SqliteStore::ping() {
  return locked([&]() -> Result<void> {
    auto st = statement(Sql::kPing);
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    return {};
  });
}

// ---- verifications -------------------------------------------------------------------

Result<StartOutcome> SqliteStore::start(const StartRequest& request) {
  return in_transaction([&]() -> Result<StartOutcome> {
    const Verification& v = request.verification;
    const TimePoint now = v.created_at;
    StartOutcome out;

    auto newest = select_newest(v.tenant, v.recipient);
    if (!newest) return newest.error();
    const bool previous_pending =
        newest->has_value() && (*newest)->status == Status::kPending && now < (*newest)->expires_at;
    // Refusals return before any write, so a refused send never extends the cooldown nor
    // counts in the window.
    if (previous_pending && now < (*newest)->resend_at) {
      out.kind = StartOutcome::Kind::kCooldown;
      out.retry_after = retry_after((*newest)->resend_at - now);
      return out;
    }

    const Millis window = Seconds(std::max(0, request.send_window_seconds));
    auto sends = statement(Sql::kSendsInWindow);
    if (!sends) return sends.error();
    sends->bind(1, v.tenant.str()).bind(2, v.recipient.str()).bind(3, now - window).bind(4, now);
    auto in_window = read_window(*sends);
    if (!in_window) return in_window.error();
    // max_sends_per_window <= 0 means no per-recipient window limit.
    if (request.max_sends_per_window > 0 && in_window->count >= request.max_sends_per_window) {
      out.kind = StartOutcome::Kind::kSendLimit;
      out.retry_after = retry_after(in_window->oldest + window - now);
      return out;
    }

    // Every counter is read before any is incremented, so a refusal by the last one leaves
    // the first ones as they were.
    std::vector<CounterWindow> counted(request.counters.size());
    for (std::size_t i = 0; i < request.counters.size(); ++i) {
      const SendCounter& counter = request.counters[i];
      // A window of no length cannot hold a send; skipped like a counter without a limit.
      if (counter.limit <= 0 || counter.window <= Seconds(0)) continue;
      counted[i] = counter_window(now, counter.window);
      auto st = statement(Sql::kSelectCounter);
      if (!st) return st.error();
      st->bind(1, counter.key).bind(2, counted[i].start_ms).bind(3, counted[i].end_ms);
      auto row = st->step();
      if (!row) return row.error();
      const long long count = *row ? st->int64(0) : 0;
      if (count >= counter.limit) {
        out.kind = StartOutcome::Kind::kCounterLimit;
        out.counter_index = i;
        out.retry_after = retry_after(core::from_unix_ms(counted[i].end_ms) - now);
        return out;
      }
    }

    // A pending one already past expires_at is left alone: it reads as expired, which is
    // what it is, and take_due_deliveries drops its job.
    if (previous_pending) {
      Verification previous = std::move(**newest);
      previous.status = Status::kCanceled;
      if (auto r = update_state(previous); !r) return r.error();
      if (auto r = delete_delivery(previous.tenant, previous.id); !r) return r.error();
      out.superseded = previous.id;
    }

    Verification stored = v;
    stored.status = Status::kPending;
    stored.attempts = 0;
    stored.approved_at.reset();
    stored.delivery = DeliveryStatus::kQueued;
    stored.resend_at =
        now + cooldown_after_send(request.resend_cooldown_seconds, request.send_window_seconds,
                                  static_cast<int>(in_window->count) + 1);

    auto insert = statement(Sql::kInsertVerification);
    if (!insert) return insert.error();
    insert->bind(1, stored.tenant.str())
        .bind(2, stored.id.str())
        .bind(3, stored.recipient.str())
        .bind(4, stored.masked_to)
        .bind(5, name_of(kChannelNames, stored.channel))
        .bind(6, name_of(kAlphabetNames, stored.alphabet))
        .bind(7, static_cast<long long>(stored.code_length))
        .bind(8, stored.code_hash)
        .bind(9, name_of(kStatusNames, stored.status))
        .bind(10, static_cast<long long>(stored.attempts))
        .bind(11, static_cast<long long>(stored.max_attempts))
        .bind(12, stored.created_at)
        .bind(13, stored.expires_at)
        .bind(14, stored.resend_at)
        .bind(15, stored.approved_at)
        .bind(16, stored.delete_after)
        .bind(17, name_of(kDeliveryNames, stored.delivery))
        .bind(18, stored.locale)
        .bind(19, stored.metadata_json);
    if (auto r = insert->run(); !r) return r.error();

    auto send = statement(Sql::kInsertSend);
    if (!send) return send.error();
    send->bind(1, stored.tenant.str())
        .bind(2, stored.recipient.str())
        .bind(3, now)
        .bind(4, stored.id.str());
    if (auto r = send->run(); !r) return r.error();

    for (std::size_t i = 0; i < request.counters.size(); ++i) {
      const SendCounter& counter = request.counters[i];
      if (counter.limit <= 0 || counter.window <= Seconds(0)) continue;
      auto st = statement(Sql::kIncrementCounter);
      if (!st) return st.error();
      st->bind(1, counter.key).bind(2, counted[i].start_ms).bind(3, counted[i].end_ms);
      if (auto r = st->run(); !r) return r.error();
    }

    auto job = statement(Sql::kInsertDelivery);
    if (!job) return job.error();
    job->bind(1, stored.tenant.str())
        .bind(2, stored.id.str())
        .bind(3, name_of(kChannelNames, stored.channel))
        .bind_blob(4, request.sealed_delivery)
        .bind(5, request.delivery_leased_until.value_or(now))
        .bind(6, stored.expires_at);
    if (auto r = job->run(); !r) return r.error();

    out.kind = StartOutcome::Kind::kStarted;
    out.verification = std::move(stored);
    return out;
  });
}

Result<std::optional<Verification>> SqliteStore::get(const core::TenantId& tenant,
                                                     const core::VerificationId& id) {
  return locked([&] { return select_verification(tenant, id); });
}

Result<std::optional<Verification>> SqliteStore::find_latest(
    const core::TenantId& tenant, const std::vector<core::RecipientHash>& recipients) {
  return locked([&]() -> Result<std::optional<Verification>> {
    for (const auto& recipient : recipients) {
      auto found = select_newest(tenant, recipient);
      if (!found || found->has_value()) return found;
    }
    return std::optional<Verification>();
  });
}

Result<CheckOutcome> SqliteStore::check(const CheckRequest& request) {
  return in_transaction([&]() -> Result<CheckOutcome> {
    const TimePoint now = request.now;
    CheckOutcome out;
    Result<std::optional<Verification>> found = std::optional<Verification>();
    if (request.recipients.empty()) {
      found = select_verification(request.tenant, request.id);
    } else {
      for (const auto& recipient : request.recipients) {
        found = select_newest(request.tenant, recipient);
        if (!found || found->has_value()) break;
      }
    }
    if (!found) return found.error();
    if (!found->has_value()) return out;  // kNotFound
    Verification v = std::move(**found);

    if (v.status == Status::kApproved || v.status == Status::kCanceled) {
      return out;  // kNotFound: nothing pending, and an approved code is single use
    }
    std::optional<std::vector<std::string>> hashed;
    if (request.hash_code) {
      hashed = request.hash_code(v);
      if (!hashed) {
        out.kind = CheckOutcome::Kind::kMalformed;
        out.verification = std::move(v);
        return out;
      }
    }
    const std::vector<std::string>& candidates = hashed ? *hashed : request.candidate_hashes;

    switch (v.status) {
      case Status::kApproved:
      case Status::kCanceled:
        return out;  // handled above
      case Status::kMaxAttemptsReached:
        // PRODUCT.md orders expired before locked: a locked code past its expiry is expired.
        out.kind = now >= v.expires_at ? CheckOutcome::Kind::kExpired : CheckOutcome::Kind::kLocked;
        out.verification = std::move(v);
        return out;
      case Status::kPending:
      case Status::kExpired:
        break;
    }
    if (v.status == Status::kExpired || v.effective_status(now) == Status::kExpired) {
      out.kind = CheckOutcome::Kind::kExpired;
      out.verification = std::move(v);
      return out;
    }

    if (request.failures_per_recipient_per_hour > 0) {
      auto failures = statement(Sql::kFailuresInWindow);
      if (!failures) return failures.error();
      failures->bind(1, v.tenant.str())
          .bind(2, v.recipient.str())
          .bind(3, now - kFailureBudgetWindow)
          .bind(4, now);
      auto spent = read_window(*failures);
      if (!spent) return spent.error();
      if (spent->count >= request.failures_per_recipient_per_hour) {
        out.kind = CheckOutcome::Kind::kTooManyFailures;
        out.retry_after = retry_after(spent->oldest + kFailureBudgetWindow - now);
        out.verification = std::move(v);
        return out;
      }
    }

    if (any_hash_matches(v.code_hash, candidates)) {
      v.status = Status::kApproved;
      v.approved_at = now;
      if (auto r = update_state(v); !r) return r.error();
      out.kind = CheckOutcome::Kind::kApproved;
      out.verification = std::move(v);
      return out;
    }

    v.attempts += 1;
    if (v.attempts >= v.max_attempts) v.status = Status::kMaxAttemptsReached;
    if (auto r = update_state(v); !r) return r.error();
    // Recorded even with the budget off, so turning it on takes effect with history.
    auto failure = statement(Sql::kInsertFailure);
    if (!failure) return failure.error();
    failure->bind(1, v.tenant.str()).bind(2, v.recipient.str()).bind(3, now);
    if (auto r = failure->run(); !r) return r.error();
    out.kind = v.status == Status::kMaxAttemptsReached ? CheckOutcome::Kind::kLocked
                                                       : CheckOutcome::Kind::kInvalid;
    out.verification = std::move(v);
    return out;
  });
}

Result<CancelOutcome> SqliteStore::cancel(const core::TenantId& tenant,
                                          const core::VerificationId& id, TimePoint now) {
  return in_transaction([&]() -> Result<CancelOutcome> {
    auto found = select_verification(tenant, id);
    if (!found) return found.error();
    if (!found->has_value()) return CancelOutcome::kNotFound;
    Verification v = std::move(**found);
    if (v.status == Status::kApproved) return CancelOutcome::kAlreadyApproved;
    if (v.effective_status(now) != Status::kPending) return CancelOutcome::kNotPending;
    v.status = Status::kCanceled;
    if (auto r = update_state(v); !r) return r.error();
    if (auto r = delete_delivery(tenant, id); !r) return r.error();
    return CancelOutcome::kCanceled;
  });
}

// ---- idempotency ---------------------------------------------------------------------

Result<IdempotencyReservation> SqliteStore::reserve_idempotency(const core::TenantId& tenant,
                                                                const std::string& key,
                                                                const std::string& request_hash,
                                                                TimePoint now, Millis lease) {
  return in_transaction([&]() -> Result<IdempotencyReservation> {
    IdempotencyReservation out;
    {
      auto st = statement(Sql::kSelectIdempotency);
      if (!st) return st.error();
      st->bind(1, tenant.str()).bind(2, key);
      auto row = st->step();
      if (!row) return row.error();
      if (*row && now < st->time(4)) {
        const bool same_request = st->text(0) == request_hash;
        const std::string state = st->text(1);
        if (state == kComplete) {
          out.kind = same_request ? IdempotencyReservation::Kind::kReplay
                                  : IdempotencyReservation::Kind::kConflict;
          if (same_request) {
            out.status = static_cast<int>(st->int64(2));
            out.response_body = st->text(3);
          }
          return out;
        }
        if (state != kInProgress) return make_error(StoreErrc::kCorrupt);
        out.kind = same_request ? IdempotencyReservation::Kind::kInProgress
                                : IdempotencyReservation::Kind::kConflict;
        return out;
      }
    }
    // Absent, or its lease or retention has lapsed: the key is free again.
    auto st = statement(Sql::kReserveIdempotency);
    if (!st) return st.error();
    st->bind(1, tenant.str()).bind(2, key).bind(3, request_hash).bind(4, now + lease);
    if (auto r = st->run(); !r) return r.error();
    out.kind = IdempotencyReservation::Kind::kReserved;
    return out;
  });
}

Result<void> SqliteStore::complete_idempotency(const core::TenantId& tenant, const std::string& key,
                                               int status, const std::string& response_body,
                                               TimePoint keep_until) {
  return locked([&]() -> Result<void> {
    auto st = statement(Sql::kCompleteIdempotency);
    if (!st) return st.error();
    st->bind(1, tenant.str())
        .bind(2, key)
        .bind(3, static_cast<long long>(status))
        .bind(4, response_body)
        .bind(5, keep_until);
    return st->run();
  });
}

Result<void> SqliteStore::release_idempotency(const core::TenantId& tenant,
                                              const std::string& key) {
  return locked([&]() -> Result<void> {
    auto st = statement(Sql::kReleaseIdempotency);
    if (!st) return st.error();
    st->bind(1, tenant.str()).bind(2, key);
    return st->run();
  });
}

// ---- delivery queue ------------------------------------------------------------------

Result<std::vector<DeliveryJob>> SqliteStore::take_due_deliveries(TimePoint now, std::size_t max,
                                                                  TimePoint lease_until) {
  return in_transaction([&]() -> Result<std::vector<DeliveryJob>> {
    std::vector<DeliveryJob> due;
    {
      // Read fully before writing: updating rows under an open cursor over the same index
      // may make it visit a row twice or skip one.
      auto st = statement(Sql::kSelectDue);
      if (!st) return st.error();
      st->bind(1, now).bind(
          2, static_cast<long long>(std::min<std::size_t>(max, static_cast<std::size_t>(1) << 30)));
      for (;;) {
        auto row = st->step();
        if (!row) return row.error();
        if (!*row) break;
        DeliveryJob job;
        job.tenant = core::TenantId(st->text(0));
        job.id = core::VerificationId(st->text(1));
        if (!parse_name(kChannelNames, st->text(2), job.channel)) {
          return make_error(StoreErrc::kCorrupt);
        }
        job.sealed = st->blob(3);
        job.attempts = static_cast<int>(st->int64(4));
        job.expires_at = st->time(5);
        due.push_back(std::move(job));
      }
    }

    std::vector<DeliveryJob> taken;
    taken.reserve(due.size());
    for (auto& job : due) {
      if (job.expires_at <= now) {
        // The code is dead: delivering it would only confuse the recipient.
        auto st = statement(Sql::kSetDelivery);
        if (!st) return st.error();
        st->bind(1, job.tenant.str())
            .bind(2, job.id.str())
            .bind(3, name_of(kDeliveryNames, DeliveryStatus::kFailed));
        if (auto r = st->run(); !r) return r.error();
        if (auto r = delete_delivery(job.tenant, job.id); !r) return r.error();
        continue;
      }
      auto st = statement(Sql::kLeaseDelivery);
      if (!st) return st.error();
      st->bind(1, job.tenant.str()).bind(2, job.id.str()).bind(3, lease_until);
      if (auto r = st->run(); !r) return r.error();
      taken.push_back(std::move(job));
    }
    return taken;
  });
}

Result<void> SqliteStore::record_delivery_outcome(const core::TenantId& tenant,
                                                  const core::VerificationId& id,
                                                  DeliveryStatus outcome) {
  auto st = statement(Sql::kSetDelivery);
  if (!st) return st.error();
  st->bind(1, tenant.str()).bind(2, id.str()).bind(3, name_of(kDeliveryNames, outcome));
  if (auto r = st->run(); !r) return r;
  return delete_delivery(tenant, id);
}

Result<void> SqliteStore::finish_delivery(const core::TenantId& tenant,
                                          const core::VerificationId& id, DeliveryStatus outcome) {
  return in_transaction([&] { return record_delivery_outcome(tenant, id, outcome); });
}

Result<void> SqliteStore::finish_deliveries(const std::vector<FinishedDelivery>& done) {
  if (done.empty()) return {};
  return in_transaction([&]() -> Result<void> {
    for (const auto& d : done) {
      if (auto r = record_delivery_outcome(d.tenant, d.id, d.outcome); !r) return r;
    }
    return {};
  });
}

Result<void> SqliteStore::retry_delivery(const core::TenantId& tenant,
                                         const core::VerificationId& id, TimePoint next_attempt) {
  return locked([&]() -> Result<void> {
    auto st = statement(Sql::kRetryDelivery);
    if (!st) return st.error();
    st->bind(1, tenant.str()).bind(2, id.str()).bind(3, next_attempt);
    return st->run();
  });
}

Result<std::size_t> SqliteStore::delivery_queue_depth() {
  return locked([&]() -> Result<std::size_t> {
    auto st = statement(Sql::kDeliveryDepth);
    if (!st) return st.error();
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return make_error(StoreErrc::kCorrupt);
    return static_cast<std::size_t>(st->int64(0));
  });
}

// ---- token buckets -------------------------------------------------------------------

Result<TokenOutcome> SqliteStore::take_token(const TokenRequest& request) {
  const double rate = request.rate_per_second;
  // No refill rate means no limit; an infinite rate or capacity never runs dry. None of
  // them needs a row (and infinities would turn the arithmetic below into NaN).
  if (!(rate > 0) || std::isinf(rate) || std::isinf(request.burst)) return TokenOutcome{};
  // A bucket that cannot hold one whole token could never give one out.
  const double burst = std::max(1.0, request.burst);
  const long long now = core::to_unix_ms(request.now);

  return in_transaction([&]() -> Result<TokenOutcome> {
    double tokens = burst;  // a bucket without a row is full
    long long updated_at = now;
    {
      auto st = statement(Sql::kSelectBucket);
      if (!st) return st.error();
      st->bind(1, request.key);
      auto row = st->step();
      if (!row) return row.error();
      if (*row) {
        const double stored = st->real(0);
        const long long stored_at = st->int64(1);
        // A clock that went back refills nothing, and the row keeps its later time: moving
        // it back would count the same interval twice once the clock catches up.
        const long long elapsed_ms = std::max(0LL, now - stored_at);
        updated_at = std::max(now, stored_at);
        tokens = std::min(burst, stored + static_cast<double>(elapsed_ms) / 1000.0 * rate);
      }
    }

    TokenOutcome out;
    if (tokens < 1.0 - kTokenEpsilon) {
      // Nothing is written: the stored tokens and time already give this refill and all
      // that follows, whereas storing a new time without the refill would lose it.
      const double seconds = std::ceil((1.0 - kTokenEpsilon - tokens) / rate);
      out.allowed = false;
      out.retry_after = Seconds(static_cast<long long>(std::clamp(seconds, 1.0, kFarFutureMs)));
      return out;
    }
    tokens = std::max(0.0, tokens - 1.0);
    const double full_at =
        std::ceil(static_cast<double>(updated_at) + (burst - tokens) / rate * 1000.0);

    auto st = statement(Sql::kStoreBucket);
    if (!st) return st.error();
    st->bind(1, request.key)
        .bind_real(2, tokens)
        .bind(3, updated_at)
        .bind(4, static_cast<long long>(std::min(full_at, kFarFutureMs)));
    if (auto r = st->run(); !r) return r.error();
    return out;
  });
}

// ---- sweep ---------------------------------------------------------------------------

Result<std::size_t> SqliteStore::sweep(TimePoint now, Seconds counter_horizon) {
  return in_transaction([&]() -> Result<std::size_t> {
    std::size_t deleted = 0;
    const TimePoint horizon = now - counter_horizon;
    const std::pair<Sql, TimePoint> steps[] = {
        // Mark before deleting: the jobs are what says which verifications to mark.
        // Send records before their verifications: the verifications say which go.
        {Sql::kFailExpiredDeliveries, now}, {Sql::kSweepSends, now},
        {Sql::kSweepVerifications, now},    {Sql::kSweepDeliveries, now},
        {Sql::kSweepIdempotency, now},      {Sql::kSweepFailures, horizon},
        {Sql::kSweepCounters, now},         {Sql::kSweepBuckets, now},
    };
    for (const auto& [sql, at] : steps) {
      auto st = statement(sql);
      if (!st) return st.error();
      st->bind(1, at);
      if (auto r = st->run(); !r) return r.error();
      if (sql != Sql::kFailExpiredDeliveries) {
        deleted += static_cast<std::size_t>(sqlite3_changes64(db_));
      }
    }
    return deleted;
  });
}

}  // namespace otpd::store
