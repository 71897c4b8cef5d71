// A VFS over SQLite's "unix-excl" that writes each commit to the WAL in one system call.
//
// SQLite appends a commit to the WAL one frame at a time, and each frame as two writes: its
// 24-byte header, then the page. A group commit of a few dozen sends dirties a hundred pages
// or more: two hundred pwrite calls, each a trip into the kernel that costs far more on a
// virtual machine than the copy it makes. This VFS passes every call through to unix-excl
// except the appends to a WAL file, which it gathers in a buffer and writes with one pwrite
// when the commit frame's page has been added.
//
// Why that is safe: nothing can read the gathered frames before they are written.
// - A commit becomes visible to other connections only when SQLite publishes the new WAL
//   index header, after the last frame is written. The buffer is written as soon as the
//   commit frame is in it, and, should anything still be pending, before the header's
//   publication (SQLite calls xShmBarrier between its two copies) too.
// - Every call that can see the WAL file's contents or size (read, size, sync, truncate,
//   file control, close) and any write that is not the next append writes the buffer
//   first, so the file always looks to SQLite as if each write had been made when it asked.
// - A commit's caller is completed after COMMIT returns, so an acknowledged result is in
//   the operating system's page cache as before: it survives kill -9. Frames lost with the
//   buffer on a crash belong to a transaction that had not committed.
// - A failed write of the buffer is returned from the xWrite that completed the commit
//   frame, so the commit fails as if that write had failed.
#pragma once

#include <cstdint>

namespace otpd::store::sqlite {

// Registers the VFS on first use (thread-safe) and returns its name for sqlite3_open_v2.
// nullptr when unix-excl is not available (a SQLite built without it): callers then fall
// back to SQLite's default.
const char* wal_batching_vfs();

// What the VFS did since the process started, for tests and diagnostics.
struct WalWriteCounts {
  std::uint64_t appends = 0;  // writes SQLite asked for that joined a buffer
  std::uint64_t flushes = 0;  // pwrite calls that wrote a buffer
};
WalWriteCounts wal_write_counts();

}  // namespace otpd::store::sqlite
