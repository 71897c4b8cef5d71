// Connection and Statement: opening a connection as the backend wants it, and the thin
// wrapper over sqlite3_stmt.
#include "store/sqlite/sqlite_connection.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <string>

#include "store/sqlite/sqlite_memory.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_wal_vfs.hpp"

namespace otpd::store::sqlite {
namespace {

constexpr int kBusyTimeoutMs = 5000;

}  // namespace

boost::system::error_code sqlite_error(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return make_error(StoreErrc::kCorrupt);
    default:
      return make_error(StoreErrc::kUnavailable);
  }
}

Result<bool> bool_error(boost::system::error_code ec) {
  return Result<bool>(boost::system::in_place_error, ec);
}

// ---- Statement -----------------------------------------------------------------------

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::check(int rc) {
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::bind(int i, long long value) {
  return check(sqlite3_bind_int64(stmt_, i, value));
}
Statement& Statement::bind(int i, core::TimePoint t) { return bind(i, core::to_unix_ms(t)); }
Statement& Statement::bind(int i, std::optional<core::TimePoint> t) {
  return t ? bind(i, *t) : check(sqlite3_bind_null(stmt_, i));
}
Statement& Statement::bind(int i, std::string_view text) {
  return check(
      sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}
Statement& Statement::bind_real(int i, double value) {
  return check(sqlite3_bind_double(stmt_, i, value));
}
Statement& Statement::bind_blob(int i, const std::string& bytes) {
  // A null pointer would bind SQL NULL; an empty payload is still a (zero-length) blob.
  static const char kEmpty = 0;
  return check(sqlite3_bind_blob64(stmt_, i, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                                   SQLITE_TRANSIENT));
}

Result<bool> Statement::step() {
  const int rc = bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return bool_error(sqlite_error(rc));
}

Result<void> Statement::run() {
  auto r = step();
  if (!r) return r.error();
  return {};
}

long long Statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }
bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
}
std::string Statement::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
}

// ---- Connection ----------------------------------------------------------------------

const char* vfs_for(const std::string& path) {
  if (path == ":memory:") return nullptr;
  const char* batching = wal_batching_vfs();
  return batching != nullptr ? batching : "unix-excl";
}

Connection::Connection(sqlite3* db)
    : db_(db), statements_(static_cast<std::size_t>(Sql::kCount), nullptr) {}

Connection::~Connection() {
  for (sqlite3_stmt* stmt : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, Role role) {
  use_cached_allocator();
  sqlite3* db = nullptr;
  // Read-write even for readers: the unix-excl VFS keeps a read-only connection on the
  // system's file locks, which is what it is chosen to avoid. query_only refuses writes.
  // NOMUTEX: a connection is only ever used by one thread at a time.
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                                     (role == Role::kWriter ? SQLITE_OPEN_CREATE : 0),
                                 vfs_for(path));
  if (rc != SQLITE_OK) {
    sqlite3_close_v2(db);  // open allocates a handle even when it fails
    return sqlite_error(rc);
  }
  std::unique_ptr<Connection> connection(new Connection(db));
  sqlite3_extended_result_codes(db, 1);
  // Another process holding the file (only before this one has it: see unix-excl) is
  // waited for instead of failing at once; after that the caller answers kUnavailable.
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // The writer's reads of pages SQLite's own cache does not hold come from the OS page
  // cache through a shared mapping (a memcpy instead of a pread system call each), and a
  // large cache (64 MiB) keeps the indexes a lookup walks in memory as the tables grow.
  // A reader cannot keep either: whenever the WAL has changed since its last read (after
  // any commit, so at every read under writes), SQLite empties its page cache and unmaps
  // the whole file, and the next read maps it again and faults each page back in; measured
  // with mmap, that munmap and those faults cost a verify more than twice its CPU time. So
  // a reader reads with pread into a small cache, which under reads alone stays valid.
  const char* setup = role == Role::kWriter
                          ? "PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536"
                          : "PRAGMA mmap_size=0; PRAGMA cache_size=-2048; PRAGMA query_only=1";
  // cache_size reads the schema: the first access to the file, where a file held by another
  // process shows as SQLITE_BUSY once the busy timeout has passed.
  if (const int r = sqlite3_exec(db, setup, nullptr, nullptr, nullptr); r != SQLITE_OK) {
    return (r & 0xff) == SQLITE_BUSY ? make_error(SqliteErrc::kInUse) : sqlite_error(r);
  }
  return connection;
}

Result<Statement> Connection::statement(Sql id) {
  sqlite3_stmt*& slot = statements_[static_cast<std::size_t>(id)];
  if (slot == nullptr) {
    const int rc =
        sqlite3_prepare_v3(db_, sql_text(id), -1, SQLITE_PREPARE_PERSISTENT, &slot, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(slot);
      slot = nullptr;
      return sqlite_error(rc);
    }
  }
  return Statement(slot);
}

Result<void> Connection::run(Sql id) {
  auto st = statement(id);
  if (!st) return st.error();
  return st->run();
}

Result<void> Connection::exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(rc);
  return {};
}

void Connection::restore_busy_timeout() { sqlite3_busy_timeout(db_, kBusyTimeoutMs); }

long long Connection::changes() const { return sqlite3_changes64(db_); }

bool Connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

}  // namespace otpd::store::sqlite
