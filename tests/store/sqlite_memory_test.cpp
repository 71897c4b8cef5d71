// The per-thread block cache behind SQLite's allocations.
#include "store/sqlite/sqlite_memory.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace otpd::store::sqlite {
namespace {

class SqliteMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    use_cached_allocator();
    // Another test of this binary may have used SQLite first; each runs in a process of
    // its own under ctest, where the allocator is always taken.
    if (!cached_allocator_in_use()) GTEST_SKIP() << "SQLite was initialised before this test";
    // Before counting: initialising allocates and frees blocks of its own.
    ASSERT_EQ(sqlite3_initialize(), SQLITE_OK);
  }
};

TEST_F(SqliteMemory, SmallBlocksAreRoundedToTheirClassAndReused) {
  void* a = sqlite3_malloc(100);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(sqlite3_msize(a), 128u);
  sqlite3_free(a);
  void* b = sqlite3_malloc(120);  // same class: the block just freed
  EXPECT_EQ(b, a);
  sqlite3_free(b);
}

TEST_F(SqliteMemory, TheCacheOfAThreadIsBounded) {
  const std::size_t before = cached_blocks_on_this_thread();
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(sqlite3_malloc(40));
  for (void* p : blocks) sqlite3_free(p);
  EXPECT_LE(cached_blocks_on_this_thread(), before + 32);
  EXPECT_GE(cached_blocks_on_this_thread(), 32u);
}

TEST_F(SqliteMemory, ReallocKeepsTheContentAcrossClassesAndIntoLargeBlocks) {
  auto* p = static_cast<char*>(sqlite3_malloc(20));
  std::memcpy(p, "0123456789abcdefghi", 20);
  for (int size : {30, 200, 600, 5000, 100000, 50}) {
    p = static_cast<char*>(sqlite3_realloc(p, size));
    ASSERT_NE(p, nullptr) << size;
    EXPECT_GE(sqlite3_msize(p), static_cast<sqlite3_uint64>(size));
    EXPECT_EQ(std::string(p, 19), "0123456789abcdefghi") << size;
  }
  sqlite3_free(p);
}

// A block freed on another thread joins that thread's cache, and a thread's cache is
// given back when it ends (a leak checker would report it otherwise).
TEST_F(SqliteMemory, BlocksCrossThreadsAndAreGivenBackWhenAThreadEnds) {
  std::vector<void*> blocks;
  for (int i = 0; i < 20; ++i) blocks.push_back(sqlite3_malloc(300));
  std::size_t cached_there = 0;
  std::thread([&] {
    for (void* p : blocks) sqlite3_free(p);
    cached_there = cached_blocks_on_this_thread();
  }).join();
  EXPECT_EQ(cached_there, 20u);
}

// What the cache is for: a statement's text values, reused from one step to the next.
TEST_F(SqliteMemory, AStatementRunsOnTheCache) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('some text value')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT a FROM t", -1, &stmt, nullptr), SQLITE_OK);
  auto step = [&] {
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "some text value");
    sqlite3_reset(stmt);
  };
  step();
  const std::uint64_t before = system_allocations_on_this_thread();
  for (int i = 0; i < 100; ++i) step();
  EXPECT_EQ(system_allocations_on_this_thread(), before);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

}  // namespace
}  // namespace otpd::store::sqlite
