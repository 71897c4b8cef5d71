// `otpd store backup PATH`: the copy made here, or by the server that holds the file.
#include "app/backup.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "store/sqlite/sqlite_backup.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace otpd::app {

namespace fs = std::filesystem;

namespace {

// How long a server gets to copy the file (a large store takes a while).
constexpr auto kServerBackupTimeout = std::chrono::minutes(10);

std::string sqlite_path(const std::string& store_url) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (!store_url.starts_with(kSqlite)) return {};
  return store_url.substr(kSqlite.size());
}

// Asks the server whose pid is in the pid file for a copy, waits for it, moves it to
// `destination`. False (with a message) when there is no such server or it did not answer.
bool backup_through_server(const config::Config& config, const std::string& destination) {
  std::ifstream pid_file(pid_file_path(config));
  long pid = 0;
  if (!(pid_file >> pid) || pid <= 1) {
    std::cerr << "otpd: the store is in use by another process, and there is no "
              << pid_file_path(config) << " naming a running otpd serve to ask for the copy\n";
    return false;
  }
  const std::string copy = server_backup_path(config);
  std::error_code ec;
  fs::remove(copy, ec);
  if (::kill(static_cast<pid_t>(pid), SIGUSR1) != 0) {
    std::cerr << "otpd: cannot signal the running server (pid " << pid
              << "): run this as the user otpd runs as\n";
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + kServerBackupTimeout;
  while (!fs::exists(copy, ec)) {
    if (std::chrono::steady_clock::now() > deadline || ::kill(static_cast<pid_t>(pid), 0) != 0) {
      std::cerr << "otpd: the running server (pid " << pid << ") made no copy; its log says why\n";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  fs::rename(copy, destination, ec);
  if (ec) {
    // Another file system: copy, then drop the server's copy.
    fs::copy_file(copy, destination, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      std::cerr << "otpd: cannot write " << destination << ": " << ec.message() << "\n";
      return false;
    }
    fs::remove(copy, ec);
  }
  ::chmod(destination.c_str(), 0600);
  return true;
}

}  // namespace

std::string server_backup_path(const config::Config& config) {
  return (fs::path(config.data_dir) / "backup.db").string();
}

std::string pid_file_path(const config::Config& config) {
  return (fs::path(config.data_dir) / "otpd.pid").string();
}

int store_backup(const std::string& config_path, const std::string& destination) {
  try {
    const config::Config config = config::load_config(config_path, config::process_env());
    const std::string source = sqlite_path(config.store);
    if (source.empty()) {
      std::cerr << "otpd: store backup copies the embedded SQLite store; back a remote store up "
                   "with its own tools (Redis: RDB/AOF files; DynamoDB: point-in-time recovery)\n";
      return 2;
    }
    auto done = store::sqlite::backup_database(source, destination);
    if (!done && done.error() == store::make_error(store::SqliteErrc::kInUse)) {
      if (!backup_through_server(config, destination)) return 1;
    } else if (!done) {
      std::cerr << "otpd: backup of " << source << " failed: " << done.error().message() << "\n";
      return 1;
    }
    std::cout << "backup written: " << destination << "\n";
    return 0;
  } catch (const config::ConfigError& e) {
    std::cerr << "otpd: config error: " << e.what() << "\n";
    return 78;
  }
}

}  // namespace otpd::app
