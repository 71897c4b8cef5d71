// The I/O pool: one thread per context, each context run by its own thread only.
#include "http/io_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <set>
#include <thread>

namespace otpd::http {
namespace {

TEST(IoPool, ZeroThreadsMeansOnePerCore) {
  IoPool pool(0);
  EXPECT_EQ(pool.size(), std::max(1u, std::thread::hardware_concurrency()));
}

TEST(IoPool, EachContextRunsOnItsOwnSingleThread) {
  IoPool pool(3);
  pool.start();
  std::mutex mutex;
  std::vector<std::set<std::thread::id>> seen(pool.size());
  std::atomic<int> done{0};
  for (int round = 0; round < 50; ++round) {
    for (std::size_t i = 0; i < pool.size(); ++i) {
      boost::asio::post(pool.context(i), [&, i] {
        std::lock_guard lock(mutex);
        seen[i].insert(std::this_thread::get_id());
        done.fetch_add(1);
      });
    }
  }
  while (done.load() < 150) std::this_thread::yield();
  pool.stop();
  pool.join();
  std::set<std::thread::id> all;
  for (const auto& ids : seen) {
    EXPECT_EQ(ids.size(), 1u);
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), 3u);
}

TEST(IoPool, RunReturnsOnceStoppedFromAHandler) {
  IoPool pool(2);
  std::atomic<bool> ran{false};
  // Idle contexts keep running (work guards) until stop().
  boost::asio::post(pool.context(1), [&] {
    ran.store(true);
    pool.stop();
  });
  pool.run();
  EXPECT_TRUE(ran.load());
}

}  // namespace
}  // namespace otpd::http
