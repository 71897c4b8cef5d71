// The server secret kept in data_dir when none is configured: created once with mode 0600.
#pragma once

#include <string>

namespace otpd::app {

// Reads data_dir/server.secret, creating it (32 random bytes, hex) on first use.
// Throws std::runtime_error with a clear message on failure.
std::string load_or_create_secret(const std::string& data_dir);

// mkdir -p with mode 0700 for the new directories.
void ensure_directory(const std::string& path);

}  // namespace otpd::app
