// The standalone backend: the Store port on one embedded SQLite file in WAL mode, written
// by one thread with group commit and read on a connection per I/O thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite/sqlite_schema.hpp"
#include "store/store.hpp"

namespace otpd::store {

namespace sqlite {
class Checkpointer;
class ReaderPool;
class Writer;
}  // namespace sqlite

// Failures only the SQLite backend has, with messages meant for a person at a terminal.
enum class SqliteErrc {
  kInUse = 1,   // another process holds the file (a running `otpd serve`)
  kBackupBusy,  // a backup is already being made
};
const boost::system::error_category& sqlite_category();
boost::system::error_code make_error(SqliteErrc e);

struct SqliteOptions {
  // Write operations waiting for the writer; past this an operation fails at once with
  // kUnavailable (the API answers 503 with Retry-After).
  std::size_t max_queued_writes = 10000;
  // Tests only: runs on the writer thread before it takes each batch (see Writer).
  std::function<void()> before_batch;
  // How long without a checkpoint before the WAL is copied back anyway and, when a burst
  // left it larger than 16 MiB, cut back (see Checkpointer). Shortened by tests.
  std::chrono::milliseconds quiet_checkpoint_interval{10000};
};

// Writes: every operation that writes (start, check's commit, transition, take_token,
// take_due, finish, retry, sweep, init_schema) is queued to one writer thread that owns the
// write connection. It takes everything queued, runs each operation inside a SAVEPOINT of
// one transaction (a failing operation rolls back only itself), commits once, and only then
// posts each result to its caller's executor: one WAL append and one commit for a batch,
// however many requests are in it, and nothing of the caller runs on the writer thread.
//
// Reads (get, check's snapshot, depth, schema_problem, ping) run on the calling thread, on a
// read connection of that thread's own. A check reads its snapshot there, runs the code
// matcher (the hash) there, outside any lock, and sends the commit to the writer, which
// re-reads the row and decides again with the same match; when a lookup by recipient now
// finds another verification, the check matches again.
//
// Durability: journal_mode=WAL with synchronous=NORMAL. A result is handed over after its
// commit returned, when its frames are in the operating system's page cache: it survives
// the process being killed (kill -9, a crash); only an OS crash or power loss can lose the
// last commits, as the WAL is synced at checkpoints, not at each commit.
//
// Locking: every connection uses SQLite's "unix-excl" VFS. The first connection takes a
// POSIX write lock on the file for the whole process and keeps it until the last one
// closes; from then on SQLite's file and WAL locks are taken in this process's memory only,
// and the WAL index lives in heap memory shared by this process's connections (no -shm
// file): a transaction costs no fcntl, where the default VFS makes two to six per
// transaction. The price: while a store is open, no other process can open the file. open()
// elsewhere waits 5 s and fails with SqliteErrc::kInUse, so `otpd store init` next to a
// running server fails with a clear message and changes nothing; backups are made by the
// process that holds the file (backup()).
//
// SQLite failures come back as kUnavailable (kCorrupt when the file is damaged or not a
// database); nothing is logged here, the caller decides.
//
// Layout: times are integer Unix milliseconds, enums are their lower-case names, so a copy
// of the file can be read with the sqlite3 shell (token counts are REAL). The schema version
// is PRAGMA user_version; init_schema migrates an older file one version at a time.
class SqliteStore final : public Store {
 public:
  static constexpr int kSchemaVersion = sqlite::kSchemaVersion;

  // Opens or creates the database file at `path` (its directory must exist), switches it
  // to WAL and starts the writer and checkpoint threads. Does not create the schema: call
  // init_schema(), or schema_problem() to find out whether it is needed. ":memory:" is a
  // private in-memory database (tests, fuzzing) whose reads go through the writer too.
  // On failure: SqliteErrc::kInUse (another process holds the file), kUnavailable (cannot
  // open, or cannot switch to WAL) or kCorrupt.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   SqliteOptions options = {});

  // Operations still queued complete with kUnavailable. REQUIRES: no read in progress.
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // True when the file holds no tables at all: a brand new database that `serve` may
  // initialise on its own, as opposed to an old or foreign one it must not touch.
  // Blocks until the writer answers: never call it on an I/O thread.
  Result<bool> is_new_database();

  Task<Result<void>> init_schema() override;
  // init_schema without the task, for start-up and tools. Blocks until the writer answers:
  // never call it on an I/O thread.
  Result<void> init_schema_now();
  Task<Result<std::optional<std::string>>> schema_problem() override;
  Task<Result<void>> ping() override;

  Task<Result<StartOutcome>> start(StartRequest request) override;
  Task<Result<core::CheckDecision>> check(CheckRequest request) override;
  Task<Result<std::optional<core::Verification>>> get(core::TenantId tenant,
                                                      core::VerificationId id) override;
  Task<Result<core::TransitionDecision>> transition(TransitionRequest request) override;
  Task<Result<TokenOutcome>> take_token(core::TokenSpec spec, core::TimePoint now) override;

  Task<Result<std::vector<DeliveryJob>>> take_due(TakeRequest request) override;
  Task<Result<void>> finish(std::vector<FinishedDelivery> done) override;
  Task<Result<void>> retry(core::TenantId tenant, core::VerificationId id,
                           core::TimePoint next_attempt) override;
  Task<Result<std::size_t>> depth() override;

  // Besides what the port promises, drops delivery jobs whose code has expired (marking
  // the verification's delivery failed, as take_due would) and jobs whose verification is
  // gone, so no sealed payload outlives its use when no worker runs. Runs as a series of
  // writer operations of at most 256 rows per table each, so requests are committed
  // between two slices instead of waiting behind one long transaction.
  Task<Result<std::size_t>> sweep(core::TimePoint now, core::Seconds counter_horizon) override;

  // An online backup of this store into a new file at `destination` (replaced if it
  // exists, atomically: a failed backup leaves no partial file), with SQLite's backup API,
  // as of one commit, while operations go on. Runs on a thread of its own and completes on
  // the caller's executor. SqliteErrc::kBackupBusy when one is already running.
  Task<Result<void>> backup(std::string destination);

  // Write operations waiting for the writer's next batch.
  std::size_t queued_writes();
  // Transactions the writer has committed (counted by SQLite's commit hook), for tests.
  std::uint64_t commits() const;
  // The checkpointer's hand-offs to the writer (see Checkpointer), for tests: copies of
  // the WAL's last frames, those that left frames behind, and quiet-time cuts of the WAL
  // file. All 0 for an in-memory store.
  struct CheckpointCounts {
    std::uint64_t tail_copies = 0;
    std::uint64_t incomplete_tail_copies = 0;
    std::uint64_t wal_shrinks = 0;
  };
  CheckpointCounts checkpoint_counts() const;

 private:
  explicit SqliteStore(std::string path);

  // Runs `body(Connection&)` on the writer inside a savepoint; completes after the commit.
  template <typename T, typename Body>
  Task<Result<T>> write(Body body);
  // Runs `body(Connection&)` on this thread's read connection (the writer for :memory:).
  template <typename T, typename Body>
  Task<Result<T>> read(Body body);
  // Runs `body(Connection&)` on the writer and waits for it on this (non-I/O) thread.
  template <typename T, typename Body>
  Result<T> write_and_wait(Body body);

  const std::string path_;
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;  // null for :memory:
  std::unique_ptr<sqlite::Writer> writer_;
  std::unique_ptr<sqlite::ReaderPool> readers_;  // null for :memory:

  std::mutex backup_mu_;
  std::thread backup_thread_;    // GUARDED_BY(backup_mu_)
  bool backup_running_ = false;  // GUARDED_BY(backup_mu_)
};

}  // namespace otpd::store
