// The SQLite backend's one writer: a thread that owns the write connection and commits the
// operations queued to it in groups, as LevelDB's DBImpl::Write does with its writers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "store/sqlite/sqlite_connection.hpp"
#include "store/store.hpp"

namespace otpd::store::sqlite {

// One queued operation. The writer runs it inside a savepoint of the batch's transaction
// and, once the batch is committed (or has failed), completes it: nothing of the caller
// runs on the writer thread except `run`'s body, which is storage work only.
class WriteOp {
 public:
  virtual ~WriteOp() = default;
  // Does the work; false when it failed, so its savepoint is rolled back.
  virtual bool run(Connection& db) = 0;
  // Replaces its result by `ec`: its work was lost with the batch's transaction.
  virtual void fail(boost::system::error_code ec) = 0;
  // Hands the result over; called once, after the commit returned.
  virtual void complete() = 0;
};

// An operation whose body returns Result<T> and whose result goes to `done`.
template <typename T, typename Body, typename Done>
class TypedWriteOp final : public WriteOp {
 public:
  TypedWriteOp(Body body, Done done) : body_(std::move(body)), done_(std::move(done)) {}
  bool run(Connection& db) override {
    result_.emplace(body_(db));
    return result_->has_value();
  }
  void fail(boost::system::error_code ec) override {
    result_.emplace(boost::system::in_place_error, ec);
  }
  void complete() override { done_(std::move(*result_)); }

 private:
  Body body_;
  Done done_;
  std::optional<Result<T>> result_;
};

template <typename T, typename Body, typename Done>
std::unique_ptr<WriteOp> make_write_op(Body body, Done done) {
  return std::make_unique<TypedWriteOp<T, Body, Done>>(std::move(body), std::move(done));
}

struct WriterOptions {
  // Operations waiting beyond the batch being committed; past this, submit refuses.
  std::size_t max_queued = 10000;
  // Called on the writer thread after each commit with the WAL's size in pages.
  std::function<void(int wal_pages)> on_wal_commit;
  // Tests only: called on the writer thread once it has work, before it takes the batch,
  // so a test can hold the writer while it queues operations.
  std::function<void()> before_batch;
};

// Thread-safe: submit from any thread. The connection is used by the writer thread only.
class Writer {
 public:
  // Takes the connection; the thread starts at once.
  Writer(std::unique_ptr<Connection> db, WriterOptions options);
  // Stops the thread after the batch in progress; operations still queued are completed
  // with kUnavailable.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Queues `op`; when the queue is full (or the writer is stopping) completes it at once
  // with kUnavailable, on the calling thread.
  void submit(std::unique_ptr<WriteOp> op);

  // Runs `task` on the writer thread between two batches, with no write transaction open:
  // the checkpointer's last frames, copied while no commit can append to the WAL.
  void between_batches(std::function<void(Connection&)> task);

  // Operations waiting for the next batch.
  std::size_t queued();
  // Transactions committed so far (through SQLite's commit hook), for tests.
  std::uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }

 private:
  void loop();
  void commit(std::vector<std::unique_ptr<WriteOp>>& batch);
  static int count_commit(void* self);
  static int wal_hook(void* self, sqlite3* db, const char* name, int pages);

  std::unique_ptr<Connection> db_;  // the writer thread's only, once it runs
  const WriterOptions options_;
  std::atomic<std::uint64_t> commits_{0};

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<std::unique_ptr<WriteOp>> queue_;            // GUARDED_BY(mu_)
  std::vector<std::function<void(Connection&)>> between_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                                  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace otpd::store::sqlite
