// Writer: the queue, the batch loop and the group commit.
#include "store/sqlite/sqlite_writer.hpp"

#include <sqlite3.h>

#include <algorithm>

#include "core/thread_name.hpp"

namespace otpd::store::sqlite {

Writer::Writer(std::unique_ptr<Connection> db, WriterOptions options)
    : db_(std::move(db)), options_(std::move(options)) {
  sqlite3_commit_hook(db_->handle(), &Writer::count_commit, this);
  // Replaces SQLite's auto-checkpoint (itself a WAL hook): checkpoints are not run inside
  // a commit, where they would hold up every operation of the batch behind a disk flush.
  sqlite3_wal_hook(db_->handle(), &Writer::wal_hook, this);
  thread_ = std::thread([this] { loop(); });
}

Writer::~Writer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  for (auto& op : queue_) {
    op->fail(make_error(StoreErrc::kUnavailable));
    op->complete();
  }
}

int Writer::count_commit(void* self) {
  static_cast<Writer*>(self)->commits_.fetch_add(1, std::memory_order_relaxed);
  return 0;  // 0: let the commit go on
}

int Writer::wal_hook(void* self, sqlite3*, const char*, int pages) {
  auto* writer = static_cast<Writer*>(self);
  if (writer->options_.on_wal_commit) writer->options_.on_wal_commit(pages);
  return SQLITE_OK;
}

void Writer::submit(std::unique_ptr<WriteOp> op) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < options_.max_queued) {
      queue_.push_back(std::move(op));
      // Woken only by the first of a batch: the others join it while it waits or commits.
      if (queue_.size() == 1) wake_.notify_one();
      return;
    }
  }
  op->fail(make_error(StoreErrc::kUnavailable));
  op->complete();
}

std::size_t Writer::queued() {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void Writer::between_batches(std::function<void(Connection&)> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    between_.push_back(std::move(task));
  }
  wake_.notify_one();
}

void Writer::loop() {
  core::name_this_thread("otpd-writer");
  std::vector<std::unique_ptr<WriteOp>> batch;
  std::vector<std::function<void(Connection&)>> tasks;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || !between_.empty(); });
      if (stopping_) return;
      if (options_.before_batch) {
        lock.unlock();
        options_.before_batch();
        lock.lock();
        if (stopping_) return;
      }
      // Everything queued so far is one batch: while it commits, the next one gathers.
      batch.swap(queue_);
      tasks.swap(between_);
    }
    for (auto& task : tasks) task(*db_);
    tasks.clear();
    if (!batch.empty()) commit(batch);
    batch.clear();
  }
}

void Writer::commit(std::vector<std::unique_ptr<WriteOp>>& batch) {
  Connection& db = *db_;
  const auto fail_all = [&](std::size_t from, std::size_t to, const std::vector<bool>& ok,
                            boost::system::error_code ec) {
    for (std::size_t i = from; i < to; ++i) {
      if (ok[i]) batch[i]->fail(ec);
    }
  };
  std::vector<bool> ok(batch.size(), false);
  std::size_t first = 0;  // the first operation of the open transaction
  bool open = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!open) {
      if (auto begun = db.run(Sql::kBegin); !begun) {
        // Nothing can be written now (the file is gone, the disk is full): all fail alike.
        for (std::size_t j = i; j < batch.size(); ++j) batch[j]->fail(begun.error());
        break;
      }
      open = true;
      first = i;
    }
    if (auto saved = db.run(Sql::kSavepoint); !saved) {
      batch[i]->fail(saved.error());
      continue;
    }
    ok[i] = batch[i]->run(db);
    if (!db.in_transaction()) {
      // Some errors (SQLITE_FULL, IOERR, NOMEM) roll the whole transaction back on their
      // own: the operations before this one in it lost their work too.
      fail_all(first, i + 1, ok, make_error(StoreErrc::kUnavailable));
      std::fill(ok.begin() + static_cast<long>(first), ok.begin() + static_cast<long>(i) + 1,
                false);
      open = false;
      continue;
    }
    if (!ok[i]) (void)db.run(Sql::kRollbackTo);
    (void)db.run(Sql::kRelease);
  }
  if (open) {
    if (auto committed = db.run(Sql::kCommit); !committed) {
      fail_all(first, batch.size(), ok, committed.error());
      if (db.in_transaction()) (void)db.run(Sql::kRollback);
    }
  }
  // The commit has returned: every result is as durable as it will be.
  for (auto& op : batch) op->complete();
}

}  // namespace otpd::store::sqlite
