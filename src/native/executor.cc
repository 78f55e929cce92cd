#include "native/executor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include "native/cgroup.h"
#include "native/cleanup.h"
#include "native/procfs.h"
#include "native/proto.h"
#include "native/tracing.h"

namespace rmaplab::native {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kHighFd = 3000;  // executor-side staging range for inherited fds

struct Proc {
  std::string name;
  int index = 0;
  pid_t pid = 0;
  bool created = false;  // its `process` / `fork` statement has run
  bool alive = false;
  int cmd_w = -1, reply_r = -1;      // executor ends
  int cmd_r = -1, reply_w = -1;      // process ends (staged at kHighFd+, CLOEXEC)
  int pidfd = -1;
};

int MoveHigh(int fd) {
  int h = fcntl(fd, F_DUPFD_CLOEXEC, kHighFd);
  close(fd);
  return h;
}

std::string DefaultProcPath() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (exe.parent_path() / "rmaplab-proc").string();
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("SIG{}", sig);
}

std::string ErrnoString(int err) {
  const char* n = strerrorname_np(err);
  return n ? n : fmt::format("E{}", err);
}

class Runner {
 public:
  Runner(const Scenario& sc, const NativeOptions& opt) : sc_(sc), opt_(opt) {
    deadline_ = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(opt.timeout_seconds * 1000));
  }
  ~Runner() { Teardown(); }

  NativeResult Run() {
    NativeResult res;
    res.observation.scenario = std::filesystem::path(sc_.path).filename().string();
    struct utsname u {};
    uname(&u);
    res.observation.source = fmt::format("native:linux-{}", u.release);
    if (!Setup(&res)) return Fail(std::move(res));
    for (const Statement& st : sc_.statements) {
      if (!Execute(st, &res)) return Fail(std::move(res));
    }
    if (!Observe("end", sc_.last_line, &res)) return Fail(std::move(res));
    if (tracer_ && tracer_->Lost() > 0) {
      res.error = fmt::format("the trace lost {} events: kernel counts are not exact",
                              tracer_->Lost());
      return Fail(std::move(res));
    }
    res.status = NativeStatus::kOk;
    return res;
  }

 private:
  template <typename... Args>
  void Verbose(fmt::format_string<Args...> f, Args&&... args) {
    if (!opt_.verbose) return;
    std::string line = fmt::format(f, std::forward<Args>(args)...) + "\n";
    fputs(line.c_str(), stderr);
    fflush(stderr);
  }

  NativeResult Fail(NativeResult res) {
    if (res.status != NativeStatus::kTimeout) res.status = NativeStatus::kFailed;
    return res;
  }

  bool Setup(NativeResult* res) {
    InstallCleanupHandlers();
    std::string proc_path = opt_.proc_path.empty() ? DefaultProcPath() : opt_.proc_path;
    if (access(proc_path.c_str(), X_OK) != 0) {
      res->error = fmt::format("cannot execute {}", proc_path);
      return false;
    }
    // Processes in creation order: `process` and `fork` statements.
    for (const Statement& st : sc_.statements) {
      if (st.kind == OpKind::kProcess || st.kind == OpKind::kFork) {
        Proc p;
        p.name = st.kind == OpKind::kProcess ? st.process : st.name;
        p.index = static_cast<int>(procs_.size());
        index_[p.name] = p.index;
        procs_.push_back(p);
      }
      if (st.kind == OpKind::kFile) files_[st.name] = {static_cast<int>(files_.size()), st.len};
    }
    if (procs_.size() > static_cast<size_t>(kMaxProcs)) {
      res->error = fmt::format("too many processes ({}; at most {})", procs_.size(), kMaxProcs);
      return false;
    }
    for (Proc& p : procs_) {
      int c[2], r[2];
      if (pipe2(c, O_CLOEXEC) || pipe2(r, O_CLOEXEC)) {
        res->error = fmt::format("pipe: {}", strerror(errno));
        return false;
      }
      p.cmd_r = MoveHigh(c[0]);
      p.cmd_w = c[1];
      p.reply_r = r[0];
      p.reply_w = MoveHigh(r[1]);
    }
    // Files: memfds (shmem), every page with distinct content.
    file_fds_.assign(files_.size(), -1);
    for (auto& [name, f] : files_) {
      int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
      if (fd < 0 || ftruncate(fd, static_cast<off_t>(f.second * kPageSize)) != 0) {
        res->error = fmt::format("memfd for file {}: {}", name, strerror(errno));
        return false;
      }
      std::string page(kPageSize, '\0');
      for (uint64_t i = 0; i < f.second; ++i) {
        std::string tag = fmt::format("rmaplab file {} page {}\n", name, i);
        std::copy(tag.begin(), tag.end(), page.begin());
        if (pwrite(fd, page.data(), page.size(), static_cast<off_t>(i * kPageSize)) !=
            static_cast<ssize_t>(page.size())) {
          res->error = fmt::format("writing file {}: {}", name, strerror(errno));
          return false;
        }
      }
      file_fds_[f.first] = MoveHigh(fd);
    }
    // An execute-only mapping gets a protection key on a CPU with PKU, which the model
    // does not know about (docs/model.md).
    {
      std::ifstream cpuinfo("/proc/cpuinfo");
      std::string text((std::istreambuf_iterator<char>(cpuinfo)), {});
      if (text.find(" ospke") != std::string::npos)
        pkey_note_ = "this CPU has protection keys: execute-only mappings cannot be read "
                     "natively, unlike in the model";
    }
    cgroup_ = MemoryCgroup::Create(opt_.memory_limit, &res->notes);
    if (cgroup_) {
      procs_file_ = cgroup_->dir() + "/cgroup.procs";
      Verbose("cgroup {}", cgroup_->dir());
    } else {
      res->notes = "resident memory not bounded (" + res->notes + "); RLIMIT_AS only";
    }
    if (!pkey_note_.empty()) res->notes += (res->notes.empty() ? "" : "; ") + pkey_note_;
    // Start every fresh process (`process` statements) now: it is empty until used, and
    // starting it before tracing keeps execve's own allocations out of the counts.
    std::vector<pid_t> roots;
    for (const Statement& st : sc_.statements) {
      if (st.kind != OpKind::kProcess) continue;
      Proc& p = procs_[index_[st.process]];
      if (!Spawn(p, proc_path, res)) return false;
      roots.push_back(p.pid);
    }
    for (Proc& p : procs_) {  // the process ends now live only in the processes
      close(p.cmd_r);
      close(p.reply_w);
      p.cmd_r = p.reply_w = -1;
    }
    for (int& fd : file_fds_) {
      close(fd);
      fd = -1;
    }
    if (opt_.trace && !roots.empty()) {
      tracer_ = KmemTracer::Start(roots, &res->no_kernel);
      if (tracer_) Verbose("tracing instance {}", tracer_->dir());
    } else if (!opt_.trace) {
      res->no_kernel = "tracing disabled";
    }
    return true;
  }

  bool Spawn(Proc& p, const std::string& proc_path, NativeResult* res) {
    std::string index = std::to_string(p.index);
    pid_t pid = fork();
    if (pid < 0) {
      res->error = fmt::format("fork: {}", strerror(errno));
      return false;
    }
    if (pid == 0) {
      // Child: only async-signal-safe calls from here to execv.
      setpgid(0, group_);
      if (!procs_file_.empty()) {
        int cg = open(procs_file_.c_str(), O_WRONLY | O_CLOEXEC);
        if (cg < 0 || write(cg, "0", 1) != 1) _exit(126);
        close(cg);
      }
      cpu_set_t cpus;
      CPU_ZERO(&cpus);
      CPU_SET(pinned_cpu_, &cpus);
      sched_setaffinity(0, sizeof cpus, &cpus);
      struct rlimit rl = {opt_.address_space_limit, opt_.address_space_limit};
      setrlimit(RLIMIT_AS, &rl);
      for (const Proc& q : procs_) {
        dup2(q.cmd_r, kCmdFdBase + 2 * q.index);
        dup2(q.reply_w, kCmdFdBase + 2 * q.index + 1);
      }
      for (size_t j = 0; j < file_fds_.size(); ++j) dup2(file_fds_[j], kFileFdBase + static_cast<int>(j));
      syscall(SYS_close_range, 3, kFileFdBase - 1, 0);
      syscall(SYS_close_range, kFileFdBase + file_fds_.size(), kCmdFdBase - 1, 0);
      syscall(SYS_close_range, kCmdFdBase + 2 * procs_.size(), ~0U, 0);
      const char* argv[] = {"rmaplab-proc", index.c_str(), nullptr};
      execv(proc_path.c_str(), const_cast<char* const*>(argv));
      _exit(127);
    }
    if (group_ == 0) group_ = pid;
    setpgid(pid, group_);
    p.pid = pid;
    Verbose("process {} pid {}", p.name, pid);
    RegisterPid(pid);
    p.pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    native::Reply r;
    if (!Await(p, &r, res)) return false;
    if (r.op != kOpReady) {
      res->error = fmt::format("process {} did not start", p.name);
      return false;
    }
    p.alive = true;
    return true;
  }

  // Waits for p's reply; fails on p's death or the timeout.
  bool Await(Proc& p, native::Reply* r, NativeResult* res) {
    char* buf = reinterpret_cast<char*>(r);
    size_t got = 0;
    auto step_deadline = Clock::now() + std::chrono::milliseconds(
                                            static_cast<int64_t>(opt_.step_timeout_seconds * 1000));
    while (got < sizeof *r) {
      auto until = std::min(step_deadline, deadline_);
      int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
      if (ms <= 0) {
        res->status = NativeStatus::kTimeout;
        res->error = fmt::format("timeout waiting for process {}", p.name);
        return false;
      }
      struct pollfd fds[2] = {{p.reply_r, POLLIN, 0}, {p.pidfd, POLLIN, 0}};
      int n = poll(fds, p.pidfd >= 0 ? 2 : 1, ms);
      if (n < 0 && errno == EINTR) continue;
      if (fds[0].revents & POLLIN) {
        ssize_t k = read(p.reply_r, buf + got, sizeof *r - got);
        if (k > 0) {
          got += k;
          continue;
        }
      }
      if ((fds[1].revents & POLLIN) || (fds[0].revents & (POLLHUP | POLLERR))) {
        int status = 0;
        pid_t w = waitpid(p.pid, &status, WNOHANG);
        res->error = w == p.pid && WIFSIGNALED(status)
                         ? fmt::format("process {} crashed ({})", p.name, SignalName(WTERMSIG(status)))
                         : fmt::format("process {} died unexpectedly", p.name);
        return false;
      }
    }
    if (r->op == kOpCrash) {
      res->error = fmt::format("process {} crashed ({})", p.name, SignalName(static_cast<int>(r->extra)));
      return false;
    }
    return true;
  }

  bool Send(Proc& p, native::Command c, native::Reply* r, NativeResult* res) {
    if (write(p.cmd_w, &c, sizeof c) != static_cast<ssize_t>(sizeof c)) {
      res->error = fmt::format("cannot send to process {}: {}", p.name, strerror(errno));
      return false;
    }
    return Await(p, r, res);
  }

  static native::Command Cmd(uint32_t op, std::initializer_list<int64_t> args) {
    native::Command c{};
    c.op = op;
    int i = 0;
    for (int64_t a : args) c.a[i++] = a;
    return c;
  }

  static int64_t Addr(uint64_t page) { return static_cast<int64_t>(kArenaBase + page * kPageSize); }
  static int64_t Bytes(uint64_t pages) { return static_cast<int64_t>(pages * kPageSize); }
  static int64_t Prot(const rmaplab::Prot& p) {
    return (p.read ? PROT_READ : 0) | (p.write ? PROT_WRITE : 0) | (p.exec ? PROT_EXEC : 0);
  }

  void Refusal(const Statement& st, int64_t result, NativeResult* res) {
    if (result < 0)
      res->observation.errors.push_back({st.pos.line, OpName(st.kind), ErrnoString(static_cast<int>(-result)), ""});
  }

  bool Execute(const Statement& st, NativeResult* res) {
    native::Reply r{};
    switch (st.kind) {
      case OpKind::kProcess:
        procs_[index_[st.process]].created = true;
        return true;
      case OpKind::kFile:
      case OpKind::kRmap:  // sim only; natively a recorded no-op
        return true;
      case OpKind::kObserve:
        return Observe(st.has_label ? std::optional<std::string>(st.name) : std::nullopt,
                       st.pos.line, res);
      default:
        break;
    }
    Proc& p = procs_[index_[st.process]];
    if (st.pos.line == opt_.inject_crash_line || st.pos.line == opt_.inject_hang_line) {
      bool crash = st.pos.line == opt_.inject_crash_line;
      return Send(p, Cmd(crash ? kOpCrash : kOpSleep, {3600}), &r, res);
    }
    switch (st.kind) {
      case OpKind::kMmap: {
        int64_t flags = (st.shared ? MAP_SHARED : MAP_PRIVATE) |
                        (st.fixed ? MAP_FIXED : MAP_FIXED_NOREPLACE) |
                        (st.populate ? MAP_POPULATE : 0) | (st.noreserve ? MAP_NORESERVE : 0);
        int64_t fd = -1, off = 0;
        if (st.file_backed) {
          fd = kFileFdBase + files_.at(st.file).first;
          off = Bytes(st.pgoff);
        } else {
          flags |= MAP_ANONYMOUS;
        }
        if (!Send(p, Cmd(kOpMmap, {Addr(st.addr), Bytes(st.len), Prot(st.prot), flags, fd, off}), &r, res))
          return false;
        Refusal(st, r.result, res);
        return true;
      }
      case OpKind::kMunmap:
        if (!Send(p, Cmd(kOpMunmap, {Addr(st.addr), Bytes(st.len)}), &r, res)) return false;
        Refusal(st, r.result, res);
        return true;
      case OpKind::kMprotect:
        if (!Send(p, Cmd(kOpMprotect, {Addr(st.addr), Bytes(st.len), Prot(st.prot)}), &r, res))
          return false;
        Refusal(st, r.result, res);
        return true;
      case OpKind::kMremap: {
        int64_t flags = 0, new_addr = 0;
        if (st.has_new_addr) {
          flags = MREMAP_MAYMOVE | MREMAP_FIXED | (st.dontunmap ? MREMAP_DONTUNMAP : 0);
          new_addr = Addr(st.new_addr);
        }
        if (!Send(p, Cmd(kOpMremap, {Addr(st.addr), Bytes(st.len), Bytes(st.new_len), flags, new_addr}), &r, res))
          return false;
        Refusal(st, r.result, res);
        return true;
      }
      case OpKind::kMadvise: {
        static const std::map<Advice, int> kAdvice = {
            {Advice::kDontneed, MADV_DONTNEED}, {Advice::kFree, MADV_FREE},
            {Advice::kCold, MADV_COLD},         {Advice::kPageout, MADV_PAGEOUT},
            {Advice::kDontfork, MADV_DONTFORK}, {Advice::kDofork, MADV_DOFORK},
            {Advice::kWipeonfork, MADV_WIPEONFORK}, {Advice::kKeeponfork, MADV_KEEPONFORK},
            {Advice::kHugepage, MADV_HUGEPAGE}, {Advice::kNohugepage, MADV_NOHUGEPAGE}};
        if (!Send(p, Cmd(kOpMadvise, {Addr(st.addr), Bytes(st.len), kAdvice.at(st.advice)}), &r, res))
          return false;
        Refusal(st, r.result, res);
        return true;
      }
      case OpKind::kRead:
      case OpKind::kWrite:
        if (!Send(p, Cmd(kOpTouch, {Addr(st.addr), static_cast<int64_t>(st.len), st.kind == OpKind::kWrite}), &r, res))
          return false;
        if (r.extra)
          res->observation.errors.push_back({st.pos.line, OpName(st.kind), "", SignalName(static_cast<int>(r.extra))});
        return true;
      case OpKind::kFork: {
        Proc& c = procs_[index_[st.name]];
        if (!Send(p, Cmd(kOpFork, {c.index}), &r, res)) return false;
        if (r.result < 0) {
          res->error = fmt::format("fork of {} failed: {}", p.name, ErrnoString(static_cast<int>(-r.result)));
          return false;
        }
        c.pid = static_cast<pid_t>(r.result);
        RegisterPid(c.pid);
        Verbose("process {} pid {}", c.name, c.pid);
        c.pidfd = static_cast<int>(syscall(SYS_pidfd_open, c.pid, 0));
        native::Reply ready{};
        if (!Await(c, &ready, res)) return false;
        c.created = c.alive = true;
        return true;
      }
      case OpKind::kExit: {
        native::Command c = Cmd(kOpExit, {});
        if (write(p.cmd_w, &c, sizeof c) != static_cast<ssize_t>(sizeof c)) {
          res->error = fmt::format("cannot send to process {}", p.name);
          return false;
        }
        // The pidfd is readable once the process is dead, after exit_mmap().
        struct pollfd fd = {p.pidfd, POLLIN, 0};
        int ms = static_cast<int>(opt_.step_timeout_seconds * 1000);
        if (poll(&fd, 1, ms) != 1) {
          res->status = NativeStatus::kTimeout;
          res->error = fmt::format("timeout waiting for process {} to exit", p.name);
          return false;
        }
        p.alive = false;
        UnregisterPid(p.pid);
        waitpid(p.pid, nullptr, WNOHANG);  // ours if it was a root or an orphan
        p.pid = 0;
        return true;
      }
      default:
        res->error = "unexpected statement";
        return false;
    }
  }

  bool Observe(std::optional<std::string> label, int line, NativeResult* res) {
    ObsPoint point;
    point.label = std::move(label);
    point.line = line;
    std::unordered_map<uint64_t, int64_t> frames;
    const uint64_t lo = kArenaBase, hi = kArenaBase + kArenaPages * kPageSize;
    for (const Proc& p : procs_) {
      if (!p.created) continue;
      ObsProcess op;
      op.name = p.name;
      op.alive = p.alive;
      if (p.alive) {
        std::vector<RawVma> vmas;
        std::vector<RawPage> pages;
        if (!ReadMaps(p.pid, lo, hi, &vmas, &res->error) ||
            !ReadPages(p.pid, lo, hi, &pages, &res->error))
          return false;
        for (const RawVma& v : vmas) {
          ObsVma ov;
          ov.start = (std::max(v.start, lo) - lo) / kPageSize;
          ov.end = (std::min(v.end, hi) - lo) / kPageSize;
          ov.prot = v.perms.substr(0, 3);
          ov.shared = v.perms.size() > 3 && v.perms[3] == 's';
          ov.backing = Backing(v);
          op.vmas.push_back(std::move(ov));
        }
        for (const RawPage& pg : pages) {
          ObsPage o;
          o.addr = (pg.vaddr - lo) / kPageSize;
          if (pg.zero) {
            o.frame = -1;
            o.type = "zero";
          } else {
            auto [it, fresh] = frames.emplace(pg.pfn, static_cast<int64_t>(frames.size()));
            o.frame = it->second;
            o.type = pg.file ? "file" : "anon";
            o.mapcount = pg.mapcount;
            o.exclusive = pg.exclusive;
          }
          op.pages.push_back(o);
        }
      }
      point.processes.push_back(std::move(op));
    }
    if (tracer_) {
      KmemCounts k = tracer_->Read();
      point.kernel = std::map<std::string, ObsCount>{
          {"anon_vma", {k.anon_vma_alloc, k.anon_vma_free}},
          {"anon_vma_chain", {k.avc_alloc, k.avc_free}}};
    }
    res->observation.observations.push_back(std::move(point));
    return true;
  }

  static std::string Backing(const RawVma& v) {
    const std::string kMemfd = "/memfd:";
    if (v.path.rfind(kMemfd, 0) == 0) {
      std::string name = v.path.substr(kMemfd.size());
      const std::string kDeleted = " (deleted)";
      if (name.size() >= kDeleted.size() &&
          name.compare(name.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0)
        name.resize(name.size() - kDeleted.size());
      return fmt::format("file:{}@{}", name, v.offset / kPageSize);
    }
    if (v.path == "/dev/zero (deleted)" || v.path.rfind("/SYSV", 0) == 0) return "shmem";
    if (v.path.empty() && v.inode == 0) return "anon";
    return fmt::format("file:{}@{}", v.path, v.offset / kPageSize);
  }

  void Teardown() {
    if (group_ > 0) kill(-group_, SIGKILL);
    for (Proc& p : procs_) {
      if (p.pid > 0) {
        kill(p.pid, SIGKILL);
        UnregisterPid(p.pid);
      }
    }
    // In creation order every process is by now our child (we are a child subreaper and
    // its parent was reaped before it): reap them all so that nothing is left behind.
    for (Proc& p : procs_) {
      if (p.pid > 0) waitpid(p.pid, nullptr, 0);
      p.pid = 0;
      for (int* fd : {&p.cmd_w, &p.reply_r, &p.cmd_r, &p.reply_w, &p.pidfd})
        if (*fd >= 0) close(*fd), *fd = -1;
    }
    if (group_ > 0) kill(-group_, SIGKILL);
    for (int fd : file_fds_)
      if (fd >= 0) close(fd);
    file_fds_.clear();
    cgroup_.reset();
    tracer_.reset();
  }

  const Scenario& sc_;
  const NativeOptions& opt_;
  Clock::time_point deadline_;
  std::vector<Proc> procs_;
  std::map<std::string, int> index_;
  std::map<std::string, std::pair<int, uint64_t>> files_;  // name -> (index, pages)
  std::vector<int> file_fds_;
  std::unique_ptr<KmemTracer> tracer_;
  std::unique_ptr<MemoryCgroup> cgroup_;
  std::string procs_file_;
  std::string pkey_note_;
  pid_t group_ = 0;
  int pinned_cpu_ = 0;
};

}  // namespace

bool NativeAvailable(std::string* why) {
  if (geteuid() != 0) {
    *why = "not root: /proc/kpagecount and pagemap PFNs need CAP_SYS_ADMIN";
    return false;
  }
  if (access("/proc/kpagecount", R_OK) != 0 || access("/proc/kpageflags", R_OK) != 0) {
    *why = "/proc/kpagecount or /proc/kpageflags is not readable";
    return false;
  }
  return true;
}

NativeResult RunNative(const Scenario& scenario, const NativeOptions& options) {
  Runner runner(scenario, options);
  return runner.Run();
}

}  // namespace rmaplab::native
