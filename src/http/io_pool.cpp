// One io_context per thread: start, stop and join them together.
#include "http/io_pool.hpp"

#include <algorithm>
#include <string>

#include "core/thread_name.hpp"

namespace otpd::http {
namespace {

void run_named(boost::asio::io_context& context, std::size_t index) {
  core::name_this_thread(("otpd-io-" + std::to_string(index)).c_str());
  context.run();
}

}  // namespace

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
    threads_.emplace_back([context = contexts_[i].get(), i] { run_named(*context, i); });
  }
  // The calling thread keeps its name: the main thread's is the process's, which ps,
  // pidof and killall go by.
  contexts_[0]->run();
  join();
}

void IoPool::start() {
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    threads_.emplace_back([context = contexts_[i].get(), i] { run_named(*context, i); });
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
