// ReaderPool: a read connection per thread, found through a thread-local list.
#include "store/sqlite/sqlite_readers.hpp"

#include <algorithm>
#include <utility>

namespace otpd::store::sqlite {
namespace {

struct CachedReader {
  std::weak_ptr<const ReaderPool*> alive;  // expired once the pool is gone
  const ReaderPool* pool;
  Connection* connection;
};

// A thread reads through few pools at a time (one store per process; tests open many in
// turn), so a short list that drops the entries of pools gone is enough.
thread_local std::vector<CachedReader> t_readers;

}  // namespace

ReaderPool::ReaderPool(std::string path)
    : path_(std::move(path)), alive_(std::make_shared<const ReaderPool*>(this)) {}

ReaderPool::~ReaderPool() = default;

Result<Connection*> ReaderPool::local() {
  // Entries of pools gone go first: a new pool may live where one of them did.
  std::erase_if(t_readers, [](const CachedReader& c) { return c.alive.expired(); });
  for (const auto& cached : t_readers) {
    if (cached.pool == this) return cached.connection;
  }
  auto opened = Connection::open(path_, Role::kReader);
  if (!opened) return opened.error();
  Connection* connection = opened->get();
  {
    std::lock_guard lock(mu_);
    connections_.push_back(std::move(*opened));
  }
  t_readers.push_back(CachedReader{alive_, this, connection});
  return connection;
}

}  // namespace otpd::store::sqlite
