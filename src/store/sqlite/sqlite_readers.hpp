// The SQLite backend's read connections: one per thread that reads, so that reads on
// different I/O threads share no connection and no lock of otpd's.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_connection.hpp"
#include "store/store.hpp"

namespace otpd::store::sqlite {

// Thread-safe. Each thread gets a connection of its own on its first read and keeps it
// until the pool goes; only that first read takes the pool's mutex. A read sees every
// commit that returned before it started (WAL: each read transaction starts at the newest
// commit), so a caller completed by the writer reads its own write.
class ReaderPool {
 public:
  explicit ReaderPool(std::string path);
  // REQUIRES: no thread is reading any more.
  ~ReaderPool();
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // This thread's connection.
  Result<Connection*> local();

 private:
  const std::string path_;
  // Lets a thread tell its cached connection of a pool gone from one of a new pool that
  // happens to live at the same address.
  const std::shared_ptr<const ReaderPool*> alive_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> connections_;  // GUARDED_BY(mu_)
};

}  // namespace otpd::store::sqlite
