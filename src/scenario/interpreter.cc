#include "scenario/interpreter.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <unordered_map>

#include "core/model.h"
#include "rmap/registry.h"

namespace rmaplab {
namespace {

MadviseBehavior ToBehavior(Advice a) {
  switch (a) {
    case Advice::kDontneed: return MadviseBehavior::kDontneed;
    case Advice::kFree: return MadviseBehavior::kFree;
    case Advice::kCold: return MadviseBehavior::kCold;
    case Advice::kPageout: return MadviseBehavior::kPageout;
    case Advice::kDontfork: return MadviseBehavior::kDontfork;
    case Advice::kDofork: return MadviseBehavior::kDofork;
    case Advice::kWipeonfork: return MadviseBehavior::kWipeonfork;
    case Advice::kKeeponfork: return MadviseBehavior::kKeeponfork;
    case Advice::kHugepage: return MadviseBehavior::kHugepage;
    case Advice::kNohugepage: return MadviseBehavior::kNohugepage;
  }
  return MadviseBehavior::kCold;
}

std::string ProtString(VmFlags f) {
  std::string s = "---";
  if (f & VM_READ) s[0] = 'r';
  if (f & VM_WRITE) s[1] = 'w';
  if (f & VM_EXEC) s[2] = 'x';
  return s;
}

class Interpreter {
 public:
  Interpreter(const Scenario& sc, const SimOptions& opt, Scheme* scheme)
      : sc_(sc), opt_(opt), model_(scheme) {
    model_.set_zero_page(opt.zero_page);
  }

  void Run(SimResult* res) {
    Observation& obs = res->observation;
    obs.scenario = std::filesystem::path(sc_.path).filename().string();
    obs.source = "sim:" + opt_.scheme;
    std::unique_ptr<IncrementalOracle> inc;
    if (opt_.check_each_statement && opt_.incremental_oracle)
      inc = std::make_unique<IncrementalOracle>(model_);
    for (const Statement& st : sc_.statements) {
      const Fingerprint before = inc ? Structure() : Fingerprint{};
      Execute(st, res);
      ++res->statements;
      auto where = [&] { return fmt::format("{}:{} ({})", obs.scenario, st.pos.line, OpName(st.kind)); };
      if (inc) {
        bool touch = st.kind == OpKind::kRead || st.kind == OpKind::kWrite;
        inc->Check(where(), !touch || Structure() != before, &res->oracle);
      } else if (opt_.check_each_statement) {
        Oracle::CheckAll(model_, where(), &res->oracle);
      }
      if (opt_.reclaim_at_observe && st.kind == OpKind::kObserve)
        Oracle::WalkAll(model_, where() + " reclaim", &res->reclaim);
      res->peak_bytes = std::max(res->peak_bytes, LiveBytes());
    }
    if (inc) inc->Check(fmt::format("{}: end", obs.scenario), true, &res->oracle);
    obs.observations.push_back(Observe(std::string("end"), sc_.last_line));
    if (opt_.on_observe) opt_.on_observe(model_, obs.observations.back());
    if (opt_.reclaim_at_end)
      Oracle::WalkAll(model_, fmt::format("{}: end reclaim", obs.scenario), &res->reclaim);
    res->objects = model_.scheme().Objects();
    res->counters = model_.scheme().Counters();
    res->live_bytes = LiveBytes();
    res->core = model_.stats();
    res->core_bytes = model_.MemoryBytes();
  }

 private:
  int64_t LiveBytes() const {
    int64_t b = 0;
    for (const auto& [name, s] : model_.scheme().Objects()) b += s.live * s.object_bytes;
    return b;
  }

  Mm& Proc(const std::string& name) { return *procs_.at(name); }
  Vpn V(uint64_t arena_page) const { return kArenaBaseVpn + arena_page; }

  void Refused(const Statement& st, int err, SimResult* res) {
    if (err) res->observation.errors.push_back({st.pos.line, OpName(st.kind), ErrnoName(err), ""});
  }

  void Execute(const Statement& st, SimResult* res) {
    switch (st.kind) {
      case OpKind::kProcess:
        procs_[st.process] = model_.NewMm(st.process);
        return;
      case OpKind::kFile:
        files_[st.name] = model_.NewFile(st.name, st.len);
        return;
      case OpKind::kMmap: {
        MmapArgs a;
        a.addr = V(st.addr);
        a.len = st.len;
        a.read = st.prot.read;
        a.write = st.prot.write;
        a.exec = st.prot.exec;
        a.shared = st.shared;
        a.file = st.file_backed ? files_.at(st.file) : nullptr;
        a.pgoff = st.pgoff;
        a.fixed = st.fixed;
        a.populate = st.populate;
        a.noreserve = st.noreserve;
        Refused(st, model_.Mmap(Proc(st.process), a), res);
        return;
      }
      case OpKind::kMunmap:
        Refused(st, model_.Munmap(Proc(st.process), V(st.addr), st.len), res);
        return;
      case OpKind::kMprotect:
        Refused(st, model_.Mprotect(Proc(st.process), V(st.addr), st.len, st.prot.read,
                                    st.prot.write, st.prot.exec), res);
        return;
      case OpKind::kMremap: {
        int flags = 0;
        if (st.has_new_addr) flags |= Model::kMremapMaymove | Model::kMremapFixed;
        if (st.dontunmap) flags |= Model::kMremapDontunmap;
        Refused(st, model_.Mremap(Proc(st.process), V(st.addr), st.len, st.new_len, flags,
                                  st.has_new_addr ? V(st.new_addr) : 0), res);
        return;
      }
      case OpKind::kMadvise:
        Refused(st, model_.Madvise(Proc(st.process), V(st.addr), st.len, ToBehavior(st.advice)),
                res);
        return;
      case OpKind::kRead:
      case OpKind::kWrite: {
        Mm& mm = Proc(st.process);
        for (uint64_t i = 0; i < st.len; ++i) {
          Touch t = model_.Access(mm, V(st.addr + i), st.kind == OpKind::kWrite);
          if (t != Touch::kOk) {
            res->observation.errors.push_back(
                {st.pos.line, OpName(st.kind), "", t == Touch::kSigbus ? "SIGBUS" : "SIGSEGV"});
            break;
          }
        }
        return;
      }
      case OpKind::kFork:
        procs_[st.name] = model_.Fork(Proc(st.process), st.name);
        return;
      case OpKind::kExit:
        model_.Exit(Proc(st.process));
        return;
      case OpKind::kRmap:
        Walk(st, res);
        return;
      case OpKind::kObserve:
        res->observation.observations.push_back(
            Observe(st.has_label ? std::optional<std::string>(st.name) : std::nullopt,
                    st.pos.line));
        if (opt_.on_observe) opt_.on_observe(model_, res->observation.observations.back());
        return;
    }
  }

  void Walk(const Statement& st, SimResult* res) {
    if (!res->observation.walks) res->observation.walks.emplace();
    ObsWalk w;
    w.line = st.pos.line;
    Mm& mm = Proc(st.process);
    Pfn pfn = mm.pt.Get(V(st.addr));
    if (pfn != kNoPfn && pfn != kZeroPfn &&
        model_.folios().Get(pfn).kind == FolioKind::kAnon) {
      WalkResult r = Oracle::Walk(model_, model_.folios().Get(pfn));
      for (const auto& [m, addr] : r.found) w.found.push_back({m->name, addr - kArenaBaseVpn});
      w.visited = r.candidates;
      w.false_positives = r.false_positives;
    }
    res->observation.walks->push_back(std::move(w));
  }

  // The processes, VMAs and pages of the arena at an observation point.
  void Snapshot(ObsPoint* p) const {
    std::unordered_map<Pfn, int64_t> frames;
    for (const auto& mmp : model_.mms()) {
      const Mm& mm = *mmp;
      ObsProcess op;
      op.name = mm.name;
      op.alive = mm.alive;
      Vpn lo = kArenaBaseVpn, hi = kArenaBaseVpn + kArenaPages;
      for (const auto& [start, v] : mm.vmas) {
        if (v->vm_end <= lo || v->vm_start >= hi) continue;
        ObsVma ov;
        ov.start = v->vm_start - lo;
        ov.end = v->vm_end - lo;
        ov.prot = ProtString(v->vm_flags);
        ov.shared = v->vm_flags & VM_MAYSHARE;
        if (!v->vm_file)
          ov.backing = "anon";
        else if (v->vm_file->shmem_anon)
          ov.backing = "shmem";
        else
          ov.backing = fmt::format("file:{}@{}", v->vm_file->name, v->vm_pgoff);
        op.vmas.push_back(std::move(ov));
      }
      mm.pt.ForEach(lo, hi, [&](Vpn addr, Pfn pfn) {
        ObsPage pg;
        pg.addr = addr - lo;
        if (pfn == kZeroPfn) {
          pg.frame = -1;
          pg.type = "zero";
          pg.mapcount = 0;
          pg.exclusive = false;
        } else {
          const Folio& f = model_.folios().Get(pfn);
          auto [it, fresh] = frames.emplace(pfn, static_cast<int64_t>(frames.size()));
          pg.frame = it->second;
          pg.type = f.kind == FolioKind::kAnon ? "anon" : "file";
          pg.mapcount = f.mapcount;
          pg.exclusive = f.mapcount == 1;  // pagemap PM_MMAP_EXCLUSIVE
        }
        op.pages.push_back(pg);
      });
      p->processes.push_back(std::move(op));
    }
  }

  ObsPoint Observe(std::optional<std::string> label, int line) {
    ObsPoint p;
    p.label = std::move(label);
    p.line = line;
    if (opt_.observation_state) Snapshot(&p);  // cost-only runs keep just the counts
    std::map<std::string, ObsCount> kernel;
    for (const auto& [name, s] : model_.scheme().Objects()) kernel[name] = {s.alloc, s.free};
    p.kernel = std::move(kernel);
    return p;
  }

  // What a statement may change besides pages: VMAs and the scheme's objects.
  struct Fingerprint {
    int64_t vma_alloc = 0, vma_free = 0, vma_updates = 0, objects = 0;
    bool operator==(const Fingerprint&) const = default;
  };
  Fingerprint Structure() const {
    Fingerprint f{model_.stats().vma_alloc, model_.stats().vma_free, model_.stats().vma_updates, 0};
    for (const auto& [name, s] : model_.scheme().Objects()) f.objects += s.alloc + s.free;
    return f;
  }

  const Scenario& sc_;
  const SimOptions& opt_;
  Model model_;
  std::map<std::string, Mm*> procs_;
  std::map<std::string, File*> files_;
};

}  // namespace

bool RunSim(const Scenario& scenario, const SimOptions& options, SimResult* result,
            std::string* error) {
  std::unique_ptr<Scheme> scheme = CreateScheme(options.scheme);
  if (!scheme) {
    *error = fmt::format("unknown scheme '{}' (see 'rmaplab schemes')", options.scheme);
    return false;
  }
  {
    Interpreter interp(scenario, options, scheme.get());
    interp.Run(result);
  }
  return true;
}

}  // namespace rmaplab
