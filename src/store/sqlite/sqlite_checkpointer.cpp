// Checkpointer: the background thread and its hand-off of the WAL's tail to the writer.
#include "store/sqlite/sqlite_checkpointer.hpp"

#include <sqlite3.h>

#include <chrono>

#include "store/sqlite/sqlite_writer.hpp"

namespace otpd::store::sqlite {
namespace {

// WAL pages after which a commit wakes the checkpointer: SQLite's own auto-checkpoint
// threshold, so the WAL stays about as small as it would have.
constexpr int kCheckpointPages = 1000;
// A WAL that never reaches the threshold is still copied back now and then, so that a
// quiet server's file does not keep its last writes only in the WAL.
constexpr std::chrono::seconds kIdleInterval{10};

}  // namespace

Result<std::unique_ptr<Checkpointer>> Checkpointer::open(const std::string& path) {
  auto db = Connection::open(path, Role::kWriter);
  if (!db) return db.error();
  // A connection opens the file lazily, and a checkpoint on one that has not yet seen the
  // WAL does nothing (it reports the database as not in WAL mode): make it look now.
  if (auto r = (*db)->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"); !r) {
    return r.error();
  }
  sqlite3_wal_autocheckpoint((*db)->handle(), 0);
  return std::unique_ptr<Checkpointer>(new Checkpointer(std::move(*db)));
}

Checkpointer::Checkpointer(std::unique_ptr<Connection> db) : db_(std::move(db)) {
  thread_ = std::thread([this] { loop(); });
}

Checkpointer::~Checkpointer() { stop(); }

void Checkpointer::attach(Writer* writer) {
  std::lock_guard lock(mu_);
  writer_ = writer;
}

void Checkpointer::wal_committed(int wal_pages) {
  if (wal_pages < kCheckpointPages) return;
  {
    std::lock_guard lock(mu_);
    wanted_ = true;
  }
  wake_.notify_one();
}

void Checkpointer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, kIdleInterval, [this] { return wanted_ || stopping_; });
    if (stopping_) break;
    wanted_ = false;
    lock.unlock();
    checkpoint();
    lock.lock();
  }
}

void Checkpointer::checkpoint() {
  // The bulk of the copying and the disk flushes happen here, while commits go on. A
  // failure (the file gone, the disk full) is left for the writer's own operations to
  // report.
  int wal_frames = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                           &wal_frames, &copied);
  if (rc != SQLITE_OK || copied >= wal_frames) return;
  Writer* writer = nullptr;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    writer = writer_;
  }
  if (writer == nullptr) return;
  // The few frames committed meanwhile: copied with no commit in progress, on the writer's
  // own connection, so that the next write transaction can start the WAL over.
  writer->between_batches([](Connection& db) {
    (void)sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                    nullptr);
  });
}

}  // namespace otpd::store::sqlite
