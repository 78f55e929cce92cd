#include "native/cgroup.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "native/cleanup.h"

namespace rmaplab::native {
namespace {

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

// The executor's own cgroup path for a v1 controller ("memory") or v2 ("").
std::string OwnCgroup(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    // "ID:CONTROLLERS:PATH"
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controller.empty() ? (line.compare(0, 3, "0::") == 0)
                           : ("," + ctrls + ",").find("," + controller + ",") != std::string::npos)
      return path;
  }
  return {};
}

}  // namespace

std::unique_ptr<MemoryCgroup> MemoryCgroup::Create(uint64_t limit_bytes, std::string* why) {
  static std::atomic<int> counter{0};
  std::string name = fmt::format("rmaplab-{}-{}", getpid(), counter++);
  std::unique_ptr<MemoryCgroup> cg(new MemoryCgroup());
  struct stat st {};
  if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0) {  // cgroup v2
    std::string parent = "/sys/fs/cgroup" + OwnCgroup("");
    std::ifstream sub(parent + "/cgroup.subtree_control");
    std::string ctrls((std::istreambuf_iterator<char>(sub)), {});
    if (ctrls.find("memory") == std::string::npos) {
      *why = fmt::format("the memory controller is not enabled below {}", parent);
      return nullptr;
    }
    cg->dir_ = parent + "/" + name;
    if (mkdir(cg->dir_.c_str(), 0755) != 0 ||
        !WriteText(cg->dir_ + "/memory.max", std::to_string(limit_bytes))) {
      *why = fmt::format("cannot create {}: {}", cg->dir_, strerror(errno));
      rmdir(cg->dir_.c_str());
      return nullptr;
    }
  } else if (stat("/sys/fs/cgroup/memory", &st) == 0) {  // cgroup v1
    std::string parent = "/sys/fs/cgroup/memory" + OwnCgroup("memory");
    cg->dir_ = parent + "/" + name;
    if (mkdir(cg->dir_.c_str(), 0755) != 0 ||
        !WriteText(cg->dir_ + "/memory.limit_in_bytes", std::to_string(limit_bytes))) {
      *why = fmt::format("cannot create {}: {}", cg->dir_, strerror(errno));
      rmdir(cg->dir_.c_str());
      return nullptr;
    }
  } else {
    *why = "no memory cgroup controller";
    return nullptr;
  }
  cg->procs_file_ = cg->dir_ + "/cgroup.procs";
  cg->cleanup_slot_ = RegisterCgroup(cg->dir_.c_str());
  return cg;
}

bool MemoryCgroup::Add(pid_t pid) { return WriteText(procs_file_, std::to_string(pid)); }

MemoryCgroup::~MemoryCgroup() {
  // The processes were killed; give the kernel a moment to finish tearing them down.
  for (int i = 0; i < 500 && rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i) usleep(2000);
  UnregisterCgroup(cleanup_slot_);
}

}  // namespace rmaplab::native
