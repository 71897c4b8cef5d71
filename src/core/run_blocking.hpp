// Runs a task to completion from a thread that is not (yet) running an I/O loop: start-up
// checks, command-line tools, fuzz targets and tests. Never call it on an I/O thread.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <utility>

#include "core/task.hpp"

namespace otpd {

// On `io`, which must not be running on any thread: whatever the task sets up there (a
// remote store's connection) stays bound to it for later.
template <typename T>
T run_blocking(boost::asio::io_context& io, Task<T> task) {
  std::optional<T> result;
  std::exception_ptr failure;
  bool done = false;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) result.emplace(std::move(value));
    done = true;
  });
  io.restart();
  while (!done && io.run_one() > 0) {
  }
  // Running out of work stops an io_context; it is left ready to run again.
  io.restart();
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}

// On a private io_context, for a task that needs nothing of it afterwards.
template <typename T>
T run_blocking(Task<T> task) {
  boost::asio::io_context io;
  return run_blocking(io, std::move(task));
}

}  // namespace otpd
