// Names the calling thread, so that `top -H`, `ps -L`, perf and gdb tell otpd's threads
// apart (the I/O loops, the SQLite writer, its checkpointer...).
#pragma once

namespace otpd::core {

// Linux keeps 15 characters of a thread's name; a longer name is cut to that.
void name_this_thread(const char* name);

}  // namespace otpd::core
