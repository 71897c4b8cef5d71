// Online backups of the embedded store: `otpd store backup PATH` copies the SQLite file
// itself when no server holds it, and otherwise asks the running server (SIGUSR1, found by
// its pid file in data_dir) to make the copy with SQLite's backup API.
#pragma once

#include <string>

#include "config/config.hpp"

namespace otpd::app {

// Where a running server writes the copy it is asked for, and its pid file.
std::string server_backup_path(const config::Config& config);
std::string pid_file_path(const config::Config& config);

// The command; returns the process exit status.
int store_backup(const std::string& config_path, const std::string& destination);

}  // namespace otpd::app
