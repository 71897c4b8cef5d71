// The WAL-batching VFS: a commit is written in one pwrite (or a few, for a large one), and
// the file SQLite sees is the one it would have written itself: other connections read
// every commit at once, rollbacks, checkpoints and restarts of the log work, and a process
// killed right after a commit keeps it.
#include "store/sqlite/sqlite_wal_vfs.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace otpd::store::sqlite {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "otpd-walvfs-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

// One connection through the VFS under test (or another, by name).
class Db {
 public:
  explicit Db(const std::string& path, const char* vfs = wal_batching_vfs()) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) !=
        SQLITE_OK) {
      ADD_FAILURE() << "open: " << sqlite3_errmsg(db_);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  int exec(const std::string& sql) {
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) last_error_ = sqlite3_errmsg(db_);
    return rc;
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    } else {
      out = std::string("error: ") + sqlite3_errmsg(db_);
    }
    sqlite3_finalize(st);
    return out;
  }
  const std::string& last_error() const { return last_error_; }

 private:
  sqlite3* db_ = nullptr;
  std::string last_error_;
};

// A writer as the store sets it up: WAL, synchronous=NORMAL, no automatic checkpoint.
void make_writer(Db& db) {
  ASSERT_EQ(db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    "PRAGMA wal_autocheckpoint=0; CREATE TABLE IF NOT EXISTS t(k INTEGER "
                    "PRIMARY KEY, v BLOB)"),
            SQLITE_OK)
      << db.last_error();
}

// `rows` rows of about 3000 bytes each: one page apiece.
std::string insert_rows(int first, int rows) {
  return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(first) +
         " UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(first + rows - 1) +
         ") INSERT INTO t SELECT i, randomblob(3000) FROM n";
}

TEST(WalBatchingVfs, IsRegistered) {
  ASSERT_NE(wal_batching_vfs(), nullptr);
  EXPECT_NE(sqlite3_vfs_find(wal_batching_vfs()), nullptr);
}

TEST(WalBatchingVfs, ACommitIsOneWriteAndOtherConnectionsReadItAtOnce) {
  TempDir dir;
  const std::string file = dir.file("one.db");
  Db writer(file);
  make_writer(writer);
  Db reader(file);
  ASSERT_EQ(reader.text("SELECT count(*) FROM t"), "0");

  const auto before = wal_write_counts();
  ASSERT_EQ(writer.exec(insert_rows(1, 20)), SQLITE_OK) << writer.last_error();
  const auto after = wal_write_counts();
  // 20 data pages and a few B-tree pages: two appends (header, page) per frame, all in
  // one write (20 frames of 4 KiB fit in 128 KiB).
  EXPECT_GE(after.appends - before.appends, 40u);
  EXPECT_EQ(after.flushes - before.flushes, 1u);
  EXPECT_EQ(reader.text("SELECT count(*) FROM t"), "20");
  EXPECT_GE(fs::file_size(file + "-wal"), 32u + 20u * (24u + 4096u));
}

TEST(WalBatchingVfs, ALargeCommitIsWrittenInPiecesAndReadsBackWhole) {
  TempDir dir;
  const std::string file = dir.file("large.db");
  Db writer(file);
  make_writer(writer);
  const auto before = wal_write_counts();
  ASSERT_EQ(writer.exec(insert_rows(1, 600)), SQLITE_OK) << writer.last_error();
  const auto flushes = wal_write_counts().flushes - before.flushes;
  // 600 frames of 4120 bytes in pieces of at most 128 KiB (31 frames).
  EXPECT_GE(flushes, 600u / 31u);
  EXPECT_LE(flushes, 600u / 31u + 4u);

  Db reader(file);
  EXPECT_EQ(reader.text("SELECT count(*) || ' ' || sum(length(v)) FROM t"), "600 1800000");
  EXPECT_EQ(reader.text("PRAGMA integrity_check"), "ok");
}

TEST(WalBatchingVfs, ARolledBackTransactionLeavesNothing) {
  TempDir dir;
  const std::string file = dir.file("rollback.db");
  Db writer(file);
  make_writer(writer);
  ASSERT_EQ(writer.exec(insert_rows(1, 5)), SQLITE_OK);
  // A small cache makes SQLite spill pages to the WAL before the commit; they must not
  // become part of the database when the transaction is rolled back.
  ASSERT_EQ(writer.exec("PRAGMA cache_size=10; BEGIN;" + insert_rows(100, 200) + "; ROLLBACK"),
            SQLITE_OK)
      << writer.last_error();
  Db reader(file);
  EXPECT_EQ(reader.text("SELECT count(*) FROM t"), "5");
  ASSERT_EQ(writer.exec(insert_rows(6, 5)), SQLITE_OK) << writer.last_error();
  EXPECT_EQ(reader.text("SELECT count(*) FROM t"), "10");
  EXPECT_EQ(reader.text("PRAGMA integrity_check"), "ok");
}

TEST(WalBatchingVfs, CheckpointsAndRestartsOfTheLogKeepEveryCommit) {
  TempDir dir;
  const std::string file = dir.file("restart.db");
  {
    Db writer(file);
    make_writer(writer);
    Db reader(file);
    Db checkpointer(file);
    for (int round = 0; round < 30; ++round) {
      ASSERT_EQ(writer.exec(insert_rows(round * 10 + 1, 10)), SQLITE_OK) << writer.last_error();
      ASSERT_EQ(reader.text("SELECT count(*) FROM t"), std::to_string(round * 10 + 10));
      // Alternately copy the log back and start it over, from another connection as the
      // store's checkpointer does: the next commit then writes from the log's beginning.
      const char* mode = round % 3 == 0 ? "TRUNCATE" : round % 3 == 1 ? "RESTART" : "PASSIVE";
      ASSERT_NE(
          checkpointer.text(std::string("PRAGMA wal_checkpoint(") + mode + ")").rfind("error", 0),
          0u);
    }
    EXPECT_EQ(reader.text("PRAGMA integrity_check"), "ok");
  }
  // The file is an ordinary SQLite database: the default VFS reads it.
  Db plain(file, nullptr);
  EXPECT_EQ(plain.text("SELECT count(*) FROM t"), "300");
  EXPECT_EQ(plain.text("PRAGMA integrity_check"), "ok");
}

TEST(WalBatchingVfs, ACommitSurvivesTheProcessBeingKilledRightAfterIt) {
  TempDir dir;
  const std::string file = dir.file("killed.db");
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // Nothing is closed or flushed by hand: the commit returned, then the process dies.
    Db writer(file);
    make_writer(writer);
    const int rc = writer.exec(insert_rows(1, 50));
    if (rc != SQLITE_OK) _exit(1);
    kill(getpid(), SIGKILL);
    _exit(2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  Db reader(file, nullptr);
  EXPECT_EQ(reader.text("SELECT count(*) FROM t"), "50");
  EXPECT_EQ(reader.text("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace otpd::store::sqlite
