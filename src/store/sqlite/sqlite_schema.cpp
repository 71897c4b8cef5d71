// The SQLite file's schema: the DDL of every version, the migrations between them, and
// what to tell a person when a file is not current.
#include "store/sqlite/sqlite_schema.hpp"

#include <sqlite3.h>

#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "store/sqlite/sqlite_connection.hpp"

namespace otpd::store::sqlite {
namespace {

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
    // v4: an idempotency record keeps the verification its first request answered with
    // (encoded by store/record_codec) instead of the response body, so that every presenter
    // can replay it; older records cannot be read that way and are dropped.
    "DELETE FROM idempotency",
    // v5: a send writes one row: the verification is its own send record (the window is
    // counted on the recipient index) and carries its delivery job (sealed payload,
    // attempts, next attempt; NULL once there is none), the queue being a partial index over
    // the rows that have one. Two B-trees fewer per send, one fewer per delivery outcome.
    // Done by migrate_to_v5.
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
static_assert(std::size(kMigrations) == kSchemaVersion);

Result<int> user_version(Connection& db) {
  auto st = db.statement(Sql::kUserVersion);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(StoreErrc::kCorrupt);
  return static_cast<int>(st->int64(0));
}

// The first column of the first row of `sql`, which takes one text parameter.
Result<long long> count_of(Connection& db, const char* sql, const char* parameter) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db.handle(), sql, -1, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return sqlite_error(rc);
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, &sqlite3_finalize);
  sqlite3_bind_text(raw, 1, parameter, -1, SQLITE_STATIC);
  const int step = sqlite3_step(raw);
  if (step != SQLITE_ROW) return sqlite_error(step);
  return sqlite3_column_int64(raw, 0);
}

Result<bool> table_exists(Connection& db, const char* table) {
  auto n =
      count_of(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", table);
  if (!n) return bool_error(n.error());
  return *n > 0;
}

Result<void> migrate_to_v5(Connection& db) {
  auto folded =
      count_of(db, "SELECT count(*) FROM pragma_table_info('verifications') WHERE name = ?1",
               "next_attempt_at");
  if (!folded) return folded.error();
  if (*folded == 0) {
    if (auto r = db.exec("ALTER TABLE verifications ADD COLUMN sealed BLOB;"
                         " ALTER TABLE verifications ADD COLUMN job_attempts INTEGER NOT NULL"
                         " DEFAULT 0;"
                         " ALTER TABLE verifications ADD COLUMN next_attempt_at INTEGER");
        !r) {
      return r;
    }
  }
  auto jobs = table_exists(db, "deliveries");
  if (!jobs) return jobs.error();
  if (*jobs) {
    // A job whose verification is gone has nothing to go with: it is dropped, as the sweep
    // would have dropped it.
    if (auto r = db.exec("UPDATE verifications SET sealed = d.sealed, job_attempts = d.attempts,"
                         " next_attempt_at = d.next_attempt_at FROM deliveries d"
                         " WHERE d.tenant = verifications.tenant AND d.id = verifications.id;"
                         " DROP TABLE deliveries");
        !r) {
      return r;
    }
  }
  auto sends = table_exists(db, "sends");
  if (!sends) return sends.error();
  if (*sends) {
    if (auto r = db.exec("DROP TABLE sends"); !r) return r;
  }
  return db.exec(
      "CREATE INDEX IF NOT EXISTS verifications_due ON verifications (next_attempt_at)"
      " WHERE next_attempt_at IS NOT NULL");
}

Result<bool> is_without_rowid(Connection& db, const char* table) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(
      db.handle(), "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &raw,
      nullptr);
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

}  // namespace

Result<void> migrate(Connection& db) {
  auto version = user_version(db);
  if (!version) return version.error();
  // A newer otpd has migrated this file; running old code against it could corrupt it.
  if (*version > kSchemaVersion) return make_error(StoreErrc::kSchemaMissing);
  for (int v = *version; v < kSchemaVersion; ++v) {
    if (auto r = db.exec(kMigrations[v]); !r) return r;
    if (v + 1 == 3) {
      for (const auto& rebuild : kV3Rebuilds) {
        auto exists = table_exists(db, rebuild.table);
        if (!exists) return exists.error();
        if (!*exists) continue;  // v5 dropped it (a current file whose version was reset)
        auto clustered = is_without_rowid(db, rebuild.table);
        if (!clustered) return clustered.error();
        if (*clustered) continue;
        if (auto r = db.exec(rebuild.sql); !r) return r;
      }
    }
    if (v + 1 == 5) {
      if (auto r = migrate_to_v5(db); !r) return r;
    }
  }
  // PRAGMA takes no bound parameters; the value is a compile-time constant.
  const std::string set_version = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
  return db.exec(set_version.c_str());
}

Result<std::optional<std::string>> schema_problem(Connection& db) {
  auto version = user_version(db);
  if (!version) return version.error();
  if (*version == kSchemaVersion) return std::optional<std::string>();
  if (*version > kSchemaVersion) {
    return std::optional<std::string>("schema version " + std::to_string(*version) +
                                      " is newer than this otpd understands (" +
                                      std::to_string(kSchemaVersion) + "): upgrade otpd");
  }
  return std::optional<std::string>("schema version " + std::to_string(*version) + ", expected " +
                                    std::to_string(kSchemaVersion) + ": run `otpd store init`");
}

Result<bool> is_new_database(Connection& db) {
  auto st = db.statement(Sql::kCountTables);
  if (!st) return bool_error(st.error());
  auto row = st->step();
  if (!row) return row;
  if (!*row) return bool_error(make_error(StoreErrc::kCorrupt));
  return st->int64(0) == 0;
}

}  // namespace otpd::store::sqlite
