// Store URL -> backend. Only the embedded SQLite store exists so far.
#include "app/store_factory.hpp"

#include <filesystem>
#include <stdexcept>

#include "app/secret_file.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace otpd::app {

OpenedStore open_store(const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.starts_with(kSqlite)) {
    const std::string path = url.substr(kSqlite.size());
    if (path.empty()) throw std::runtime_error("store: sqlite:// needs a file path");
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) ensure_directory(parent.string());
    auto opened = store::SqliteStore::open(path);
    if (!opened) {
      throw std::runtime_error("store: cannot open " + path + ": " + opened.error().message());
    }
    OpenedStore result;
    auto is_new = (*opened)->is_new_database();
    if (!is_new)
      throw std::runtime_error("store: cannot read " + path + ": " + is_new.error().message());
    result.is_new = *is_new;
    result.store = std::move(*opened);
    return result;
  }
  const auto scheme = url.substr(0, url.find("://"));
  throw std::runtime_error("store: the " + scheme +
                           ":// backend is not available in this build yet; use sqlite://PATH");
}

}  // namespace otpd::app
