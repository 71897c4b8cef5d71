// One io_context per thread: start, stop and join them together.
#include "http/io_pool.hpp"

#include <algorithm>

namespace otpd::http {

IoPool::IoPool(unsigned threads) {
  const unsigned count = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  contexts_.reserve(count);
  guards_.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    // The hint says one thread runs this context: Asio then skips waking other threads for
    // work posted from this one. Locking stays on, since other threads post to it too.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
  }
}

IoPool::~IoPool() {
  stop();
  join();
  guards_.clear();
  while (!contexts_.empty()) contexts_.pop_back();
}

void IoPool::run() {
  for (std::size_t i = 1; i < contexts_.size(); ++i) {
    threads_.emplace_back([context = contexts_[i].get()] { context->run(); });
  }
  contexts_[0]->run();
  join();
}

void IoPool::start() {
  for (auto& context : contexts_) {
    threads_.emplace_back([context = context.get()] { context->run(); });
  }
}

void IoPool::stop() {
  for (auto& context : contexts_) context->stop();
}

void IoPool::join() {
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace otpd::http
