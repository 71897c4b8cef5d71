// The SQLite backend's checkpointer: copies the WAL back into the database file on a
// thread of its own, never inside a request's commit.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite/sqlite_connection.hpp"
#include "store/store.hpp"

namespace otpd::store::sqlite {

class Writer;

// SQLite's auto-checkpoint would run in whichever commit crosses 1000 WAL pages, holding
// up the whole batch behind a disk flush. Instead the writer's WAL hook wakes this thread,
// whose PASSIVE checkpoint copies the bulk while commits go on. The frames committed
// meanwhile are then copied by the writer thread between two batches: SQLite starts the
// WAL over only once all of it is in the file, and a checkpoint always racing the writer
// let it grow to hundreds of MB. This thread starts no checkpoint until the writer has
// copied that tail (its PASSIVE checkpoint gives up while this one runs).
class Checkpointer {
 public:
  // `quiet`: how long without a wake-up before the WAL is copied back anyway (so a quiet
  // server's file does not keep its last writes only in the WAL) and, when a burst left
  // the WAL file larger than 16 MiB, cut back. The thread opens its own connection, so
  // this does not wait for SQLite to read the schema.
  static Result<std::unique_ptr<Checkpointer>> open(const std::string& path,
                                                    std::chrono::milliseconds quiet);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // The writer that copies the last frames. REQUIRES: it outlives stop().
  void attach(Writer* writer);
  // From the writer's WAL hook, on the writer thread: only flags the work.
  void wal_committed(int wal_pages);
  // Ends the thread; wal_committed may still be called afterwards and does nothing.
  void stop();

  // The writer's copies of the last frames so far, and those that left frames behind
  // (another checkpoint holding the lock, or a reader on an older snapshot). For tests.
  std::uint64_t tail_copies() const { return tail_copies_.load(std::memory_order_relaxed); }
  std::uint64_t incomplete_tail_copies() const {
    return incomplete_tails_.load(std::memory_order_relaxed);
  }
  // How many times a quiet moment cut the WAL file back. For tests.
  std::uint64_t wal_shrinks() const { return wal_shrinks_.load(std::memory_order_relaxed); }

 private:
  Checkpointer(std::string path, std::chrono::milliseconds quiet);
  // Opens the thread's connection if it has none yet; false while it cannot.
  bool connected();
  void loop();
  void checkpoint();
  void shrink_wal();

  const std::string path_;
  std::unique_ptr<Connection> db_;  // the thread's only; opened by the thread
  const std::string wal_path_;
  const std::chrono::milliseconds quiet_;
  std::mutex mu_;
  std::condition_variable wake_;
  Writer* writer_ = nullptr;  // GUARDED_BY(mu_)
  bool wanted_ = false;       // GUARDED_BY(mu_)
  bool stopping_ = false;     // GUARDED_BY(mu_)
  bool tail_copied_ = false;  // GUARDED_BY(mu_); the writer copied the last frames
  std::atomic<std::uint64_t> tail_copies_{0};
  std::atomic<std::uint64_t> incomplete_tails_{0};
  std::atomic<std::uint64_t> wal_shrinks_{0};
  std::thread thread_;
};

}  // namespace otpd::store::sqlite
