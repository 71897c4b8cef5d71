// Files otpd keeps at rest: the data directory (0700), the server secret generated into it
// (0600, refused when others can read it), and files other libraries open there (0600).
#pragma once

#include <string>

namespace otpd::app {

// Reads data_dir/server.secret, creating it (32 random bytes, hex, mode 0600) on first use.
// Throws std::runtime_error with a clear message on failure, and when the file is readable
// or writable by group or others: its message says to `chmod 600` it.
std::string load_or_create_secret(const std::string& data_dir);

// mkdir -p for the data directory: the directories it creates get mode 0700. An existing
// directory that group or others may enter is kept as it is (it is the operator's) and
// logged as a warning. Returns false in that case, true when the directory is private.
// Throws std::runtime_error naming data_dir when it cannot be created.
bool prepare_data_dir(const std::string& path);

// Creates `path` empty with mode 0600 unless it exists, before a library opens it: SQLite
// creates a missing database with mode 0644 (less the umask) and gives its -wal and -shm
// files the database's mode, so a database created here stays private with its journal.
// An existing file open to group or others is logged as a warning and false is returned.
// Throws std::runtime_error when the file cannot be created.
bool create_private_file(const std::string& path);

// mkdir -p with mode 0700 for the new directories, without judging existing ones (a store
// path may sit in a shared directory).
void ensure_directory(const std::string& path);

}  // namespace otpd::app
