// Throughput and CPU per request of the Redis client (report only, never a test): N I/O
// threads, C coroutines each, running GET, SET or a small EVALSHA against a server for a
// fixed time. Built on demand: cmake --build build --target redis_client_bench.
//   redis_client_bench redis://127.0.0.1:6379 get|set|evalsha [threads] [coroutines] [seconds]
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store/redis/client.hpp"
#include "store/redis/script.hpp"

namespace asio = boost::asio;
using namespace otpd::store::redis;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Counters {
  std::atomic<long long> ok{0};
  std::atomic<long long> failed{0};
};

otpd::Task<void> worker(std::shared_ptr<Client> client, std::string op, int id,
                        Clock::time_point end, Counters& counters) {
  static const Script script("return redis.call('INCR', KEYS[1])");
  const std::string key = "bench:" + std::to_string(id);
  const std::string value(32, 'v');
  long long ok = 0;
  long long failed = 0;
  while (Clock::now() < end) {
    Result<Reply> result;
    if (op == "get") {
      result = co_await client->command("GET", key);
    } else if (op == "set") {
      result = co_await client->command("SET", key, value);
    } else {
      std::vector<std::string> keys{key + ":n"};
      result = co_await client->run_script(script, std::move(keys), {});
    }
    ++(result ? ok : failed);
  }
  counters.ok += ok;
  counters.failed += failed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s URL get|set|evalsha [threads] [coroutines] [seconds]\n",
                 argv[0]);
    return 2;
  }
  const std::string op = argv[2];
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const int coroutines = argc > 4 ? std::atoi(argv[4]) : 64;
  const int seconds = argc > 5 ? std::atoi(argv[5]) : 5;
  auto options = parse_redis_url(argv[1]);
  if (!options) {
    std::fprintf(stderr, "%s\n", options.error().message.c_str());
    return 2;
  }
  auto client = Client::create(std::move(*options));
  if (!client) return 2;

  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (int t = 0; t < threads; ++t) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    guards.emplace_back(contexts.back()->get_executor());
  }
  Counters counters;
  std::atomic<int> finished{0};
  // Every thread's connection is opened before the clock starts, so connecting is not
  // measured; then all workers start together.
  std::latch warmed(threads + 1);
  std::latch go(1);
  Clock::time_point end;
  for (int t = 0; t < threads; ++t) {
    asio::co_spawn(
        *contexts[t],
        [&, t]() -> otpd::Task<void> {
          co_await (*client)->ping();
          warmed.arrive_and_wait();
          go.wait();
          for (int c = 0; c < coroutines; ++c) {
            asio::co_spawn(
                co_await asio::this_coro::executor,
                [&, id = t * coroutines + c]() -> otpd::Task<void> {
                  co_await worker(*client, op, id, end, counters);
                  ++finished;
                },
                asio::detached);
          }
        },
        asio::detached);
  }
  std::vector<std::thread> running;
  for (auto& context : contexts) running.emplace_back([&context] { context->run(); });
  warmed.arrive_and_wait();
  const double cpu_before = cpu_seconds();
  const auto start = Clock::now();
  end = start + std::chrono::seconds(seconds);
  go.count_down();
  while (finished < threads * coroutines) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_before;
  const auto ok = counters.ok.load();
  std::printf(
      "%s: %d threads x %d coroutines: %.0f requests/s, %.2f us CPU per request "
      "(%lld ok, %lld failed, %.2f s CPU in %.2f s)\n",
      op.c_str(), threads, coroutines, ok / wall, ok ? cpu / ok * 1e6 : 0.0, ok,
      counters.failed.load(), cpu, wall);
  guards.clear();
  for (auto& context : contexts) context->stop();
  for (auto& thread : running) thread.join();
  client->reset();
  return 0;
}
