// RLIMIT_NOFILE at start: raise it, count what is open, fit the connection cap beneath it.
#include "http/descriptor_limit.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>

namespace otpd::http {
namespace {

std::size_t count_open_descriptors() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  std::size_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count > 0 ? count - 1 : 0;  // the directory's own descriptor
}

}  // namespace

std::size_t fit_connections(std::size_t requested, std::uint64_t limit, std::size_t open,
                            std::size_t reserved) {
  const std::uint64_t kept = static_cast<std::uint64_t>(open) + reserved;
  const std::uint64_t left = limit > kept ? limit - kept : 0;
  const std::uint64_t fitted = std::max<std::uint64_t>(left, kMinConnections);
  return static_cast<std::size_t>(std::min<std::uint64_t>(requested, fitted));
}

DescriptorBudget plan_descriptors(std::size_t requested, std::size_t reserved) {
  DescriptorBudget budget;
  rlimit limits{};
  if (::getrlimit(RLIMIT_NOFILE, &limits) == 0) {
    if (limits.rlim_cur != limits.rlim_max) {
      rlimit raised = limits;
      raised.rlim_cur = limits.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
        limits = raised;
        budget.raised = true;
      }
    }
    budget.limit = limits.rlim_cur == RLIM_INFINITY ? UINT64_MAX : limits.rlim_cur;
  } else {
    budget.limit = UINT64_MAX;
  }
  budget.open = count_open_descriptors();
  budget.max_connections = fit_connections(requested, budget.limit, budget.open, reserved);
  return budget;
}

}  // namespace otpd::http
