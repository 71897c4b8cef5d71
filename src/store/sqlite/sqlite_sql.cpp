// The SQL texts of the SQLite backend.
#include "store/sqlite/sqlite_sql.hpp"

#include <cstddef>
#include <iterator>

namespace otpd::store::sqlite {
namespace {

// Indexed by Sql.
constexpr const char* kSqlText[] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    // Each operation of a batch runs inside its own savepoint, so a failing one rolls back
    // only itself.
    "SAVEPOINT op",
    "RELEASE op",
    "ROLLBACK TO op",
    "SELECT 1",
    "PRAGMA user_version",
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    "SELECT " OTPD_VERIFICATION_COLUMNS " FROM verifications WHERE tenant = ?1 AND id = ?2",
    // rowid breaks ties between two starts in the same millisecond: the later insert wins.
    "SELECT " OTPD_VERIFICATION_COLUMNS
    " FROM verifications WHERE tenant = ?1 AND recipient_hash = ?2"
    " ORDER BY created_at DESC, rowid DESC LIMIT 1",
    // A verification is stored with its delivery job (v5): the sealed payload, the attempts
    // made and when the next is due, NULL once there is no job.
    "INSERT INTO verifications (" OTPD_VERIFICATION_COLUMNS
    ", sealed, job_attempts, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
    " ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, 0, ?21)",
    "UPDATE verifications SET status = ?3, attempts = ?4, approved_at = ?5"
    " WHERE tenant = ?1 AND id = ?2",
    "UPDATE verifications SET delivery = ?3, sealed = NULL, next_attempt_at = NULL"
    " WHERE tenant = ?1 AND id = ?2",
    // A send is a verification created (v5: no send record of its own): counted on the
    // recipient index alone, which holds every column the count needs.
    "SELECT count(*), min(created_at) FROM verifications"
    " WHERE tenant = ?1 AND recipient_hash = ?2 AND created_at > ?3 AND created_at <= ?4",
    "SELECT count(*), min(at) FROM failures"
    " WHERE tenant = ?1 AND recipient_hash = ?2 AND at > ?3 AND at <= ?4",
    "INSERT INTO failures (tenant, recipient_hash, at) VALUES (?1, ?2, ?3)",
    "UPDATE verifications SET sealed = NULL, next_attempt_at = NULL"
    " WHERE tenant = ?1 AND id = ?2 AND next_attempt_at IS NOT NULL",
    // The queue is the partial index verifications_due: only rows with a job are in it.
    "SELECT tenant, id, channel, sealed, job_attempts, expires_at FROM verifications"
    " WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1 ORDER BY next_attempt_at",
    "UPDATE verifications SET next_attempt_at = ?3"
    " WHERE tenant = ?1 AND id = ?2 AND next_attempt_at IS NOT NULL",
    "UPDATE verifications SET job_attempts = job_attempts + 1, next_attempt_at = ?3"
    " WHERE tenant = ?1 AND id = ?2 AND next_attempt_at IS NOT NULL",
    "SELECT count(*) FROM verifications WHERE next_attempt_at IS NOT NULL",
    "SELECT request_hash, state, status, response_body, expires_at FROM idempotency"
    " WHERE tenant = ?1 AND key = ?2",
    // response_body holds the first answer's verification (record_codec); state and status
    // are kept from schema v3 and always 'complete' and 201.
    "INSERT OR REPLACE INTO idempotency"
    " (tenant, key, request_hash, state, status, response_body, expires_at)"
    " VALUES (?1, ?2, ?3, 'complete', 201, ?4, ?5)",
    // The sweep runs in slices of at most ?2 rows per table, each slice one operation of
    // the writer, so that it never holds the write transaction for long. A verification's
    // delivery job goes with it.
    "DELETE FROM verifications WHERE rowid IN (SELECT rowid FROM verifications"
    " WHERE delete_after <= ?1 ORDER BY delete_after, rowid LIMIT ?2)",
    // Jobs whose code has expired, found on the (small) queue index: dropped, and the
    // delivery marked failed if it was still queued.
    "UPDATE verifications SET delivery = CASE delivery WHEN 'queued' THEN 'failed' ELSE delivery"
    " END, sealed = NULL, next_attempt_at = NULL WHERE rowid IN (SELECT rowid FROM verifications"
    " WHERE next_attempt_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)",
    "DELETE FROM idempotency WHERE (tenant, key) IN"
    " (SELECT tenant, key FROM idempotency WHERE expires_at <= ?1 LIMIT ?2)",
    "DELETE FROM failures WHERE rowid IN (SELECT rowid FROM failures WHERE at < ?1 LIMIT ?2)",
    "SELECT count FROM send_counters WHERE key = ?1 AND window_start = ?2 AND window_end = ?3",
    "INSERT INTO send_counters (key, window_start, window_end, count) VALUES (?1, ?2, ?3, 1)"
    " ON CONFLICT (key, window_start, window_end) DO UPDATE SET count = count + 1",
    "DELETE FROM send_counters WHERE (key, window_start, window_end) IN"
    " (SELECT key, window_start, window_end FROM send_counters WHERE window_end <= ?1 LIMIT ?2)",
    "SELECT tokens, updated_at FROM token_buckets WHERE key = ?1",
    "INSERT OR REPLACE INTO token_buckets (key, tokens, updated_at, full_at)"
    " VALUES (?1, ?2, ?3, ?4)",
    "DELETE FROM token_buckets WHERE key IN"
    " (SELECT key FROM token_buckets WHERE full_at <= ?1 LIMIT ?2)",
};
static_assert(std::size(kSqlText) == static_cast<std::size_t>(Sql::kCount));

}  // namespace

const char* sql_text(Sql id) { return kSqlText[static_cast<std::size_t>(id)]; }

}  // namespace otpd::store::sqlite
