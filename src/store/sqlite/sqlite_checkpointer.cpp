// Checkpointer: the background thread and its hand-off of the WAL's tail to the writer.
#include "store/sqlite/sqlite_checkpointer.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <system_error>
#include <utility>

#include "core/thread_name.hpp"
#include "store/sqlite/sqlite_writer.hpp"

namespace otpd::store::sqlite {
namespace {

// WAL pages after which a commit wakes the checkpointer: SQLite's own auto-checkpoint
// threshold, so the WAL stays about as small as it would have.
constexpr int kCheckpointPages = 1000;
// A WAL file larger than this is cut back once the store is quiet (see shrink_wal).
constexpr std::uintmax_t kWalKeepBytes = 16u << 20;

}  // namespace

Result<std::unique_ptr<Checkpointer>> Checkpointer::open(const std::string& path,
                                                         std::chrono::milliseconds quiet) {
  return std::unique_ptr<Checkpointer>(new Checkpointer(path, quiet));
}

Checkpointer::Checkpointer(std::string path, std::chrono::milliseconds quiet)
    : path_(std::move(path)), wal_path_(path_ + "-wal"), quiet_(quiet) {
  thread_ = std::thread([this] { loop(); });
}

bool Checkpointer::connected() {
  if (db_) return true;
  auto db = Connection::open(path_, Role::kWriter);
  if (!db) return false;  // tried again at the next wake-up; the writer reports the file's state
  // A connection opens the file lazily, and a checkpoint on one that has not yet seen the
  // WAL does nothing (it reports the database as not in WAL mode): make it look now.
  if (auto r = (*db)->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"); !r) {
    return false;
  }
  sqlite3_wal_autocheckpoint((*db)->handle(), 0);
  db_ = std::move(*db);
  return true;
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
  core::name_this_thread("otpd-checkpoint");
  // The connection is opened here rather than by open(): reading the schema then overlaps
  // the rest of the server's start instead of adding to it.
  (void)connected();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const bool wanted = wake_.wait_for(lock, quiet_, [this] { return wanted_ || stopping_; });
    if (stopping_) break;
    wanted_ = false;
    lock.unlock();
    if (connected()) {
      checkpoint();
      if (!wanted) shrink_wal();
    }
    lock.lock();
  }
}

void Checkpointer::shrink_wal() {
  std::error_code ec;
  const auto size = std::filesystem::file_size(wal_path_, ec);
  if (ec || size <= kWalKeepBytes) return;
  std::lock_guard lock(mu_);
  if (stopping_ || writer_ == nullptr) return;
  // On the writer, between two batches: no commit can append meanwhile. TRUNCATE copies
  // what is left, starts the WAL over and cuts the file to nothing; with no busy timeout
  // it gives up at once (SQLITE_BUSY) while a reader still uses the WAL, and the next
  // quiet moment tries again. The truncation costs the writer a few tens of ms, which is
  // why it waits for a quiet moment rather than running inside a commit.
  writer_->between_batches([this](Connection& db) {
    sqlite3_busy_timeout(db.handle(), 0);
    if (sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                  nullptr) == SQLITE_OK) {
      wal_shrinks_.fetch_add(1, std::memory_order_relaxed);
    }
    db.restore_busy_timeout();
  });
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
  std::unique_lock lock(mu_);
  if (stopping_ || writer_ == nullptr) return;
  // The few frames committed meanwhile: copied with no commit in progress, on the writer's
  // own connection, so that the next write transaction can start the WAL over.
  //
  // This thread then starts no checkpoint until the writer's next commit has had its
  // chance to start the WAL over. A checkpoint running meanwhile would make the writer's
  // give up at once (SQLITE_BUSY on the checkpoint lock), or hold the read lock that the
  // next write transaction needs to start over: under a steady stream of sends the WAL
  // then never started over, grew by about 100 MB/s, and was cut back inside a commit
  // (journal_size_limit) that held every queued send for up to a third of a second. So
  // the commits that triggered a checkpoint while this one ran are forgotten; the first
  // commit after the tail asks again if the WAL did not start over.
  tail_copied_ = false;
  writer_->between_batches([this](Connection& db) {
    int frames = 0;
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             &frames, &copied);
    tail_copies_.fetch_add(1, std::memory_order_relaxed);
    if (rc != SQLITE_OK || copied < frames) {
      incomplete_tails_.fetch_add(1, std::memory_order_relaxed);
    }
    {
      std::lock_guard done(mu_);
      tail_copied_ = true;
      wanted_ = false;
    }
    wake_.notify_all();
  });
  wake_.wait(lock, [this] { return tail_copied_ || stopping_; });
}

}  // namespace otpd::store::sqlite
