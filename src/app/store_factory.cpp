// Store URL -> backend.
#include "app/store_factory.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "app/secret_file.hpp"
#include "config/config.hpp"
#include "store/dynamodb/dynamodb_store.hpp"
#include "store/dynamodb/dynamodb_url.hpp"
#include "store/redis/redis_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace otpd::app {

namespace {

// The table exists or not; either way it is never `serve`'s to create: `otpd store init`
// does (or CloudFormation, for Lambda, whose role cannot create tables).
OpenedStore open_dynamodb(const std::string& url) {
  std::string why;
  auto parsed = store::parse_dynamodb_url(url, why);
  if (!parsed) throw config::ConfigError("store: " + why);
  store::DynamoDbStoreOptions options;
  options.table = parsed->table;
  options.dynamo.region = parsed->region;
  if (options.dynamo.region.empty()) {
    for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
      const char* region = std::getenv(name);
      if (region != nullptr && *region != '\0') {
        options.dynamo.region = region;
        break;
      }
    }
  }
  if (options.dynamo.region.empty()) {
    throw config::ConfigError(
        "store: the DynamoDB URL names no region (dynamodb://TABLE?region=R), and neither "
        "AWS_REGION nor AWS_DEFAULT_REGION is set");
  }
  options.dynamo.endpoint = parsed->endpoint;
  options.dynamo.timeout = parsed->timeout;
  OpenedStore result;
  try {
    result.store = std::make_unique<store::DynamoDbStore>(std::move(options));
  } catch (const std::invalid_argument& e) {
    throw config::ConfigError(std::string("store: ") + e.what());
  }
  return result;
}

}  // namespace

OpenedStore open_store(const std::string& url) {
  if (url.starts_with("dynamodb://")) return open_dynamodb(url);
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.starts_with(kSqlite)) {
    const std::string path = url.substr(kSqlite.size());
    if (path.empty()) throw std::runtime_error("store: sqlite:// needs a file path");
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) ensure_directory(parent.string());
    // The file holds hashes and sealed codes: only otpd's user may read it (its -wal and
    // -shm files take the same mode from it).
    create_private_file(path);
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
  if (url.starts_with("redis://") || url.starts_with("rediss://") ||
      url.starts_with("redis-cluster://") || url.starts_with("rediss-cluster://")) {
    // Connects lazily: an unreachable server shows at the schema check that follows.
    auto opened = store::RedisStore::open(url);
    if (!opened) throw std::runtime_error("store: " + opened.error().message);
    OpenedStore result;
    result.store = std::move(*opened);
    return result;
  }
  const auto scheme = url.substr(0, url.find("://"));
  throw std::runtime_error("store: the " + scheme +
                           ":// backend is not available in this build; use sqlite://PATH, "
                           "redis://HOST:PORT/DB or redis-cluster://HOST1:PORT1,HOST2:PORT2");
}

}  // namespace otpd::app
