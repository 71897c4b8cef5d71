// SqliteStore: each Store operation routed to the writer (writes) or to this thread's read
// connection (reads), completed on the caller's executor.
#include "store/sqlite/sqlite_store.hpp"

#include <sqlite3.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <memory>
#include <utility>

#include "core/resume_on_caller.hpp"
#include "core/thread_name.hpp"
#include "store/sqlite/sqlite_backup.hpp"
#include "store/sqlite/sqlite_checkpointer.hpp"
#include "store/sqlite/sqlite_operations.hpp"
#include "store/sqlite/sqlite_readers.hpp"
#include "store/sqlite/sqlite_writer.hpp"

namespace otpd::store {

namespace asio = boost::asio;
using sqlite::Connection;

namespace {

// Rows per table in one slice of the sweep: a few milliseconds of writer time at most.
constexpr std::size_t kSweepSlice = 256;

class SqliteCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "otpd.sqlite"; }
  std::string message(int ev) const override {
    switch (static_cast<SqliteErrc>(ev)) {
      case SqliteErrc::kInUse:
        return "the database file is in use by another process (a running `otpd serve` keeps "
               "it locked): stop that process first, or ask it for a copy with `otpd store "
               "backup`";
      case SqliteErrc::kBackupBusy:
        return "a backup is already being made";
    }
    return "unknown SQLite store error";
  }
};

}  // namespace

const boost::system::error_category& sqlite_category() {
  static const SqliteCategory category;
  return category;
}

boost::system::error_code make_error(SqliteErrc e) {
  return boost::system::error_code(static_cast<int>(e), sqlite_category());
}

// ---- lifetime ------------------------------------------------------------------------

SqliteStore::SqliteStore(std::string path) : path_(std::move(path)) {}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(backup_mu_);
    if (backup_thread_.joinable()) backup_thread_.join();
  }
  // The checkpointer hands work to the writer: it stops first; the writer's WAL hook may
  // still call it, which is harmless once it has stopped.
  if (checkpointer_) checkpointer_->stop();
  writer_.reset();
  readers_.reset();
  // The last connection to close checkpoints the whole WAL and removes it.
  checkpointer_.reset();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       SqliteOptions options) {
  auto db = Connection::open(path, sqlite::Role::kWriter);
  if (!db) return db.error();
  // WAL lets readers run alongside the writer and makes a commit one append to the log.
  // This is also the first read of the file: where another process holds it, it waits the
  // busy timeout and fails.
  std::string mode;
  const int wal_rc = sqlite3_exec((*db)->handle(), "PRAGMA journal_mode=WAL",
                                  [](void* out, int, char** values, char**) {
                                    if (values[0] != nullptr)
                                      *static_cast<std::string*>(out) = values[0];
                                    return 0;
                                  },
                                  &mode, nullptr);
  if ((wal_rc & 0xff) == SQLITE_BUSY) return make_error(SqliteErrc::kInUse);
  if (wal_rc != SQLITE_OK) return sqlite::sqlite_error(wal_rc);
  const bool in_memory = path == ":memory:";
  if (mode != "wal" && !(mode == "memory" && in_memory)) return make_error(StoreErrc::kUnavailable);
  // synchronous=NORMAL in WAL mode syncs at checkpoints, not at each commit: see the class
  // comment for what that keeps. Under load the WAL grows to tens or hundreds of MB between
  // two complete checkpoints. It is not cut back when it starts over (journal_size_limit):
  // that truncation runs inside the next commit and held every queued send for 50-340 ms.
  // The checkpointer cuts it back once the store is quiet instead.
  if (auto r = (*db)->exec("PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=-1"); !r) {
    return r.error();
  }

  std::unique_ptr<SqliteStore> store(new SqliteStore(path));
  sqlite::WriterOptions writer_options;
  writer_options.max_queued = options.max_queued_writes;
  writer_options.before_batch = std::move(options.before_batch);
  if (!in_memory) {
    auto checkpointer = sqlite::Checkpointer::open(path, options.quiet_checkpoint_interval);
    if (!checkpointer) return checkpointer.error();
    store->checkpointer_ = std::move(*checkpointer);
    writer_options.on_wal_commit = [c = store->checkpointer_.get()](int pages) {
      c->wal_committed(pages);
    };
    store->readers_ = std::make_unique<sqlite::ReaderPool>(path);
  }
  store->writer_ = std::make_unique<sqlite::Writer>(std::move(*db), std::move(writer_options));
  if (store->checkpointer_) store->checkpointer_->attach(store->writer_.get());
  return store;
}

std::uint64_t SqliteStore::commits() const { return writer_->commits(); }

std::size_t SqliteStore::queued_writes() { return writer_->queued(); }

SqliteStore::CheckpointCounts SqliteStore::checkpoint_counts() const {
  if (!checkpointer_) return {};
  return {checkpointer_->tail_copies(), checkpointer_->incomplete_tail_copies(),
          checkpointer_->wal_shrinks()};
}

// ---- routing -------------------------------------------------------------------------

template <typename T, typename Body>
Task<Result<T>> SqliteStore::write(Body body) {
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Result<T>)>(
      [this](auto handler, Body body) {
        writer_->submit(
            sqlite::make_write_op<T>(std::move(body), resume_on_caller(std::move(handler))));
      },
      asio::use_awaitable, std::move(body));
}

template <typename T, typename Body>
Task<Result<T>> SqliteStore::read(Body body) {
  if (!readers_) co_return co_await write<T>(std::move(body));
  auto db = readers_->local();
  if (!db) co_return db.error();
  co_return body(**db);
}

template <typename T, typename Body>
Result<T> SqliteStore::write_and_wait(Body body) {
  std::promise<Result<T>> answer;
  auto answered = answer.get_future();
  writer_->submit(sqlite::make_write_op<T>(
      std::move(body),
      // The promise goes with the operation: set_value may still be running when get()
      // returns, so it must not live on this stack.
      [answer = std::move(answer)](Result<T> r) mutable { answer.set_value(std::move(r)); }));
  return answered.get();
}

Result<bool> SqliteStore::is_new_database() {
  return write_and_wait<bool>([](Connection& db) { return sqlite::is_new_database(db); });
}

Result<void> SqliteStore::init_schema_now() {
  return write_and_wait<void>([](Connection& db) { return sqlite::migrate(db); });
}

// ---- maintenance ---------------------------------------------------------------------

Task<Result<void>> SqliteStore::init_schema() {
  co_return co_await write<void>([](Connection& db) { return sqlite::migrate(db); });
}

Task<Result<std::optional<std::string>>> SqliteStore::schema_problem() {
  co_return co_await read<std::optional<std::string>>(
      [](Connection& db) { return sqlite::schema_problem(db); });
}

Task<Result<void>> SqliteStore::ping() {
  co_return co_await read<void>([](Connection& db) { return sqlite::ping(db); });
}

Task<Result<std::size_t>> SqliteStore::sweep(core::TimePoint now, core::Seconds counter_horizon) {
  std::size_t deleted = 0;
  for (;;) {
    auto slice = co_await write<sqlite::SweepSlice>([now, counter_horizon](Connection& db) {
      return sqlite::sweep_slice(db, now, counter_horizon, kSweepSlice);
    });
    if (!slice) co_return slice.error();
    deleted += slice->deleted;
    if (!slice->more) co_return deleted;
  }
}

Task<Result<void>> SqliteStore::backup(std::string destination) {
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Result<void>)>(
      [this](auto handler, std::string destination) {
        auto done = resume_on_caller(std::move(handler));
        std::lock_guard lock(backup_mu_);
        if (backup_running_) {
          done(Result<void>(make_error(SqliteErrc::kBackupBusy)));
          return;
        }
        if (backup_thread_.joinable()) backup_thread_.join();  // the last one, finished
        backup_running_ = true;
        backup_thread_ = std::thread(
            [this, destination = std::move(destination), done = std::move(done)]() mutable {
              core::name_this_thread("otpd-backup");
              auto result = sqlite::backup_database(path_, destination);
              {
                std::lock_guard lock(backup_mu_);
                backup_running_ = false;
              }
              done(std::move(result));
            });
      },
      asio::use_awaitable, std::move(destination));
}

// ---- verifications -------------------------------------------------------------------

Task<Result<StartOutcome>> SqliteStore::start(StartRequest request) {
  co_return co_await write<StartOutcome>(
      [&request](Connection& db) { return sqlite::start(db, request); });
}

Task<Result<std::optional<core::Verification>>> SqliteStore::get(core::TenantId tenant,
                                                                 core::VerificationId id) {
  co_return co_await read<std::optional<core::Verification>>(
      [&](Connection& db) { return sqlite::select_verification(db, tenant, id); });
}

Task<Result<core::CheckDecision>> SqliteStore::check(CheckRequest request) {
  if (request.id && request.typed) {
    // The code is hashed already: one operation of the writer reads, compares, decides and
    // commits, with no read before it, and nothing can race (the id names one verification).
    co_return co_await write<core::CheckDecision>(
        [&request](Connection& db) { return sqlite::check_typed(db, request); });
  }
  auto seen = co_await read<core::CheckSnapshot>(
      [&request](Connection& db) { return sqlite::check_snapshot(db, request); });
  for (;;) {
    if (!seen) co_return seen.error();
    if (!seen->verification) co_return core::CheckDecision{};
    // The code is hashed here, on the caller's thread, outside any lock of the store.
    const core::CodeMatch match = request.match(*seen->verification);
    // `seen` is not replaced until the write below has completed.
    const core::VerificationId& expected = seen->verification->id;
    auto committed =
        co_await write<sqlite::CheckCommit>([&request, &expected, match](Connection& db) {
          return sqlite::commit_check(db, request, expected, match);
        });
    if (!committed) co_return committed.error();
    if (!committed->raced) co_return committed->decision;
    seen = std::move(*committed->raced);
  }
}

Task<Result<core::TransitionDecision>> SqliteStore::transition(TransitionRequest request) {
  co_return co_await write<core::TransitionDecision>(
      [&request](Connection& db) { return sqlite::transition(db, request); });
}

Task<Result<TokenOutcome>> SqliteStore::take_token(core::TokenSpec spec, core::TimePoint now) {
  if (!spec.active()) co_return TokenOutcome{};
  co_return co_await write<TokenOutcome>(
      [&spec, now](Connection& db) { return sqlite::take_token(db, spec, now); });
}

// ---- delivery queue ------------------------------------------------------------------

Task<Result<std::vector<DeliveryJob>>> SqliteStore::take_due(TakeRequest request) {
  co_return co_await write<std::vector<DeliveryJob>>(
      [&request](Connection& db) { return sqlite::take_due(db, request); });
}

Task<Result<void>> SqliteStore::finish(std::vector<FinishedDelivery> done) {
  if (done.empty()) co_return Result<void>{};
  co_return co_await write<void>([&done](Connection& db) { return sqlite::finish(db, done); });
}

Task<Result<void>> SqliteStore::retry(core::TenantId tenant, core::VerificationId id,
                                      core::TimePoint next_attempt) {
  co_return co_await write<void>(
      [&](Connection& db) { return sqlite::retry(db, tenant, id, next_attempt); });
}

Task<Result<std::size_t>> SqliteStore::depth() {
  co_return co_await read<std::size_t>([](Connection& db) { return sqlite::delivery_depth(db); });
}

}  // namespace otpd::store
