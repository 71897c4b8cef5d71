// An online copy of an SQLite store file with SQLite's backup API.
#pragma once

#include <string>

#include "store/store.hpp"

namespace otpd::store::sqlite {

// Copies the database at `source` into `destination`, as of one commit, while writers go
// on (WAL: the copy reads one snapshot, commits append meanwhile). The copy is made in a
// temporary file beside `destination`, synced, then renamed over it: a failed backup
// leaves no partial file. The copy is a self-contained rollback-journal database.
// In a process that has the store open this works (the connection shares the process's
// lock); from another process while a server holds the file it fails with
// SqliteErrc::kInUse. Blocks for the whole copy: never call it on an I/O thread.
Result<void> backup_database(const std::string& source, const std::string& destination);

}  // namespace otpd::store::sqlite
