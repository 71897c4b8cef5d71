// Completing an awaiting coroutine from a thread that is not its own: the SQLite writer
// thread and the Redis store's I/O threads hand their results back this way.
//
// Once the coroutine has resumed, its io_context may be destroyed at once (run_blocking's
// is, and so is a test's), so the completing thread must not touch that io_context, nor
// any copy of its executor, afterwards. Three rules keep it so:
// - the io_context is kept from running out of work by a tracked executor that travels
//   with the result and is released on the io_context's own thread, after the resume;
// - every copy of the caller's executor this thread makes (the untracked target of the
//   post, Asio's temporaries inside post) is destroyed before the coroutine may resume;
// - the coroutine resumes only once this thread has returned from post: Asio's scheduler
//   signals its condition variable after unlocking, so post can still be inside the
//   io_context when the handler starts.
// Destroying a strand's last executor copy locks its service's mutex, so a copy left over
// on the completing thread is a use-after-free once the io_context is gone.
#pragma once

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <memory>
#include <utility>

namespace otpd {

// Wraps an Asio completion handler (from async_initiate) into a callable that any thread
// may call once with the completion's arguments.
template <typename Handler>
auto resume_on_caller(Handler handler) {
  namespace asio = boost::asio;
  auto work = asio::prefer(asio::get_associated_executor(handler),
                           asio::execution::outstanding_work.tracked);
  return [handler = std::move(handler), work = std::move(work)](auto... results) mutable {
    struct Handoff {
      std::atomic<bool> posted{false};
    };
    auto handoff = std::make_shared<Handoff>();
    {
      const auto target = asio::prefer(work, asio::execution::outstanding_work.untracked);
      asio::post(target, [handler = std::move(handler), work = std::move(work), handoff,
                          ... results = std::move(results)]() mutable {
        handoff->posted.wait(false, std::memory_order_acquire);
        const auto keep_until_resumed = std::move(work);
        std::move(handler)(std::move(results)...);
      });
    }  // `target` goes here, while the posted handler is still waiting for `posted`
    handoff->posted.store(true, std::memory_order_release);
    handoff->posted.notify_one();
  };
}

}  // namespace otpd
