#include "trace/recorder.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

// libtracefs' header is C; it needs C linkage and -fpermissive (CMakeLists.txt) in C++.
extern "C" {
#include <event-parse.h>
#include <tracefs.h>
}

#include "native/cleanup.h"
#include "native/procfs.h"
#include "native/tracing.h"

namespace rmaplab::trace {
namespace {

constexpr const char* kSyscallFilter =
    "id == 3 || id == 9 || id == 10 || id == 11 || id == 12 || id == 25 || id == 28 || "
    "id == 29 || id == 30 || id == 67";
constexpr const char* kKmemAllocFilter =
    "call_site.function == __anon_vma_prepare || call_site.function == anon_vma_clone || "
    "call_site.function == anon_vma_fork";
constexpr const char* kKmemFreeFilter =
    "call_site.function == unlink_anon_vmas || call_site.function == __put_anon_vma || "
    "call_site.function == anon_vma_clone || call_site.function == __anon_vma_prepare || "
    "call_site.function == anon_vma_fork";
constexpr uint64_t kUserTop = 0x800000000000ULL;

uint64_t MonoNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + ts.tv_nsec;
}

// A raw event read from the ring buffer, before syscall enter/exit pairing.
struct Raw {
  uint64_t ts;
  int32_t pid;
  enum Type : uint8_t { kEnter, kExitSys, kNewTask, kExitTask, kFaultU, kFaultK, kKmemA, kKmemF } type;
  int64_t id = 0, ret = 0;
  int64_t args[6] = {};
  int32_t child = 0;
  uint64_t flags = 0, addr = 0, error_code = 0;
  bool flag = false;  // group_dead / kmem anon_vma
};

struct Collector {
  std::mutex mu;
  std::vector<Raw> raws;
};

uint64_t Field(tep_event* ev, tep_record* rec, const char* name) {
  unsigned long long v = 0;
  tep_get_field_val(nullptr, ev, name, rec, &v, 0);
  return v;
}

int OnRecord(tep_event* ev, tep_record* rec, int cpu, void* ctx) {
  auto* c = static_cast<Collector*>(ctx);
  Raw r{};
  r.ts = rec->ts;
  unsigned long long pid = 0;
  tep_get_common_field_val(nullptr, ev, "common_pid", rec, &pid, 0);
  r.pid = static_cast<int32_t>(pid);
  const char* n = ev->name;
  if (!strcmp(n, "sys_enter")) {
    r.type = Raw::kEnter;
    r.id = static_cast<int64_t>(Field(ev, rec, "id"));
    tep_format_field* f = tep_find_field(ev, "args");
    if (f) memcpy(r.args, static_cast<char*>(rec->data) + f->offset, sizeof r.args);
  } else if (!strcmp(n, "sys_exit")) {
    r.type = Raw::kExitSys;
    r.id = static_cast<int64_t>(Field(ev, rec, "id"));
    r.ret = static_cast<int64_t>(Field(ev, rec, "ret"));
  } else if (!strcmp(n, "task_newtask")) {
    r.type = Raw::kNewTask;
    r.child = static_cast<int32_t>(Field(ev, rec, "pid"));
    r.flags = Field(ev, rec, "clone_flags");
  } else if (!strcmp(n, "sched_process_exit")) {
    r.type = Raw::kExitTask;
    r.child = static_cast<int32_t>(Field(ev, rec, "pid"));
    r.flag = Field(ev, rec, "group_dead");
  } else if (!strcmp(n, "page_fault_user") || !strcmp(n, "page_fault_kernel")) {
    r.type = n[11] == 'u' ? Raw::kFaultU : Raw::kFaultK;
    r.addr = Field(ev, rec, "address");
    r.error_code = Field(ev, rec, "error_code");
    if (r.addr >= kUserTop) return 0;
  } else if (!strcmp(n, "kmem_cache_alloc") || !strcmp(n, "kmem_cache_free")) {
    r.type = n[11] == 'a' ? Raw::kKmemA : Raw::kKmemF;
    int len = 0;
    auto* name = static_cast<const char*>(tep_get_field_raw(nullptr, ev, "name", rec, &len, 0));
    r.flag = name && len >= 8 && !strncmp(name, "anon_vma", 8) && (len == 8 || name[8] == 0);
  } else {
    return 0;
  }
  std::lock_guard<std::mutex> lock(c->mu);
  c->raws.push_back(r);
  return 0;
}

// Captures the layout execve gave pid (stopped at PTRACE_EVENT_EXEC).
bool CaptureLayout(pid_t pid, Trace* t, std::map<std::string, int32_t>* file_ids,
                   std::string* error) {
  ExecLayout l;
  l.pid = pid;
  l.ts = MonoNow();
  char exe[4096];
  ssize_t n = readlink(fmt::format("/proc/{}/exe", pid).c_str(), exe, sizeof exe - 1);
  l.program = n > 0 ? std::string(exe, n) : "";
  std::vector<native::RawVma> vmas;
  if (!native::ReadMaps(pid, 0, kUserTop, &vmas, error)) return false;
  // Anonymous pages per VMA (smaps) tell which VMAs have an anon_vma.
  std::map<uint64_t, uint64_t> anon_kb;
  {
    std::ifstream sm(fmt::format("/proc/{}/smaps", pid));
    std::string line;
    uint64_t cur = 0;
    while (std::getline(sm, line)) {
      if (!line.empty() && isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') != std::string::npos &&
          line.find(' ') > line.find('-'))
        cur = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
      else if (line.rfind("Anonymous:", 0) == 0)
        anon_kb[cur] = std::stoull(line.substr(10));
    }
  }
  for (const auto& v : vmas) {
    LayoutVma lv;
    lv.start = v.start;
    lv.end = v.end;
    lv.perms = v.perms;
    lv.offset = v.offset;
    lv.faulted = anon_kb[v.start] > 0;
    if (!v.path.empty() && v.path[0] == '/' && v.inode != 0) {
      auto it = file_ids->find(v.path);
      if (it == file_ids->end()) {
        struct stat st {};
        uint64_t pages = stat(v.path.c_str(), &st) == 0 ? (st.st_size + 4095) / 4096 : 0;
        it = file_ids->emplace(v.path, static_cast<int32_t>(t->files.size())).first;
        t->files.push_back({v.path, pages});
      }
      lv.file = it->second;
    } else {
      lv.name = v.path;
    }
    l.vmas.push_back(lv);
  }
  std::vector<native::RawPage> pages;
  for (const auto& v : vmas) {
    if (v.path == "[vsyscall]") continue;
    pages.clear();
    if (!native::ReadPages(pid, v.start, v.end, &pages, error)) return false;
    for (const auto& p : pages) l.pages.push_back({p.vaddr, p.zero ? 'z' : p.file ? 'f' : 'a'});
  }
  {
    std::ifstream st(fmt::format("/proc/{}/stat", pid));
    std::string s((std::istreambuf_iterator<char>(st)), {});
    size_t rp = s.rfind(')');
    std::istringstream f(rp == std::string::npos ? "" : s.substr(rp + 2));
    std::vector<std::string> fields;
    std::string x;
    while (f >> x) fields.push_back(x);
    // Fields after "pid (comm)" start at field 3; start_brk is field 47.
    if (fields.size() > 44) l.start_brk = l.brk = std::stoull(fields[44]);
  }
  t->layouts.push_back(std::move(l));
  return true;
}

}  // namespace

RecordResult Record(const RecordOptions& opt) {
  RecordResult res;
  Trace& t = res.trace;
  t.command = opt.command;
  struct utsname u {};
  uname(&u);
  t.kernel = u.release;
  {
    time_t now = time(nullptr);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    t.date = buf;
    std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
    std::getline(thp, t.thp);
    t.zero_page = native::KernelHasZeroPage();
    t.page_size = sysconf(_SC_PAGESIZE);
  }
  std::string why;
  std::string tdir = native::TracingDir(&why);
  if (tdir.empty()) {
    res.error = why;
    return res;
  }
  native::InstallCleanupHandlers();

  // The command, stopped before exec until tracing is set up.
  pid_t root = fork();
  if (root < 0) {
    res.error = fmt::format("fork: {}", strerror(errno));
    return res;
  }
  if (root == 0) {
    raise(SIGSTOP);
    std::vector<char*> argv;
    for (auto& a : opt.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    fprintf(stderr, "rmaplab record: cannot execute %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  native::RegisterPid(root);
  t.root_pid = root;
  int status = 0;
  waitpid(root, &status, WSTOPPED);

  static std::atomic<int> counter{0};
  std::string name = fmt::format("rmaplab-rec-{}-{}", getpid(), counter++);
  std::unique_lock tracefs_lock(native::LibtracefsMutex());  // see LibtracefsMutex()
  tracefs_instance* inst = tracefs_instance_create(name.c_str());
  if (!inst) {
    kill(root, SIGKILL);
    waitpid(root, nullptr, 0);
    res.error = fmt::format("cannot create tracing instance: {}", strerror(errno));
    return res;
  }
  char* idir = tracefs_instance_get_dir(inst);
  int slot = native::RegisterTracingInstance(idir);
  free(idir);
  std::string fmt_why;
  tep_handle* tep = native::LoadEventFormats(
      tdir, {"raw_syscalls/sys_enter", "raw_syscalls/sys_exit", "task/task_newtask",
             "sched/sched_process_exit", "exceptions/page_fault_user",
             "exceptions/page_fault_kernel", "kmem/kmem_cache_alloc", "kmem/kmem_cache_free"},
      &fmt_why);
  std::string pidstr = std::to_string(root);
  bool ok = tep && tracefs_instance_set_buffer_size(inst, opt.buffer_kb_per_cpu, -1) == 0 &&
            tracefs_instance_file_write(inst, "trace_clock", "mono") > 0 &&
            tracefs_event_file_write(inst, "raw_syscalls", "sys_enter", "filter", kSyscallFilter) > 0 &&
            tracefs_event_file_write(inst, "raw_syscalls", "sys_exit", "filter", kSyscallFilter) > 0 &&
            tracefs_event_file_write(inst, "kmem", "kmem_cache_alloc", "filter", kKmemAllocFilter) > 0 &&
            tracefs_event_file_write(inst, "kmem", "kmem_cache_free", "filter", kKmemFreeFilter) > 0 &&
            tracefs_option_enable(inst, TRACEFS_OPTION_EVENT_FORK) == 0 &&
            tracefs_instance_file_write(inst, "set_event_pid", pidstr.c_str()) > 0 &&
            tracefs_event_enable(inst, "raw_syscalls", "sys_enter") == 0 &&
            tracefs_event_enable(inst, "raw_syscalls", "sys_exit") == 0 &&
            tracefs_event_enable(inst, "task", "task_newtask") == 0 &&
            tracefs_event_enable(inst, "sched", "sched_process_exit") == 0 &&
            tracefs_event_enable(inst, "exceptions", "page_fault_user") == 0 &&
            tracefs_event_enable(inst, "exceptions", "page_fault_kernel") == 0 &&
            tracefs_event_enable(inst, "kmem", "kmem_cache_alloc") == 0 &&
            tracefs_event_enable(inst, "kmem", "kmem_cache_free") == 0 &&
            tracefs_trace_on(inst) == 0;
  auto cleanup = [&] {
    std::lock_guard lock(native::LibtracefsMutex());
    tracefs_trace_off(inst);
    tracefs_event_disable(inst, nullptr, nullptr);
    tracefs_instance_file_write(inst, "set_event_pid", "");
    tracefs_instance_destroy(inst);
    tracefs_instance_free(inst);
    native::UnregisterTracingInstance(slot);
    if (tep) tep_free(tep);
  };
  if (!ok) {
    res.error = fmt::format("cannot set up tracing: {}", tep ? strerror(errno) : fmt_why);
    kill(root, SIGKILL);
    waitpid(root, nullptr, 0);
    cleanup();
    return res;
  }
  tracefs_lock.unlock();

  // Read the ring buffers while the workload runs.
  Collector col;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) {
      {
        std::lock_guard lock(native::LibtracefsMutex());
        tracefs_iterate_raw_events(tep, inst, nullptr, 0, OnRecord, &col);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  std::map<std::string, int32_t> file_ids;
  std::vector<Event> execs;
  long popts = PTRACE_O_TRACEEXEC | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
               PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL;
  if (ptrace(PTRACE_SEIZE, root, nullptr, reinterpret_cast<void*>(popts)) != 0) {
    res.error = fmt::format("ptrace: {}", strerror(errno));
  }
  kill(root, SIGCONT);
  std::set<pid_t> live = {root};
  int exit_status = 0;
  while (!live.empty() && res.error.empty()) {
    pid_t p = waitpid(-1, &status, __WALL);
    if (p < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      live.erase(p);
      if (p == root)
        exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      continue;
    }
    if (!WIFSTOPPED(status)) continue;
    live.insert(p);
    int sig = WSTOPSIG(status);
    int event = status >> 16;
    int inject = 0;
    if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
      std::string err;
      if (!CaptureLayout(p, &t, &file_ids, &err)) res.error = "exec layout: " + err;
      Event e;
      e.kind = EventKind::kExec;
      e.ts = t.layouts.back().ts;
      e.pid = p;
      e.layout = static_cast<uint32_t>(t.layouts.size() - 1);
      execs.push_back(e);
    } else if (sig == SIGTRAP && event != 0) {
      // fork/vfork/clone: the new task reports its own stop.
    } else if (event == PTRACE_EVENT_STOP) {
      if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
        ptrace(PTRACE_LISTEN, p, nullptr, nullptr);
        continue;
      }
    } else if (sig != SIGSTOP || p == root) {
      inject = sig;  // a signal for the tracee: deliver it
    }
    ptrace(PTRACE_CONT, p, nullptr, reinterpret_cast<void*>(static_cast<long>(inject)));
  }
  if (!res.error.empty()) {
    for (pid_t p : live) kill(p, SIGKILL);
    while (waitpid(-1, nullptr, __WALL) > 0) {
    }
  }
  native::UnregisterPid(root);
  res.exit_status = exit_status;

  stop = true;
  reader.join();
  {
    std::lock_guard lock(native::LibtracefsMutex());
    tracefs_trace_off(inst);
    tracefs_iterate_raw_events(tep, inst, nullptr, 0, OnRecord, &col);
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    char* dir = tracefs_instance_get_dir(inst);
    for (long cpu = 0; cpu < ncpu; ++cpu) {
      std::ifstream in(fmt::format("{}/per_cpu/cpu{}/stats", dir, cpu));
      std::string line;
      int64_t lost = 0;
      while (std::getline(in, line)) {
        if (line.rfind("overrun:", 0) == 0) lost += std::stoll(line.substr(8));
        if (line.rfind("dropped events:", 0) == 0) lost += std::stoll(line.substr(15));
      }
      t.lost_per_cpu[static_cast<int>(cpu)] = lost;
    }
    free(dir);
  }
  cleanup();
  if (!res.error.empty()) return res;

  // Pair syscall entries with their exits; order everything by time.
  std::stable_sort(col.raws.begin(), col.raws.end(),
                   [](const Raw& a, const Raw& b) { return a.ts < b.ts; });
  std::map<int32_t, Raw> pending;
  for (const Raw& r : col.raws) {
    Event e;
    e.ts = r.ts;
    e.pid = r.pid;
    switch (r.type) {
      case Raw::kEnter:
        pending[r.pid] = r;
        continue;
      case Raw::kExitSys: {
        auto it = pending.find(r.pid);
        if (it == pending.end() || it->second.id != r.id) continue;
        e.kind = EventKind::kSyscall;
        e.nr = static_cast<int32_t>(r.id);
        std::copy(std::begin(it->second.args), std::end(it->second.args), e.args);
        e.ret = r.ret;
        pending.erase(it);
        break;
      }
      case Raw::kNewTask:
        e.kind = EventKind::kFork;
        e.child = r.child;
        e.clone_flags = r.flags;
        break;
      case Raw::kExitTask:
        e.kind = EventKind::kExit;
        e.pid = r.child;
        e.group_dead = r.flag;
        break;
      case Raw::kFaultU:
      case Raw::kFaultK:
        e.kind = EventKind::kFault;
        e.user = r.type == Raw::kFaultU;
        e.addr = r.addr;
        e.write = r.error_code & 2;
        break;
      case Raw::kKmemA:
      case Raw::kKmemF:
        e.kind = EventKind::kKmem;
        e.alloc = r.type == Raw::kKmemA;
        e.anon_vma = r.flag;
        break;
    }
    t.events.push_back(e);
  }
  t.events.insert(t.events.end(), execs.begin(), execs.end());
  std::stable_sort(t.events.begin(), t.events.end(),
                   [](const Event& a, const Event& b) { return a.ts < b.ts; });
  for (const Event& e : t.events) t.event_counts[EventKindName(e.kind)]++;
  res.ok = true;
  return res;
}

}  // namespace rmaplab::trace
