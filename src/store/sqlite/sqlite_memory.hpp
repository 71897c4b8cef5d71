// SQLite's memory, with its small blocks kept per thread for reuse.
#pragma once

#include <cstddef>
#include <cstdint>

namespace otpd::store::sqlite {

// Makes SQLite take its memory through a per-thread cache of small blocks. Debian builds
// SQLite without its lookaside allocator (SQLITE_OMIT_LOOKASIDE), so every statement
// mallocs and frees each text value it returns (11 per verification read) and much of
// its working memory. Idempotent and thread-safe; it must run before SQLite is first used
// in the process (Connection::open calls it), and when it is too late SQLite keeps the
// system allocator, which is only slower.
void use_cached_allocator();

// Whether SQLite took the cached allocator. For tests.
bool cached_allocator_in_use();

// Blocks handed back to the calling thread's cache so far and not handed out again,
// per thread. For tests.
std::size_t cached_blocks_on_this_thread();
// Blocks this thread has taken from the system allocator so far. For tests.
std::uint64_t system_allocations_on_this_thread();

}  // namespace otpd::store::sqlite
