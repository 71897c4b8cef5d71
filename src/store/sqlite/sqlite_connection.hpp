// One SQLite connection with its prepared statements, the statement wrapper every query of
// the SQLite backend goes through, and the mapping of SQLite's result codes to store errors.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.hpp"
#include "store/sqlite/sqlite_sql.hpp"
#include "store/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace otpd::store::sqlite {

// kCorrupt for a damaged file or one that is not a database, else kUnavailable.
boost::system::error_code sqlite_error(int rc);
// An error_code converts to bool too, so Result<bool> needs to be told which one it holds.
Result<bool> bool_error(boost::system::error_code ec);

// A borrowed prepared statement, reset and unbound when it goes out of scope so the cached
// statement is ready for the next use and holds no read snapshot meanwhile.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Bind failures are programming errors (index, type); they surface at the next step.
  Statement& bind(int i, long long value);
  Statement& bind(int i, core::TimePoint t);
  Statement& bind(int i, std::optional<core::TimePoint> t);
  Statement& bind(int i, std::string_view text);
  Statement& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Statement& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
  // Named apart from bind: an int argument would be ambiguous between long long and double.
  Statement& bind_real(int i, double value);
  Statement& bind_blob(int i, const std::string& bytes);

  // true: a row is ready; false: done.
  Result<bool> step();
  // For statements that return no rows.
  Result<void> run();

  long long int64(int col) const;
  double real(int col) const;
  bool is_null(int col) const;
  core::TimePoint time(int col) const { return core::from_unix_ms(int64(col)); }
  std::string text(int col) const;
  std::string blob(int col) const;

 private:
  Statement& check(int rc);

  sqlite3_stmt* stmt_;
  int bind_rc_ = 0;
};

// How a connection is opened. Every connection of a serving process uses SQLite's
// "unix-excl" VFS (see sqlite_store.hpp for why); kReader connections refuse writes.
enum class Role { kWriter, kReader };

// Not thread-safe: a connection is used by one thread at a time (the writer's by the writer
// thread, a reader's by the I/O thread it belongs to, the checkpointer's by its thread).
class Connection {
 public:
  // `path` ":memory:" opens a private in-memory database (no WAL, one connection only).
  static Result<std::unique_ptr<Connection>> open(const std::string& path, Role role);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepared on first use rather than at open: statements naming tables cannot be prepared
  // before the schema exists.
  Result<Statement> statement(Sql id);
  Result<void> run(Sql id);
  // A script of statements without parameters (DDL, PRAGMAs).
  Result<void> exec(const char* sql);
  // Rows changed by the last statement.
  long long changes() const;
  bool in_transaction() const;
  sqlite3* handle() const { return db_; }
  // Back to the busy timeout every connection opens with, after a call that set another.
  void restore_busy_timeout();

 private:
  explicit Connection(sqlite3* db);

  sqlite3* db_;
  std::vector<sqlite3_stmt*> statements_;  // indexed by Sql
};

// The VFS every connection of this process opens a path with: for a file, unix-excl under
// the WAL-batching layer of sqlite_wal_vfs.hpp.
const char* vfs_for(const std::string& path);

}  // namespace otpd::store::sqlite
