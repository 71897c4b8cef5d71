// The process's I/O threads: one io_context per thread, each run by exactly that thread, so
// whatever is pinned to a context (a connection, the delivery worker) is single-threaded.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace otpd::http {

// Threading model: context(i) is run only by thread i, so nothing pinned to one context needs
// a strand or a lock; work crosses threads only by posting to another context. A context has
// a work guard until stop(), so it keeps running while it has nothing to do.
//
// Lifetime: everything that owns I/O objects or handlers on these contexts (servers,
// workers, clients) must be destroyed before the pool. Contexts are destroyed from the last
// to the first, after every thread has been joined.
class IoPool {
 public:
  // `threads` contexts and threads; 0 means one per core (at least one).
  explicit IoPool(unsigned threads);
  ~IoPool();
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  std::size_t size() const { return contexts_.size(); }
  boost::asio::io_context& context(std::size_t index) { return *contexts_[index]; }

  // Runs context 0 on the calling thread and every other one on a thread of its own; returns
  // once stop() has been called and every thread has left its context.
  void run();
  // Runs every context on a thread of its own and returns at once (tests); join() waits.
  void start();
  // Lets every context return from run() now, work pending or not. Safe from any thread,
  // handlers included.
  void stop();
  // REQUIRES: not called on one of the pool's threads.
  void join();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
};

}  // namespace otpd::http
