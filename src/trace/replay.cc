#include "trace/replay.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "core/model.h"
#include "rmap/registry.h"

namespace rmaplab::trace {
namespace {

constexpr uint64_t kCloneVm = 0x100;
constexpr int kMapShared = 0x01, kMapSharedValidate = 0x03, kMapFixed = 0x10,
              kMapAnonymous = 0x20, kMapGrowsdown = 0x100, kMapLocked = 0x2000,
              kMapNoreserve = 0x4000, kMapPopulate = 0x8000, kMapStack = 0x20000,
              kMapHugetlb = 0x40000, kMapFixedNoreplace = 0x100000;
constexpr int kMremapMaymove = 1, kMremapFixed = 2, kMremapDontunmap = 4;

Vpn PageDown(uint64_t a) { return a >> 12; }
Vpn PageUp(uint64_t a) { return (a + 4095) >> 12; }

std::optional<MadviseBehavior> Advice(int64_t a) {
  switch (a) {
    case 0: return MadviseBehavior::kNormal;
    case 1: return MadviseBehavior::kRandom;
    case 2: return MadviseBehavior::kSequential;
    case 3: return MadviseBehavior::kWillneed;
    case 4: return MadviseBehavior::kDontneed;
    case 8: return MadviseBehavior::kFree;
    case 10: return MadviseBehavior::kDontfork;
    case 11: return MadviseBehavior::kDofork;
    case 14: return MadviseBehavior::kHugepage;
    case 15: return MadviseBehavior::kNohugepage;
    case 16: return MadviseBehavior::kDontdump;
    case 17: return MadviseBehavior::kDodump;
    case 18: return MadviseBehavior::kWipeonfork;
    case 19: return MadviseBehavior::kKeeponfork;
    case 20: return MadviseBehavior::kCold;
    case 21: return MadviseBehavior::kPageout;
    default: return std::nullopt;
  }
}

class Replayer {
 public:
  Replayer(const Trace& t, const ReplayOptions& opt, Scheme* scheme, ReplayResult* res)
      : t_(t), opt_(opt), model_(scheme), res_(res) {
    model_.set_zero_page(t.zero_page);  // as the recording kernel did
  }

  void Run() {
    size_t n = t_.events.size();
    // A kernel-mode fault of a task whose next event is its exec happened inside execve
    // (copying the arguments, clearing the bss tail): its result is in the exec layout.
    in_execve_.assign(n, false);
    std::set<int32_t> exec_next;
    for (size_t i = n; i-- > 0;) {
      const Event& e = t_.events[i];
      if (e.kind == EventKind::kKmem) continue;
      if (e.kind == EventKind::kExec) {
        exec_next.insert(e.pid);
      } else if (e.kind == EventKind::kFault && exec_next.count(e.pid)) {
        // Only kernel-mode faults: a user-mode fault just before execve is the old
        // program's own (a forked child touching its stack), and it can allocate.
        if (e.user) exec_next.erase(e.pid);
        else in_execve_[i] = true;
      } else {
        exec_next.erase(e.pid);
      }
    }
    size_t next_point = 0;
    for (size_t i = 0; i < n; ++i) {
      const Event& e = t_.events[i];
      ++res_->events;
      if (in_execve_[i]) {
        Note("fault inside execve (its result is in the exec layout)");
        continue;
      }
      if (opt_.by_task || opt_.explain) {
        auto [av, avc] = Allocs();
        Apply(e);
        auto [av2, avc2] = Allocs();
        TaskFidelity& tf = res_->tasks[e.pid];
        if (opt_.explain && opt_.explain_pid == e.pid) Explain(i, e, av2 - av, avc2 - avc);
        tf.predicted_av += av2 - av;
        tf.predicted_avc += avc2 - avc;
        if (e.kind == EventKind::kKmem && e.alloc) ++(e.anon_vma ? tf.recorded_av : tf.recorded_avc);
        if (e.kind == EventKind::kExec)
          tf.programs += (tf.programs.empty() ? "" : " > ") + t_.layouts[e.layout].program;
      } else {
        Apply(e);
      }
      bool walk = opt_.reclaim_every > 0 && (i + 1) % opt_.reclaim_every == 0;
      if (opt_.reclaim_points > 0 && next_point < static_cast<size_t>(opt_.reclaim_points) &&
          i + 1 == (next_point + 1) * n / (opt_.reclaim_points + 1)) {
        ++next_point;
        walk = true;
      }
      if (walk) Oracle::WalkAll(model_, fmt::format("event {}", i), &res_->reclaim);
      if (e.kind != EventKind::kKmem) Sample();
      if ((i & 1023) == 0 && opt_.progress) opt_.progress(i, n);
    }
    Sample();
    if (opt_.progress) opt_.progress(n, n);
    if (opt_.reclaim_at_end) Oracle::WalkAll(model_, "end", &res_->reclaim);
    res_->objects = model_.scheme().Objects();
    res_->counters = model_.scheme().Counters();
    res_->live_bytes = LiveBytes();
    auto it = res_->objects.find("anon_vma");
    if (it != res_->objects.end()) res_->predicted_av_allocs = it->second.alloc;
    it = res_->objects.find("anon_vma_chain");
    if (it != res_->objects.end()) res_->predicted_avc_allocs = it->second.alloc;
  }

 private:
  std::pair<int64_t, int64_t> Allocs() const {
    auto objs = model_.scheme().Objects();
    auto av = objs.find("anon_vma"), avc = objs.find("anon_vma_chain");
    return {av == objs.end() ? 0 : av->second.alloc, avc == objs.end() ? 0 : avc->second.alloc};
  }

  int64_t LiveBytes() const {
    int64_t b = 0;
    for (const auto& [name, s] : model_.scheme().Objects()) b += s.live * s.object_bytes;
    return b;
  }

  void Sample() {
    res_->peak_bytes = std::max(res_->peak_bytes, LiveBytes());
    int64_t vmas = 0;
    for (const auto& mm : model_.mms()) vmas += mm->map_count();
    res_->max_vmas = std::max(res_->max_vmas, vmas);
  }

  // Counts a reason; the first occurrence's example is kept for the report.
  void Note(const std::string& why, const std::string& example = "") {
    if (res_->unmodelled[why]++ == 0 && !example.empty()) res_->examples[why] = example;
  }

  // One event of the explained task: the model's allocations for it, the kernel's, and the
  // running difference (kernel minus model), so a divergence shows where it starts.
  void Explain(size_t i, const Event& e, int64_t av, int64_t avc) {
    std::string what;
    switch (e.kind) {
      case EventKind::kSyscall:
        what = fmt::format("syscall {}({:#x}, {:#x}, {:#x}, {:#x}) = {:#x}", e.nr, e.args[0],
                           e.args[1], e.args[2], e.args[3], e.ret);
        break;
      case EventKind::kFork: what = fmt::format("clone {} flags {:#x}", e.child, e.clone_flags); break;
      case EventKind::kExec: what = "exec " + t_.layouts[e.layout].program; break;
      case EventKind::kExit: what = "exit"; break;
      case EventKind::kFault:
        what = fmt::format("{} {} fault at {:#x}{}", e.user ? "user" : "kernel",
                           e.write ? "write" : "read", e.addr, in_execve_[i] ? " (in execve)" : "");
        break;
      case EventKind::kKmem:
        what = fmt::format("kernel {} {}", e.alloc ? "allocates" : "frees",
                           e.anon_vma ? "an anon_vma" : "an anon_vma_chain");
        if (e.alloc) ++(e.anon_vma ? explain_av_ : explain_avc_);
        break;
    }
    explain_av_ -= av;
    explain_avc_ -= avc;
    // Faults that allocate nothing and kernel frees do not move the balance.
    if ((e.kind == EventKind::kFault && !av && !avc) || (e.kind == EventKind::kKmem && !e.alloc))
      return;
    opt_.explain(fmt::format("{:>9} {:<60} model +{} +{}  kernel-model {:+} {:+}", i, what, av,
                             avc, explain_av_, explain_avc_));
  }

  // The mm a task uses, or null (before its first exec, or unknown).
  Mm* MmOf(int32_t pid) {
    auto it = task_mm_.find(pid);
    return it == task_mm_.end() ? nullptr : it->second;
  }

  void Release(int32_t pid) {
    Mm* mm = MmOf(pid);
    task_mm_.erase(pid);
    if (!mm) return;
    if (--users_[mm] == 0 && mm->alive) model_.Exit(*mm);
  }

  void Apply(const Event& e) {
    switch (e.kind) {
      case EventKind::kKmem:
        if (e.alloc) ++(e.anon_vma ? res_->recorded_av_allocs : res_->recorded_avc_allocs);
        return;
      case EventKind::kExec:
        ++res_->execs;
        Exec(e);
        return;
      case EventKind::kFork: {
        ++res_->forks;
        Mm* mm = MmOf(e.pid);
        if (!mm) return;  // a task of the recorder before the first exec
        Mm* child = (e.clone_flags & kCloneVm) ? mm : model_.Fork(*mm, fmt::format("{}", e.child));
        task_mm_[e.child] = child;
        ++users_[child];
        if (!(e.clone_flags & kCloneVm)) {
          fds_[e.child] = fds_[e.pid];
          auto att = shm_attached_.find(mm);  // attaches are inherited (VMAs copied)
          if (att != shm_attached_.end()) shm_attached_[child] = att->second;
        }
        return;
      }
      case EventKind::kExit:
        ++res_->exits;
        Release(e.pid);
        return;
      case EventKind::kFault: {
        ++res_->faults;
        Mm* mm = MmOf(e.pid);
        if (!mm) return Note("fault before the task's first exec");
        Touch r = model_.Access(*mm, PageDown(e.addr), e.write);
        if (r != Touch::kOk)
          Note(e.user ? "user fault the model refuses" : "kernel fault the model refuses",
               fmt::format("task {} {} at {:#x}", e.pid, e.write ? "writes" : "reads", e.addr));
        return;
      }
      case EventKind::kSyscall:
        ++res_->syscalls;
        Syscall(e);
        return;
    }
  }

  // A new program: its layout as execve left it, then its present pages.
  void Exec(const Event& e) {
    const ExecLayout& l = t_.layouts[e.layout];
    Release(e.pid);
    Mm* mm = model_.NewMm(fmt::format("{}:{}", e.pid, l.program));
    task_mm_[e.pid] = mm;
    users_[mm] = 1;
    fds_[e.pid].clear();
    mm->start_brk = mm->brk = PageUp(l.start_brk);
    for (const LayoutVma& v : l.vmas) {
      if (v.name == "[vsyscall]") continue;
      VmFlags f = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
      if (v.perms[0] == 'r') f |= VM_READ;
      if (v.perms[1] == 'w') f |= VM_WRITE;
      if (v.perms[2] == 'x') f |= VM_EXEC;
      if (v.perms[3] == 's') f |= VM_SHARED | VM_MAYSHARE;
      if ((f & (VM_WRITE | VM_SHARED)) == VM_WRITE) f |= VM_ACCOUNT;
      if (v.name == "[stack]") f |= VM_GROWSDOWN;
      if (v.name == "[vvar]" || v.name == "[vvar_vclock]" || v.name == "[vdso]")
        f = (f & ~VM_ACCOUNT) | VM_DONTEXPAND | VM_PFNMAP;
      File* file = nullptr;
      Pgoff pgoff = PageDown(v.start);
      if (f & VM_PFNMAP) {
        // install_special_mapping(): the VMA has vm_ops, so it is not anonymous; its
        // pages are the kernel's own, stood in for by a pseudo file of that name (a read
        // fault there never prepares an anon_vma, zero page or not).
        file = model_.FileByName(v.name, (v.end - v.start) / 4096);
        pgoff = 0;
      } else if (v.file >= 0) {
        const TraceFile& tf = t_.files[v.file];
        uint64_t need = v.offset / 4096 + (v.end - v.start) / 4096;
        file = model_.FileByName(tf.path, std::max(tf.size_pages, need));
        pgoff = v.offset / 4096;
      }
      if (!model_.InstallVma(*mm, PageDown(v.start), PageDown(v.end), f, file, pgoff))
        Note("exec layout VMA overlaps");
    }
    for (const LayoutPage& p : l.pages) {
      Touch r = model_.Access(*mm, PageDown(p.addr), p.type == 'a');
      if (r != Touch::kOk) Note("exec layout page the model refuses");
    }
  }

  // The synthetic file behind (process, fd): the trace does not say which file an fd is.
  File* FdFile(int32_t pid, int64_t fd, uint64_t pages) {
    auto& table = fds_[pid];
    auto it = table.find(fd);
    if (it == table.end()) it = table.emplace(fd, fmt::format("fd:{}:{}:{}", pid, fd, next_file_++)).first;
    return model_.FileByName(it->second, pages);
  }

  void Syscall(const Event& e) {
    Mm* mm = MmOf(e.pid);
    if (!mm) return;
    if (e.nr == kSysClose) {
      if (e.ret == 0) fds_[e.pid].erase(e.args[0]);
      return;
    }
    if (e.ret < 0 && e.ret > -4096) {
      ++res_->unmodelled["refused syscalls (not replayed)"];
      return;
    }
    const int64_t* a = e.args;
    int err = 0;
    switch (e.nr) {
      case kSysMmap: {
        MmapArgs m;
        m.addr = PageDown(static_cast<uint64_t>(e.ret));
        m.len = PageUp(static_cast<uint64_t>(a[1]));
        m.read = a[2] & 1;
        m.write = a[2] & 2;
        m.exec = a[2] & 4;
        int flags = static_cast<int>(a[3]);
        m.shared = (flags & kMapSharedValidate) == kMapShared || (flags & kMapSharedValidate) == kMapSharedValidate;
        m.fixed = (flags & kMapFixed) && !(flags & kMapFixedNoreplace);
        // A kernel-chosen address is free: equivalent to MAP_FIXED_NOREPLACE there.
        m.populate = flags & kMapPopulate;
        m.noreserve = flags & kMapNoreserve;
        m.stack = flags & kMapStack;
        m.growsdown = flags & kMapGrowsdown;
        m.locked = flags & kMapLocked;
        if (flags & kMapHugetlb) ++res_->unmodelled["MAP_HUGETLB mapping replayed as a normal one"];
        if (!(flags & kMapAnonymous)) {
          m.pgoff = static_cast<uint64_t>(a[5]) / 4096;
          m.file = FdFile(e.pid, a[4], m.pgoff + m.len);
          ++res_->unmodelled["file mmap: file identified by (process, fd)"];
        }
        err = model_.Mmap(*mm, m);
        break;
      }
      case kSysMunmap:
        err = model_.Munmap(*mm, PageDown(a[0]), PageUp(a[1]));
        break;
      case kSysMprotect:
        err = model_.Mprotect(*mm, PageDown(a[0]), PageUp(a[1]), a[2] & 1, a[2] & 2, a[2] & 4);
        break;
      case kSysMadvise: {
        auto b = Advice(a[2]);
        if (!b) {
          ++res_->unmodelled[fmt::format("madvise advice {} not modelled", a[2])];
          return;
        }
        err = model_.Madvise(*mm, PageDown(a[0]), PageUp(a[1]), *b);
        break;
      }
      case kSysMremap: {
        int flags = static_cast<int>(a[3]);
        uint64_t old_addr = a[0], result = e.ret;
        Vpn old_len = PageUp(a[1]), new_len = PageUp(a[2]);
        if (result != old_addr || (flags & (kMremapFixed | kMremapDontunmap)))
          err = model_.Mremap(*mm, PageDown(old_addr), old_len, new_len,
                              Model::kMremapMaymove | Model::kMremapFixed |
                                  ((flags & kMremapDontunmap) ? Model::kMremapDontunmap : 0),
                              PageDown(result));
        else
          err = model_.Mremap(*mm, PageDown(old_addr), old_len, new_len, 0, 0);
        break;
      }
      case kSysShmget:  // the segment's size, for its attaches
        shm_size_.emplace(e.ret, PageUp(static_cast<uint64_t>(a[1])));
        return;
      case kSysShmat: {  // do_shmat(): a shared mapping of the segment's file at the result
        auto size = shm_size_.find(a[0]);
        if (size == shm_size_.end() || size->second == 0) {
          ++res_->unmodelled["shmat of a segment created before the recording (size unknown)"];
          return;
        }
        constexpr int64_t kShmRdonly = 010000, kShmExec = 0100000;
        MmapArgs m;
        m.addr = PageDown(static_cast<uint64_t>(e.ret));
        m.len = size->second;
        m.read = true;
        m.write = !(a[2] & kShmRdonly);
        m.exec = a[2] & kShmExec;
        m.shared = true;
        m.fixed = true;  // SHM_REMAP or a free kernel-chosen address
        m.file = model_.FileByName(fmt::format("sysv-shm:{}", a[0]), m.len);
        err = model_.Mmap(*mm, m);
        if (!err) shm_attached_[mm][m.addr] = m.len;
        break;
      }
      case kSysShmdt: {  // unmaps the attach that starts at the address
        auto& attached = shm_attached_[mm];
        auto it = attached.find(PageDown(a[0]));
        if (it == attached.end()) {
          ++res_->unmodelled["shmdt of an attach the replay did not see"];
          return;
        }
        err = model_.Munmap(*mm, it->first, it->second);
        attached.erase(it);
        break;
      }
      case kSysBrk: {
        Vpn want = PageUp(static_cast<uint64_t>(e.ret));
        if (want < mm->start_brk) return;  // a query or a refused move
        err = model_.Brk(*mm, mm->brk, want);
        break;
      }
      default:
        return;
    }
    if (err) ++res_->unmodelled[fmt::format("syscall {} succeeded natively, model: {}", e.nr, ErrnoName(err))];
  }

  const Trace& t_;
  const ReplayOptions& opt_;
  Model model_;
  ReplayResult* res_;
  std::map<int32_t, Mm*> task_mm_;
  std::map<Mm*, int> users_;
  std::map<int32_t, std::map<int64_t, std::string>> fds_;
  uint64_t next_file_ = 0;
  std::map<int64_t, Vpn> shm_size_;                   // SysV segment id -> pages
  std::map<Mm*, std::map<Vpn, Vpn>> shm_attached_;   // attaches: start -> pages
  std::vector<bool> in_execve_;
  int64_t explain_av_ = 0, explain_avc_ = 0;
};

}  // namespace

ReplayResult Replay(const Trace& trace, const ReplayOptions& options) {
  ReplayResult res;
  res.scheme = options.scheme;
  std::unique_ptr<Scheme> scheme = CreateScheme(options.scheme);
  if (!scheme) {
    res.unmodelled["unknown scheme"] = 1;
    return res;
  }
  {
    Replayer r(trace, options, scheme.get(), &res);
    r.Run();
  }
  return res;
}

}  // namespace rmaplab::trace
