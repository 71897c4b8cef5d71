// WAL-batching VFS: the file wrapper, the gathering of appends and the registration.
#include "store/sqlite/sqlite_wal_vfs.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

namespace otpd::store::sqlite {
namespace {

constexpr const char* kName = "otpd-unix-excl";
constexpr const char* kBase = "unix-excl";
// A WAL frame starts with a 24-byte header; no other write to a WAL file has that size
// (the file's own header is 32 bytes, a page at least 512).
constexpr int kFrameHeaderBytes = 24;
// Bytes 4-7 of a frame header: the database's size in pages after a commit frame, 0 in any
// other frame.
constexpr int kCommitSizeOffset = 4;
// The most one write of the unix VFS can carry: it masks each write's length to 17 bits
// (its pages are at most 64 KiB), so a longer one would be cut short and fail as
// SQLITE_FULL. A larger commit is written in pieces of this size: 31 frames of 4 KiB each.
constexpr std::size_t kMaxGathered = 0x1ffff;

std::atomic<std::uint64_t> g_appends{0};
std::atomic<std::uint64_t> g_flushes{0};
sqlite3_vfs* g_base = nullptr;
sqlite3_vfs g_vfs{};

// What SQLite allocates for each file opened through this VFS: this wrapper, followed by
// unix-excl's own file object. SQLite aligns it to 8 bytes only, which is all File needs.
struct File {
  sqlite3_file base{};  // first: SQLite sees a File as a sqlite3_file
  sqlite3_file* real = nullptr;
  bool is_wal = false;
  File* wal = nullptr;  // on a main database file: the WAL its connection has open
  File* db = nullptr;   // on a WAL file: its connection's main database file
  // Appends not yet written (WAL files only): these bytes belong at offset `start`.
  std::vector<unsigned char> gathered;
  sqlite3_int64 start = 0;
  bool commit_page_next = false;  // the last append was a commit frame's header

  const sqlite3_io_methods& io() const { return *real->pMethods; }
};
static_assert(alignof(File) <= 8 && sizeof(File) % 8 == 0,
              "SQLite places the base VFS's file object right after a File, 8-byte aligned");

File& as_file(sqlite3_file* f) { return *reinterpret_cast<File*>(f); }

// Writes what has been gathered. The buffer is emptied even when the write fails: SQLite
// then fails the transaction, and its frames are never part of the log.
int flush(File& f) {
  if (f.gathered.empty()) return SQLITE_OK;
  const int rc =
      f.io().xWrite(f.real, f.gathered.data(), static_cast<int>(f.gathered.size()), f.start);
  f.gathered.clear();
  g_flushes.fetch_add(1, std::memory_order_relaxed);
  return rc;
}

int gather(File& f, const void* data, int amount, sqlite3_int64 offset) {
  // A commit frame's page completes the transaction: its frames go to the file as soon as
  // it is in, so that a failure is returned to the commit that made it.
  const bool completes_commit = f.commit_page_next && amount != kFrameHeaderBytes;
  f.commit_page_next = false;
  const auto bytes = static_cast<std::size_t>(amount);
  const bool follows =
      offset == f.start + static_cast<sqlite3_int64>(f.gathered.size()) || f.gathered.empty();
  if (!follows || f.gathered.size() + bytes > kMaxGathered) {
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (bytes > kMaxGathered) return f.io().xWrite(f.real, data, amount, offset);
  if (f.gathered.empty()) {
    f.start = offset;
    f.gathered.reserve(kMaxGathered);
  }
  const auto* p = static_cast<const unsigned char*>(data);
  f.gathered.insert(f.gathered.end(), p, p + bytes);
  g_appends.fetch_add(1, std::memory_order_relaxed);
  if (amount == kFrameHeaderBytes) {
    const unsigned char* size = p + kCommitSizeOffset;
    f.commit_page_next = (size[0] | size[1] | size[2] | size[3]) != 0;
    return SQLITE_OK;
  }
  return completes_commit ? flush(f) : SQLITE_OK;
}

// ---- sqlite3_io_methods ---------------------------------------------------------------
// Each method that can see a WAL file's contents or size (close, read, truncate, sync, size,
// file control) writes what it has gathered first, so the file is as SQLite expects it; on
// a main database file, or with nothing gathered, that is a no-op. The others (locks,
// sector size, mappings of the main file) pass straight through.

int flush_wal(File& f) { return f.is_wal ? flush(f) : SQLITE_OK; }

int x_close(sqlite3_file* file) {
  File& f = as_file(file);
  const int flushed = flush_wal(f);
  const int rc = f.io().xClose(f.real);
  if (f.wal != nullptr) f.wal->db = nullptr;
  if (f.db != nullptr) f.db->wal = nullptr;
  f.~File();
  return flushed != SQLITE_OK ? flushed : rc;
}

int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  File& f = as_file(file);
  if (const int rc = flush_wal(f); rc != SQLITE_OK) return rc;
  return f.io().xRead(f.real, out, amount, offset);
}

int x_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File& f = as_file(file);
  if (f.is_wal) return gather(f, data, amount, offset);
  return f.io().xWrite(f.real, data, amount, offset);
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  File& f = as_file(file);
  if (const int rc = flush_wal(f); rc != SQLITE_OK) return rc;
  return f.io().xTruncate(f.real, size);
}

int x_sync(sqlite3_file* file, int flags) {
  File& f = as_file(file);
  if (const int rc = flush_wal(f); rc != SQLITE_OK) return rc;
  return f.io().xSync(f.real, flags);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  File& f = as_file(file);
  if (const int rc = flush_wal(f); rc != SQLITE_OK) return rc;
  return f.io().xFileSize(f.real, size);
}

int x_lock(sqlite3_file* file, int level) {
  File& f = as_file(file);
  return f.io().xLock(f.real, level);
}

int x_unlock(sqlite3_file* file, int level) {
  File& f = as_file(file);
  return f.io().xUnlock(f.real, level);
}

int x_check_reserved_lock(sqlite3_file* file, int* out) {
  File& f = as_file(file);
  return f.io().xCheckReservedLock(f.real, out);
}

int x_file_control(sqlite3_file* file, int op, void* arg) {
  File& f = as_file(file);
  if (const int rc = flush_wal(f); rc != SQLITE_OK) return rc;
  return f.io().xFileControl(f.real, op, arg);
}

int x_sector_size(sqlite3_file* file) {
  File& f = as_file(file);
  return f.io().xSectorSize(f.real);
}

int x_device_characteristics(sqlite3_file* file) {
  File& f = as_file(file);
  return f.io().xDeviceCharacteristics(f.real);
}

// The WAL index is reached through the main database file. Before a commit is published
// SQLite calls xShmBarrier, and it takes and releases WAL index locks around transactions;
// whatever the connection's WAL still holds is written then. In the ways SQLite writes a
// WAL nothing is left by that time (the commit frame's page wrote it): this is the safety
// net for a path that would append after the commit frame, and as these calls return no
// error to the commit, a failure could only show at the next read of those frames.
void flush_connection_wal(File& f) {
  if (f.wal != nullptr) (void)flush(*f.wal);
}

int x_shm_map(sqlite3_file* file, int page, int page_size, int extend, void volatile** out) {
  File& f = as_file(file);
  return f.io().xShmMap(f.real, page, page_size, extend, out);
}

int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  File& f = as_file(file);
  flush_connection_wal(f);
  return f.io().xShmLock(f.real, offset, n, flags);
}

void x_shm_barrier(sqlite3_file* file) {
  File& f = as_file(file);
  flush_connection_wal(f);
  f.io().xShmBarrier(f.real);
}

int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  File& f = as_file(file);
  flush_connection_wal(f);
  return f.io().xShmUnmap(f.real, delete_flag);
}

int x_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  File& f = as_file(file);
  return f.io().xFetch(f.real, offset, amount, out);
}

int x_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  File& f = as_file(file);
  return f.io().xUnfetch(f.real, offset, p);
}

// Version 3, as unix-excl's own methods: shared memory (the WAL index) and memory mapping.
const sqlite3_io_methods kMethods = {
    3,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved_lock,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    x_fetch,
    x_unfetch,
};

// ---- sqlite3_vfs ----------------------------------------------------------------------

int v_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = new (file) File{};
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  const int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || f->real->pMethods == nullptr) {
    f->~File();
    file->pMethods = nullptr;  // SQLite calls no xClose on a file that failed to open
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  f->base.pMethods = &kMethods;
  if ((flags & SQLITE_OPEN_WAL) != 0) {
    f->is_wal = true;
    // The main database file was opened through this VFS too, so it is a File.
    if (sqlite3_file* db = sqlite3_database_file_object(name); db != nullptr) {
      f->db = &as_file(db);
      f->db->wal = f;
    }
  }
  return SQLITE_OK;
}

int v_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_base->xDelete(g_base, name, sync_dir);
}
int v_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_base->xAccess(g_base, name, flags, out);
}
int v_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_base->xFullPathname(g_base, name, n, out);
}
void* v_dl_open(sqlite3_vfs*, const char* name) { return g_base->xDlOpen(g_base, name); }
void v_dl_error(sqlite3_vfs*, int n, char* out) { g_base->xDlError(g_base, n, out); }
void (*v_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return g_base->xDlSym(g_base, handle, symbol);
}
void v_dl_close(sqlite3_vfs*, void* handle) { g_base->xDlClose(g_base, handle); }
int v_randomness(sqlite3_vfs*, int n, char* out) { return g_base->xRandomness(g_base, n, out); }
int v_sleep(sqlite3_vfs*, int micros) { return g_base->xSleep(g_base, micros); }
int v_current_time(sqlite3_vfs*, double* out) { return g_base->xCurrentTime(g_base, out); }
int v_get_last_error(sqlite3_vfs*, int n, char* out) {
  return g_base->xGetLastError(g_base, n, out);
}
int v_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_base->xCurrentTimeInt64(g_base, out);
}

void register_vfs() {
  g_base = sqlite3_vfs_find(kBase);
  if (g_base == nullptr || g_base->iVersion < 2) return;
  g_vfs.iVersion = 2;  // up to xCurrentTimeInt64; the system-call hooks are for tests
  g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g_base->szOsFile;
  g_vfs.mxPathname = g_base->mxPathname;
  g_vfs.zName = kName;
  g_vfs.xOpen = v_open;
  g_vfs.xDelete = v_delete;
  g_vfs.xAccess = v_access;
  g_vfs.xFullPathname = v_full_pathname;
  g_vfs.xDlOpen = v_dl_open;
  g_vfs.xDlError = v_dl_error;
  g_vfs.xDlSym = v_dl_sym;
  g_vfs.xDlClose = v_dl_close;
  g_vfs.xRandomness = v_randomness;
  g_vfs.xSleep = v_sleep;
  g_vfs.xCurrentTime = v_current_time;
  g_vfs.xGetLastError = v_get_last_error;
  g_vfs.xCurrentTimeInt64 = v_current_time_int64;
  if (sqlite3_vfs_register(&g_vfs, 0) != SQLITE_OK) g_base = nullptr;
}

}  // namespace

const char* wal_batching_vfs() {
  static std::once_flag once;
  std::call_once(once, register_vfs);
  return g_base != nullptr ? kName : nullptr;
}

WalWriteCounts wal_write_counts() {
  return {g_appends.load(std::memory_order_relaxed), g_flushes.load(std::memory_order_relaxed)};
}

}  // namespace otpd::store::sqlite
