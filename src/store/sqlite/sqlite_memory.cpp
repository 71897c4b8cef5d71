// The per-thread block cache behind SQLite's allocations (see sqlite_memory.hpp).
#include "store/sqlite/sqlite_memory.hpp"

#include <sqlite3.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace otpd::store::sqlite {
namespace {

// Every block starts with a header holding its usable size, so that free and realloc
// know its class. 16 bytes keep the usable part aligned as malloc's is.
constexpr std::size_t kHeader = 16;
// The classes a small block is rounded up to; larger ones go straight to malloc.
constexpr std::array<std::size_t, 5> kClasses = {32, 64, 128, 256, 512};
// Blocks kept per class and thread: enough for a statement's values and working memory,
// few enough that an idle thread holds at most ~32 KiB.
constexpr std::size_t kKeepPerClass = 32;

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so it stays usable while the thread ends: a block freed after
// the drain below (by a connection closed in a later destructor) goes to free().
struct Cache {
  std::array<FreeBlock*, kClasses.size()> heads{};
  std::array<std::size_t, kClasses.size()> counts{};
  bool ended = false;
  std::uint64_t from_system = 0;  // for tests
};
thread_local Cache cache;

void drain() {
  for (std::size_t c = 0; c < kClasses.size(); ++c) {
    while (FreeBlock* b = cache.heads[c]) {
      cache.heads[c] = b->next;
      std::free(reinterpret_cast<unsigned char*>(b) - kHeader);
    }
    cache.counts[c] = 0;
  }
}

// Gives the thread's cached blocks back when the thread ends.
struct Drainer {
  ~Drainer() {
    drain();
    cache.ended = true;
  }
};

int class_of(std::size_t n) {
  for (std::size_t c = 0; c < kClasses.size(); ++c) {
    if (n <= kClasses[c]) return static_cast<int>(c);
  }
  return -1;
}

std::size_t usable_size(const void* p) {
  std::size_t n;
  std::memcpy(&n, static_cast<const unsigned char*>(p) - kHeader, sizeof n);
  return n;
}

void* from_system(std::size_t n) {
  ++cache.from_system;
  auto* raw = static_cast<unsigned char*>(std::malloc(kHeader + n));
  if (raw == nullptr) return nullptr;
  std::memcpy(raw, &n, sizeof n);
  return raw + kHeader;
}

int round_up(int n) {
  const int c = class_of(static_cast<std::size_t>(n));
  if (c >= 0) return static_cast<int>(kClasses[static_cast<std::size_t>(c)]);
  return (n + 7) & ~7;
}

void* cached_malloc(int requested) {
  const auto n = static_cast<std::size_t>(round_up(requested));
  const int c = class_of(n);
  if (c >= 0 && !cache.ended) {
    const auto ci = static_cast<std::size_t>(c);
    if (FreeBlock* b = cache.heads[ci]) {
      cache.heads[ci] = b->next;
      --cache.counts[ci];
      return b;
    }
  }
  return from_system(n);
}

void cached_free(void* p) {
  if (p == nullptr) return;
  const int c = class_of(usable_size(p));
  if (c >= 0 && !cache.ended) {
    static thread_local Drainer drainer;
    const auto ci = static_cast<std::size_t>(c);
    if (cache.counts[ci] < kKeepPerClass) {
      auto* b = static_cast<FreeBlock*>(p);
      b->next = cache.heads[ci];
      cache.heads[ci] = b;
      ++cache.counts[ci];
      return;
    }
  }
  std::free(static_cast<unsigned char*>(p) - kHeader);
}

void* cached_realloc(void* p, int requested) {
  if (p == nullptr) return cached_malloc(requested);
  const std::size_t have = usable_size(p);
  const auto want = static_cast<std::size_t>(round_up(requested));
  if (want == have) return p;
  if (class_of(have) < 0 && class_of(want) < 0) {  // large to large: the system's realloc
    auto* raw = static_cast<unsigned char*>(
        std::realloc(static_cast<unsigned char*>(p) - kHeader, kHeader + want));
    if (raw == nullptr) return nullptr;
    std::memcpy(raw, &want, sizeof want);
    return raw + kHeader;
  }
  void* q = cached_malloc(requested);
  if (q == nullptr) return nullptr;  // SQLite keeps p, as with realloc
  std::memcpy(q, p, have < want ? have : want);
  cached_free(p);
  return q;
}

int size_of(void* p) { return static_cast<int>(usable_size(p)); }
int init(void*) { return SQLITE_OK; }
void shutdown(void*) {}

std::atomic<bool> in_use{false};

}  // namespace

void use_cached_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    static const sqlite3_mem_methods methods = {
        cached_malloc, cached_free, cached_realloc, size_of, round_up, init, shutdown, nullptr};
    in_use = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) == SQLITE_OK;
    // SQLite's memory statistics take one process-wide mutex around every allocation;
    // otpd reads none of them.
    if (in_use) sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
}

bool cached_allocator_in_use() { return in_use.load(); }

std::size_t cached_blocks_on_this_thread() {
  std::size_t n = 0;
  for (std::size_t count : cache.counts) n += count;
  return n;
}

std::uint64_t system_allocations_on_this_thread() { return cache.from_system; }

}  // namespace otpd::store::sqlite
