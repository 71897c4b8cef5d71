// The SQLite backend's checkpointer: copies the WAL back into the database file on a
// thread of its own, never inside a request's commit.
#pragma once

#include <condition_variable>
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
// let it grow to hundreds of MB.
class Checkpointer {
 public:
  static Result<std::unique_ptr<Checkpointer>> open(const std::string& path);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // The writer that copies the last frames. REQUIRES: it outlives stop().
  void attach(Writer* writer);
  // From the writer's WAL hook, on the writer thread: only flags the work.
  void wal_committed(int wal_pages);
  // Ends the thread; wal_committed may still be called afterwards and does nothing.
  void stop();

 private:
  explicit Checkpointer(std::unique_ptr<Connection> db);
  void loop();
  void checkpoint();

  std::unique_ptr<Connection> db_;  // the thread's only
  std::mutex mu_;
  std::condition_variable wake_;
  Writer* writer_ = nullptr;  // GUARDED_BY(mu_)
  bool wanted_ = false;       // GUARDED_BY(mu_)
  bool stopping_ = false;     // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace otpd::store::sqlite
