// A memory cgroup that bounds the resident memory of a native run's processes (cgroup v2
// memory.max, or v1 memory.limit_in_bytes), created under the executor's own cgroup.
// Best effort: where no writable memory controller exists the run goes on under its
// RLIMIT_AS alone, and says so.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace rmaplab::native {

class MemoryCgroup {
 public:
  static std::unique_ptr<MemoryCgroup> Create(uint64_t limit_bytes, std::string* why);
  ~MemoryCgroup();  // removes the cgroup (its processes must be gone)
  bool Add(pid_t pid);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, procs_file_;
  int cleanup_slot_ = -1;
};

}  // namespace rmaplab::native
