// The standalone backend: the Store port on one embedded SQLite file in WAL mode.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace otpd::store {

namespace detail {
enum class SqliteSql : int;  // one per SQL text, listed in sqlite_store.cpp
class SqliteStatement;       // a borrowed prepared statement
}  // namespace detail

// Every Store operation is one SQLite transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on
// any failure) on a single connection guarded by one mutex. The mutex serialises this
// process; BEGIN IMMEDIATE plus a 5 s busy timeout serialises it against other processes
// on the same file (`otpd store init` next to a running server). SQLite failures come back
// as kUnavailable (kCorrupt when the file is damaged or not a database); nothing is logged
// here, the caller decides.
//
// Checkpoints (copying the WAL back into the database file, with its fdatasync) run on a
// background thread with a connection of its own, never inside a request's commit: SQLite's
// auto-checkpoint would run them in whichever commit crosses 1000 WAL pages, holding mu_
// for the length of a disk flush while every other operation waits.
//
// Layout: times are integer Unix milliseconds, enums are their lower-case names, so the
// file can be read with the sqlite3 shell (token counts are REAL). The schema version is
// PRAGMA user_version; `otpd store init` migrates an older file one version at a time.
class SqliteStore final : public Store {
 public:
  // 2: send counters and token buckets; 3: WITHOUT ROWID tables, send records keyed
  static constexpr int kSchemaVersion = 3;

  // Opens or creates the database file at `path` (its directory must exist) and sets the
  // connection up (WAL, synchronous=NORMAL, busy timeout). Does not create the schema:
  // call init_schema(), or check_schema() to find out whether it is needed.
  // On failure: kUnavailable (cannot open, or cannot switch to WAL) or kCorrupt.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // True when the file holds no tables at all: a brand new database that `serve` may
  // initialise on its own, as opposed to an old or foreign one it must not touch.
  Result<bool> is_new_database();

  Result<void> init_schema() override;
  Result<void> check_schema(std::string* what_is_missing) override;
  Result<void> ping() override;

  Result<StartOutcome> start(const StartRequest& request) override;
  Result<std::optional<core::Verification>> get(const core::TenantId& tenant,
                                                const core::VerificationId& id) override;
  Result<std::optional<core::Verification>> find_latest(
      const core::TenantId& tenant, const std::vector<core::RecipientHash>& recipients) override;
  Result<CheckOutcome> check(const CheckRequest& request) override;
  Result<CancelOutcome> cancel(const core::TenantId& tenant, const core::VerificationId& id,
                               core::TimePoint now) override;

  Result<IdempotencyReservation> reserve_idempotency(const core::TenantId& tenant,
                                                     const std::string& key,
                                                     const std::string& request_hash,
                                                     core::TimePoint now,
                                                     core::Millis lease) override;
  Result<void> complete_idempotency(const core::TenantId& tenant, const std::string& key,
                                    int status, const std::string& response_body,
                                    core::TimePoint keep_until) override;
  Result<void> release_idempotency(const core::TenantId& tenant, const std::string& key) override;

  Result<std::vector<DeliveryJob>> take_due_deliveries(core::TimePoint now, std::size_t max,
                                                       core::TimePoint lease_until) override;
  Result<void> finish_delivery(const core::TenantId& tenant, const core::VerificationId& id,
                               core::DeliveryStatus outcome) override;
  // All in one transaction: one commit, one WAL append, however many jobs.
  Result<void> finish_deliveries(const std::vector<FinishedDelivery>& done) override;
  Result<void> retry_delivery(const core::TenantId& tenant, const core::VerificationId& id,
                              core::TimePoint next_attempt) override;
  Result<std::size_t> delivery_queue_depth() override;

  // A burst below one token is taken as one (a smaller bucket could never give a token);
  // an infinite rate or burst is no limit and, like a rate <= 0, touches no row.
  Result<TokenOutcome> take_token(const TokenRequest& request) override;

  // Besides what Store::sweep promises, drops delivery jobs whose code has expired (marking
  // the verification's delivery failed, as take_due_deliveries would) and jobs whose
  // verification is gone, so no sealed payload outlives its use when no worker runs.
  Result<std::size_t> sweep(core::TimePoint now, core::Seconds counter_horizon) override;

 private:
  using Sql = detail::SqliteSql;
  using Statement = detail::SqliteStatement;

  explicit SqliteStore(sqlite3* db);

  // Starts the checkpoint thread for the file at `path`; called once by open().
  Result<void> start_checkpointer(const std::string& path);
  void checkpoint_loop();
  void checkpoint();  // takes mu_ for the last part
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int wal_pages);

  // The only two places that take mu_: every public method goes through one of them.
  // in_transaction runs `body` inside BEGIN IMMEDIATE ... COMMIT and rolls back when the
  // body or the commit fails; locked runs a single statement, atomic on its own.
  template <typename Body>
  auto in_transaction(Body&& body) -> decltype(body());
  template <typename Body>
  auto locked(Body&& body) -> decltype(body());

  // REQUIRES: mu_ held (all of the below).
  Result<Statement> statement(Sql id);
  Result<void> run(Sql id);
  Result<void> exec_script(const char* sql);
  Result<int> user_version();
  Result<bool> is_without_rowid(const char* table);
  Result<std::optional<core::Verification>> select_verification(const core::TenantId& tenant,
                                                                const core::VerificationId& id);
  Result<std::optional<core::Verification>> select_newest(const core::TenantId& tenant,
                                                          const core::RecipientHash& recipient);
  Result<void> update_state(const core::Verification& v);
  Result<void> delete_delivery(const core::TenantId& tenant, const core::VerificationId& id);
  Result<void> record_delivery_outcome(const core::TenantId& tenant, const core::VerificationId& id,
                                       core::DeliveryStatus outcome);

  std::mutex mu_;
  sqlite3* db_;                            // GUARDED_BY(mu_)
  std::vector<sqlite3_stmt*> statements_;  // GUARDED_BY(mu_); indexed by Sql, prepared lazily

  // The checkpointer: woken by on_wal_commit when the WAL has grown past a threshold.
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;    // GUARDED_BY(checkpoint_mu_)
  bool checkpoint_stopping_ = false;  // GUARDED_BY(checkpoint_mu_)
  sqlite3* checkpoint_db_ = nullptr;  // used by the checkpoint thread only
  std::thread checkpoint_thread_;
};

}  // namespace otpd::store
