// name_this_thread: pthread_setname_np, with the name cut to what Linux keeps.
#include "core/thread_name.hpp"

#include <pthread.h>

#include <cstring>

namespace otpd::core {

void name_this_thread(const char* name) {
  char kept[16] = {};  // 15 characters and the terminator: longer names fail with ERANGE
  std::strncpy(kept, name, sizeof kept - 1);
  (void)pthread_setname_np(pthread_self(), kept);  // a name is a convenience, never needed
}

}  // namespace otpd::core
