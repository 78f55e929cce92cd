#include "native/cleanup.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errno.h>

#include <atomic>

namespace rmaplab::native {
namespace {

constexpr int kMaxPids = 4096;
std::atomic<pid_t> g_pids[kMaxPids];
constexpr int kMaxInstances = 64;
char g_instance[kMaxInstances][512];
std::atomic<int> g_instance_state[kMaxInstances];  // 0 free, 1 being written, 2 set

void WriteTo(const char* dir, const char* file, const char* value) {
  char path[640];
  size_t n = strlen(dir);
  if (n + strlen(file) + 2 > sizeof path) return;
  memcpy(path, dir, n);
  path[n] = '/';
  strcpy(path + n + 1, file);
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t w = write(fd, value, strlen(value));
  (void)w;
  close(fd);
}

void OnSignal(int sig) {
  RunCleanup();
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void InstallCleanupHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &sa, nullptr);
  // Orphaned scenario processes come to us, not to an init that may never reap them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
}

void RegisterPid(pid_t pid) {
  for (auto& slot : g_pids) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
}

void UnregisterPid(pid_t pid) {
  for (auto& slot : g_pids) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

int RegisterTracingInstance(const char* dir) {
  for (int i = 0; i < kMaxInstances; ++i) {
    int expected = 0;
    if (g_instance_state[i].compare_exchange_strong(expected, 1)) {
      strncpy(g_instance[i], dir, sizeof g_instance[i] - 1);
      g_instance[i][sizeof g_instance[i] - 1] = 0;
      g_instance_state[i] = 2;
      return i;
    }
  }
  return -1;
}

void UnregisterTracingInstance(int slot) {
  if (slot >= 0) g_instance_state[slot] = 0;
}

namespace {
char g_cgroup[kMaxInstances][512];
std::atomic<int> g_cgroup_state[kMaxInstances];
}  // namespace

int RegisterCgroup(const char* dir) {
  for (int i = 0; i < kMaxInstances; ++i) {
    int expected = 0;
    if (g_cgroup_state[i].compare_exchange_strong(expected, 1)) {
      strncpy(g_cgroup[i], dir, sizeof g_cgroup[i] - 1);
      g_cgroup[i][sizeof g_cgroup[i] - 1] = 0;
      g_cgroup_state[i] = 2;
      return i;
    }
  }
  return -1;
}

void UnregisterCgroup(int slot) {
  if (slot >= 0) g_cgroup_state[slot] = 0;
}

void RunCleanup() {
  pid_t killed[kMaxPids];
  int n = 0;
  for (auto& slot : g_pids) {
    pid_t p = slot.exchange(0);
    if (p > 0 && kill(p, SIGKILL) == 0) killed[n++] = p;
  }
  // The executor is a child subreaper: in creation order, each killed process is (by
  // then) our child, reparented when its parent died; reap it so no zombie is left.
  for (int i = 0; i < n; ++i) waitpid(killed[i], nullptr, 0);
  for (int i = 0; i < kMaxInstances; ++i) {
    int expected = 2;
    if (!g_instance_state[i].compare_exchange_strong(expected, 1)) continue;
    WriteTo(g_instance[i], "tracing_on", "0");
    WriteTo(g_instance[i], "events/enable", "0");
    WriteTo(g_instance[i], "set_event_pid", "");
    rmdir(g_instance[i]);
    g_instance_state[i] = 0;
  }
  for (int i = 0; i < kMaxInstances; ++i) {
    int expected = 2;
    if (!g_cgroup_state[i].compare_exchange_strong(expected, 1)) continue;
    // The killed processes leave the cgroup asynchronously: retry for up to a second.
    for (int k = 0; k < 500 && rmdir(g_cgroup[i]) != 0 && errno == EBUSY; ++k) usleep(2000);
    g_cgroup_state[i] = 0;
  }
}

}  // namespace rmaplab::native
