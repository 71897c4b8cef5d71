// Files at rest: the data directory is created 0700, the server secret 0600 and refused when
// others can read it, and a database created through create_private_file keeps SQLite's
// journal files private too.
#include "app/secret_file.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace otpd::app {
namespace {

namespace fs = std::filesystem;

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class FilesAtRest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/otpd-files-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    // A permissive umask, as a careless service manager might leave it: the modes below must
    // not depend on the umask being 077.
    old_umask_ = ::umask(022);
  }
  void TearDown() override {
    ::umask(old_umask_);
    fs::remove_all(root_);
  }
  fs::path root_;
  mode_t old_umask_ = 0;
};

TEST_F(FilesAtRest, DataDirAndItsMissingParentsAreCreated0700) {
  const auto dir = root_ / "a" / "b" / "data";
  EXPECT_TRUE(prepare_data_dir(dir.string()));
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(root_ / "a"), 0700u);
  EXPECT_EQ(mode_of(root_ / "a" / "b"), 0700u);
  // Idempotent.
  EXPECT_TRUE(prepare_data_dir(dir.string()));
}

TEST_F(FilesAtRest, AnExistingOpenDataDirIsKeptButReported) {
  const auto dir = root_ / "shared";
  fs::create_directory(dir);
  ::chmod(dir.c_str(), 0755);
  EXPECT_FALSE(prepare_data_dir(dir.string()));
  EXPECT_EQ(mode_of(dir), 0755u);  // the operator's to change
  ::chmod(dir.c_str(), 0700);
  EXPECT_TRUE(prepare_data_dir(dir.string()));
}

TEST_F(FilesAtRest, DataDirThatIsAFileIsAnError) {
  std::ofstream(root_ / "file") << "x";
  EXPECT_THROW(prepare_data_dir((root_ / "file").string()), std::runtime_error);
}

TEST_F(FilesAtRest, SecretIsCreated0600AndReadBack) {
  const auto dir = (root_ / "data").string();
  const auto secret = load_or_create_secret(dir);
  EXPECT_EQ(secret.size(), 64u);
  EXPECT_EQ(mode_of(root_ / "data" / "server.secret"), 0600u);
  EXPECT_EQ(mode_of(root_ / "data"), 0700u);
  EXPECT_EQ(load_or_create_secret(dir), secret);
}

TEST_F(FilesAtRest, SecretReadableByOthersStopsTheStartWithTheFix) {
  const auto dir = (root_ / "data").string();
  load_or_create_secret(dir);
  const auto file = root_ / "data" / "server.secret";
  for (mode_t mode : {0644, 0640, 0604, 0620, 0602}) {
    ::chmod(file.c_str(), mode);
    try {
      load_or_create_secret(dir);
      ADD_FAILURE() << "mode " << std::oct << mode << " was accepted";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("chmod 600 " + file.string()), std::string::npos) << what;
      EXPECT_NE(what.find("open to group or others"), std::string::npos) << what;
    }
  }
  ::chmod(file.c_str(), 0400);
  EXPECT_NO_THROW(load_or_create_secret(dir));
}

TEST_F(FilesAtRest, PrivateFileIsCreated0600AndAnOpenOneReported) {
  const auto file = root_ / "otpd.db";
  EXPECT_TRUE(create_private_file(file.string()));
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_TRUE(create_private_file(file.string()));  // exists: left alone
  ::chmod(file.c_str(), 0644);
  EXPECT_FALSE(create_private_file(file.string()));
  EXPECT_EQ(mode_of(file), 0644u);
  EXPECT_THROW(create_private_file((root_ / "missing" / "x.db").string()), std::runtime_error);
}

// The reason create_private_file exists: SQLite gives the -wal and -shm files the mode of the
// database file, so pre-creating it 0600 keeps the whole database private.
TEST_F(FilesAtRest, SqliteJournalFilesFollowTheDatabaseMode) {
  const auto file = root_ / "otpd.db";
  ASSERT_TRUE(create_private_file(file.string()));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_EQ(mode_of(root_ / "otpd.db-wal"), 0600u);
  EXPECT_EQ(mode_of(root_ / "otpd.db-shm"), 0600u);
  sqlite3_close(db);

  // And without it, under the same umask, SQLite's own default is readable by others.
  const auto plain = root_ / "plain.db";
  ASSERT_EQ(sqlite3_open(plain.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x);", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(mode_of(plain), 0644u);
}

}  // namespace
}  // namespace otpd::app
