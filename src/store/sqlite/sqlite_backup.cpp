// backup_database: sqlite3_backup into a temporary file, then an atomic rename.
#include "store/sqlite/sqlite_backup.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "store/sqlite/sqlite_connection.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace otpd::store::sqlite {
namespace {

using Handle = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;

boost::system::error_code open_error(int rc) {
  return (rc & 0xff) == SQLITE_BUSY ? make_error(SqliteErrc::kInUse) : sqlite_error(rc);
}

// The rename is durable only once the directory entry is.
void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

Result<void> backup_database(const std::string& source, const std::string& destination) {
  auto from = Connection::open(source, Role::kReader);
  if (!from) return from.error();
  // Reading the header now tells a file held by another process (kInUse) from the rest.
  if (const int rc = sqlite3_exec((*from)->handle(), "SELECT count(*) FROM sqlite_master", nullptr,
                                  nullptr, nullptr);
      rc != SQLITE_OK) {
    return open_error(rc);
  }

  const std::filesystem::path target(destination);
  const std::filesystem::path temporary =
      target.parent_path() / ("." + target.filename().string() + ".partial");
  std::error_code ignored;
  std::filesystem::remove(temporary, ignored);

  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(temporary.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Handle to(raw, &sqlite3_close);
  if (rc != SQLITE_OK) return sqlite_error(rc);
  const auto fail = [&](int code) -> Result<void> {
    to.reset();
    std::filesystem::remove(temporary, ignored);
    return sqlite_error(code);
  };

  sqlite3_backup* backup = sqlite3_backup_init(to.get(), "main", (*from)->handle(), "main");
  if (backup == nullptr) return fail(sqlite3_errcode(to.get()));
  // All pages in one step: one read transaction on the source, so the copy is one commit's
  // state and is not restarted by the writes made meanwhile.
  const int step = sqlite3_backup_step(backup, -1);
  rc = sqlite3_backup_finish(backup);
  if (step != SQLITE_DONE) return fail(step);
  if (rc != SQLITE_OK) return fail(rc);
  // The pages say WAL like the source's; a backup is one file, easier to move around.
  if (const int r = sqlite3_exec(to.get(), "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
      r != SQLITE_OK) {
    return fail(r);
  }
  to.reset();
  // sqlite3_close does not sync what the backup wrote: do it before the rename makes the
  // file the backup.
  if (const int fd = ::open(temporary.c_str(), O_RDWR | O_CLOEXEC); fd >= 0) {
    const int synced = ::fsync(fd);
    ::close(fd);
    if (synced != 0) return fail(SQLITE_IOERR);
  } else {
    return fail(SQLITE_CANTOPEN);
  }
  std::filesystem::rename(temporary, target, ignored);
  if (ignored) return fail(SQLITE_CANTOPEN);
  sync_directory(target.parent_path());
  return {};
}

}  // namespace otpd::store::sqlite
