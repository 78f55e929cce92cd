// Property tests of the model (core/model.h) under the `linux` scheme: random sequences
// of system calls, touches, forks and exits over a few processes in a small address
// window (so that merges and splits happen all the time). After every operation:
//  1. the oracle finds every rmap walk complete and every core/scheme invariant true;
//  2. an independent per-page reference model (mapped? r/w/x? shared? which file and
//     offset? madvise flags? what content?) agrees with the model page by page, and
//     the errno agrees with the reference's;
//  3. every private anonymous page has the vm_pgoff the kernel keeps for it: its own
//     virtual page number, unless it was mremap()ed while its VMA was faulted;
//  4. no struct leaks: live VMA structs and AVCs are exactly those in the trees and
//     chains, and once every process has exited no anon_vma, AVC or anon folio is left.
// Content is tracked as "zero page", "the file's page", "the value of write #N" or
// "unknown" (after MADV_FREE); two PTEs map one folio exactly when their contents are
// the same write.
//
// The reference implements only outcomes that are certain for Linux 6.18. Where an
// outcome depends on VMA boundaries (mremap resize rules), it reads them from the
// model's state before the operation.
#include "core/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/mm.h"
#include "rmap/oracle.h"
#include "rmap/registry.h"
#include "rmap/scheme.h"
#include "rmap/schemes/linux/linux_scheme.h"

#ifdef RMAPLAB_HAVE_RAPIDCHECK
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#endif

namespace rmaplab {
namespace {

constexpr Vpn kBase = 0x100000000ULL;  // window page 0
constexpr uint64_t kFilePages = 80;    // named files; mappings may run past EOF

// One random operation, decoded by Harness::Apply (fields are taken modulo ranges).
struct Op {
  int kind = 0, proc = 0, a = 0, len = 0, b = 0, variant = 0;
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  return os << "{" << op.kind << "," << op.proc << "," << op.a << "," << op.len << ","
            << op.b << "," << op.variant << "}";
}

struct Config {
  uint64_t window = 64;  // pages
  bool mremap = true;
  bool fork_exit = true;
  size_t max_alive = 4;
  size_t max_procs = 10;  // processes ever created
};

enum class Content : uint8_t { kZero, kFile, kWrite, kUnknown };

// The reference state of one page of one process.
struct RefPage {
  bool mapped = false;
  bool r = false, w = false, x = false, shared = false, noreserve = false;
  bool dontcopy = false, wipeonfork = false, hugepage = false, nohugepage = false;
  File* file = nullptr;  // named file or shmem object; null for private anonymous
  Pgoff pgoff = 0;       // expected linear_page_index(vma, page)
  bool pgoff_either = false;  // moved unfaulted-or-faulted: pgoff or the page itself
  Pgoff pgoff_alt = 0;
  Content content = Content::kZero;
  uint64_t write = 0;  // kWrite: which write
  bool private_anon() const { return !file; }
};

struct RefProc {
  Mm* mm = nullptr;
  bool alive = true;
  std::vector<RefPage> pages;
};

class Harness {
 public:
  explicit Harness(const Config& cfg)
      : cfg_(cfg), scheme_(CreateScheme("linux")), model_(new Model(scheme_.get())) {
    files_[0] = model_->NewFile("F0", kFilePages);
    files_[1] = model_->NewFile("F1", kFilePages);
    NewProc(model_->NewMm("P0"));
  }
  ~Harness() { model_.reset(); }  // the model tears down before its scheme

  // Runs one operation and checks everything; returns "" or the first mismatch.
  std::string Apply(const Op& op);
  std::string Log() const {
    std::string s;
    for (const auto& l : log_) s += "\n  " + l;
    return s;
  }
  Model& model() { return *model_; }
  // Every live process exits; then no anonymous memory or rmap object may remain.
  std::string ExitAllAndCheckNothingLeaks() {
    for (RefProc& rp : procs_)
      if (rp.alive) {
        log_.push_back(rp.mm->name + " exit (teardown)");
        model_->Exit(*rp.mm);
        rp.alive = false;
        for (auto& p : rp.pages) p = RefPage{};
      }
    if (std::string err = Verify(); !err.empty()) return err;
    auto o = scheme_->Objects();
    if (o["anon_vma"].live || o["anon_vma_chain"].live)
      return "after every exit: " + std::to_string(o["anon_vma"].live) + " anon_vmas, " +
             std::to_string(o["anon_vma_chain"].live) + " AVCs still live";
    int64_t anon = 0;
    model_->folios().ForEachLive([&](const Folio& f) { anon += f.kind == FolioKind::kAnon; });
    if (anon) return "after every exit: " + std::to_string(anon) + " anon folios live";
    return "";
  }

 private:
  Vpn V(uint64_t page) const { return kBase + page; }
  RefProc& NewProc(Mm* mm) {
    procs_.push_back(RefProc{mm, true, std::vector<RefPage>(cfg_.window)});
    return procs_.back();
  }
  std::vector<size_t> Alive() const {
    std::vector<size_t> out;
    for (size_t i = 0; i < procs_.size(); ++i)
      if (procs_[i].alive) out.push_back(i);
    return out;
  }
  // Expected outcome of a touch, per the reference.
  Touch ExpectTouch(const RefPage& p, bool write) const {
    if (!p.mapped) return Touch::kSigsegv;
    if (write ? !p.w : !(p.r || p.w || p.x)) return Touch::kSigsegv;
    if (p.file && p.pgoff >= p.file->size_pages) return Touch::kSigbus;
    return Touch::kOk;
  }
  // The content a private anon / file page shows once its PTE is gone.
  static void Refault(RefPage& p) { p.content = p.file ? Content::kFile : Content::kZero; }
  void Written(RefPage& p) {
    if (p.shared) return;  // writes go to the shared page itself
    p.content = Content::kWrite;
    p.write = ++writes_;
  }
  bool Faulted(const Mm& mm, uint64_t page) const {
    const Vma* v = mm.vmas.Find(V(page));
    return v && v->anon_vma;
  }

  std::string DoTouch(RefProc& rp, const Op& op);
  std::string DoMmap(RefProc& rp, const Op& op);
  std::string DoMunmap(RefProc& rp, const Op& op);
  std::string DoMprotect(RefProc& rp, const Op& op);
  std::string DoMadvise(RefProc& rp, const Op& op);
  std::string DoMremap(RefProc& rp, const Op& op);
  std::string DoFork(RefProc& rp);
  std::string DoExit(RefProc& rp);
  std::string Run(const Op& op);
  std::string Verify();

  Config cfg_;
  std::unique_ptr<Scheme> scheme_;
  std::unique_ptr<Model> model_;
  File* files_[2] = {nullptr, nullptr};
  std::vector<RefProc> procs_;
  std::vector<std::string> log_;
  uint64_t writes_ = 0;
  int forks_ = 0;
};

std::string ErrName(int r) { return r == 0 ? "0" : std::string("-") + ErrnoName(r); }

std::string Mismatch(const std::string& what, int got, int want) {
  if (got == want) return "";
  return what + ": model returned " + ErrName(got) + ", reference expects " + ErrName(want);
}

std::string Harness::Apply(const Op& op) {
  std::string err = Run(op);
  if (err.empty()) err = Verify();
  return err;
}

std::string Harness::Run(const Op& op) {
  std::vector<size_t> alive = Alive();
  RefProc& rp = procs_[alive[static_cast<size_t>(op.proc) % alive.size()]];
  int k = op.kind % 100;
  std::string err;
  if (k < 25) {
    err = DoTouch(rp, op);
  } else if (k < 45) {
    err = DoMmap(rp, op);
  } else if (k < 53) {
    err = DoMunmap(rp, op);
  } else if (k < 65) {
    err = DoMprotect(rp, op);
  } else if (k < 77) {
    err = DoMadvise(rp, op);
  } else if (k < 92) {
    err = cfg_.mremap ? DoMremap(rp, op) : DoTouch(rp, op);
  } else if (k < 97) {
    if (cfg_.fork_exit && alive.size() < cfg_.max_alive && procs_.size() < cfg_.max_procs)
      err = DoFork(rp);
    else
      err = DoTouch(rp, op);
  } else {
    if (cfg_.fork_exit && alive.size() > 1)
      err = DoExit(rp);
    else
      err = DoTouch(rp, op);
  }
  return err;
}

// ---- touches ------------------------------------------------------------------------

std::string Harness::DoTouch(RefProc& rp, const Op& op) {
  uint64_t page = static_cast<uint64_t>(op.a) % cfg_.window;
  // Mostly aim at mapped pages: move forward to the next mapped one.
  if (op.variant % 4 != 0) {
    for (uint64_t i = 0; i < cfg_.window; ++i) {
      uint64_t p = (page + i) % cfg_.window;
      if (rp.pages[p].mapped) {
        page = p;
        break;
      }
    }
  }
  bool write = op.b % 2;
  log_.push_back(rp.mm->name + (write ? " write " : " read ") + std::to_string(page));
  RefPage& p = rp.pages[page];
  Touch want = ExpectTouch(p, write);
  Touch got = model_->Access(*rp.mm, V(page), write);
  if (got != want)
    return "touch: model gave " + std::to_string(static_cast<int>(got)) + ", expected " +
           std::to_string(static_cast<int>(want));
  if (got == Touch::kOk && write) Written(p);
  return "";
}

// ---- mmap / munmap ------------------------------------------------------------------

std::string Harness::DoMmap(RefProc& rp, const Op& op) {
  static const char* kProts[] = {"rw", "r", "rwx", "none"};
  uint64_t a = static_cast<uint64_t>(op.a) % cfg_.window;
  uint64_t len = std::min<uint64_t>(1 + static_cast<uint64_t>(op.len) % 16, cfg_.window - a);
  int v = op.variant;
  const char* prot = kProts[(v / 2) % 4];
  MmapArgs args;
  args.addr = V(a);
  args.len = len;
  args.read = prot[0] == 'r';
  args.write = std::string(prot).find('w') != std::string::npos;
  args.exec = std::string(prot).find('x') != std::string::npos;
  args.fixed = v % 2;
  int kind = (v / 8) % 20;  // 0-13 private anon, 14-16 shared anon, 17-18 private file,
                            // 19 shared file
  args.shared = kind >= 14 && kind <= 16 ? true : kind == 19;
  if (kind >= 17) {
    args.file = files_[(v / 160) % 2];
    args.pgoff = static_cast<uint64_t>(op.b) % 33;
  }
  args.noreserve = (v / 320) % 5 == 0;
  args.populate = (v / 1600) % 8 == 0;
  log_.push_back(rp.mm->name + " mmap " + std::to_string(a) + " " + std::to_string(len) +
                 " " + prot + (args.shared ? " shared" : " private") +
                 (args.file ? " file " + args.file->name + "@" + std::to_string(args.pgoff)
                            : " anon") +
                 (args.fixed ? " fixed" : "") + (args.noreserve ? " noreserve" : "") +
                 (args.populate ? " populate" : ""));

  int want = 0;
  if (!args.fixed)
    for (uint64_t i = a; i < a + len; ++i)
      if (rp.pages[i].mapped) want = -EEXIST;
  int got = model_->Mmap(*rp.mm, args);
  if (std::string m = Mismatch("mmap", got, want); !m.empty()) return m;
  if (got) return "";

  File* file = args.file;
  if (args.shared && !file) {
    const Vma* vma = rp.mm->vmas.Find(V(a));
    if (!vma || !vma->vm_file || !vma->vm_file->shmem_anon)
      return "mmap: shared anonymous mapping without a shmem file";
    file = vma->vm_file;
  }
  for (uint64_t i = a; i < a + len; ++i) {
    RefPage p;
    p.mapped = true;
    p.r = args.read;
    p.w = args.write;
    p.x = args.exec;
    p.shared = args.shared;
    p.noreserve = args.noreserve;
    p.file = file;
    if (!file)
      p.pgoff = V(i);
    else if (!args.file)
      p.pgoff = i - a;  // shmem object offset
    else
      p.pgoff = args.pgoff + (i - a);
    Refault(p);
    rp.pages[i] = p;
  }
  // MAP_POPULATE: private writable mappings are populated with write faults (up to
  // EOF); everything else with read faults, which change no content.
  if (args.populate && args.write && !args.shared) {
    for (uint64_t i = a; i < a + len; ++i) {
      RefPage& p = rp.pages[i];
      if (p.file && p.pgoff >= p.file->size_pages) break;
      Written(p);
    }
  }
  return "";
}

std::string Harness::DoMunmap(RefProc& rp, const Op& op) {
  uint64_t a = static_cast<uint64_t>(op.a) % cfg_.window;
  uint64_t len = std::min<uint64_t>(1 + static_cast<uint64_t>(op.len) % 16, cfg_.window - a);
  log_.push_back(rp.mm->name + " munmap " + std::to_string(a) + " " + std::to_string(len));
  int got = model_->Munmap(*rp.mm, V(a), len);
  if (std::string m = Mismatch("munmap", got, 0); !m.empty()) return m;
  for (uint64_t i = a; i < a + len; ++i) rp.pages[i] = RefPage{};
  return "";
}

// ---- mprotect / madvise -------------------------------------------------------------

std::string Harness::DoMprotect(RefProc& rp, const Op& op) {
  static const char* kProts[] = {"rw", "r", "rwx", "none", "rx"};
  uint64_t a = static_cast<uint64_t>(op.a) % cfg_.window;
  uint64_t len = std::min<uint64_t>(1 + static_cast<uint64_t>(op.len) % 16, cfg_.window - a);
  std::string prot = kProts[op.variant % 5];
  bool r = prot[0] == 'r', w = prot.find('w') != std::string::npos,
       x = prot.find('x') != std::string::npos;
  log_.push_back(rp.mm->name + " mprotect " + std::to_string(a) + " " + std::to_string(len) +
                 " " + prot);
  // do_mprotect_pkey(): a leading hole changes nothing; later the walk changes every
  // page up to the first hole and then fails.
  int want = 0;
  if (!rp.pages[a].mapped) {
    want = -ENOMEM;
  } else {
    for (uint64_t i = a; i < a + len; ++i) {
      if (!rp.pages[i].mapped) {
        want = -ENOMEM;
        break;
      }
    }
  }
  int got = model_->Mprotect(*rp.mm, V(a), len, r, w, x);
  if (std::string m = Mismatch("mprotect", got, want); !m.empty()) return m;
  if (rp.pages[a].mapped) {
    for (uint64_t i = a; i < a + len && rp.pages[i].mapped; ++i) {
      rp.pages[i].r = r;
      rp.pages[i].w = w;
      rp.pages[i].x = x;
    }
  }
  return "";
}

std::string Harness::DoMadvise(RefProc& rp, const Op& op) {
  static const MadviseBehavior kB[] = {
      MadviseBehavior::kDontneed, MadviseBehavior::kFree,       MadviseBehavior::kCold,
      MadviseBehavior::kPageout,  MadviseBehavior::kDontfork,   MadviseBehavior::kDofork,
      MadviseBehavior::kWipeonfork, MadviseBehavior::kKeeponfork, MadviseBehavior::kHugepage,
      MadviseBehavior::kNohugepage};
  static const char* kNames[] = {"dontneed", "free",       "cold",       "pageout",
                                 "dontfork", "dofork",     "wipeonfork", "keeponfork",
                                 "hugepage", "nohugepage"};
  uint64_t a = static_cast<uint64_t>(op.a) % cfg_.window;
  uint64_t len = std::min<uint64_t>(1 + static_cast<uint64_t>(op.len) % 16, cfg_.window - a);
  int bi = op.variant % 10;
  MadviseBehavior b = kB[bi];
  log_.push_back(rp.mm->name + " madvise " + std::to_string(a) + " " + std::to_string(len) +
                 " " + kNames[bi]);
  int got = model_->Madvise(*rp.mm, V(a), len, b);
  // madvise_walk_vmas(): holes are skipped and reported as -ENOMEM at the end; a
  // refusal stops the walk at once, keeping what was done before.
  int want = 0;
  bool hole = false;
  for (uint64_t i = a; i < a + len; ++i) {
    RefPage& p = rp.pages[i];
    if (!p.mapped) {
      hole = true;
      continue;
    }
    if (b == MadviseBehavior::kFree && p.file) {  // not vma_is_anonymous()
      want = -EINVAL;
      break;
    }
    if (b == MadviseBehavior::kWipeonfork && p.file) {  // file or shared
      want = -EINVAL;
      break;
    }
    switch (b) {
      case MadviseBehavior::kDontneed:
        Refault(p);
        break;
      case MadviseBehavior::kFree:
        if (p.content == Content::kWrite) p.content = Content::kUnknown;  // lazyfree
        break;
      case MadviseBehavior::kCold:
      case MadviseBehavior::kPageout:
        // Only clean lazyfree anon pages (already "unknown") and page-cache pages can
        // go; a file page comes back from the file on the next fault.
        break;
      case MadviseBehavior::kDontfork: p.dontcopy = true; break;
      case MadviseBehavior::kDofork: p.dontcopy = false; break;
      case MadviseBehavior::kWipeonfork: p.wipeonfork = true; break;
      case MadviseBehavior::kKeeponfork: p.wipeonfork = false; break;
      case MadviseBehavior::kHugepage: p.hugepage = true; p.nohugepage = false; break;
      case MadviseBehavior::kNohugepage: p.nohugepage = true; p.hugepage = false; break;
      default: break;  // the replay-only hints (kNormal..kDodump) are never drawn here
    }
  }
  if (!want && hole) want = -ENOMEM;
  return Mismatch(std::string("madvise ") + kNames[bi], got, want);
}

// ---- mremap -------------------------------------------------------------------------

std::string Harness::DoMremap(RefProc& rp, const Op& op) {
  const uint64_t W = cfg_.window;
  uint64_t a = static_cast<uint64_t>(op.a) % W;
  uint64_t old_len = std::min<uint64_t>(1 + static_cast<uint64_t>(op.len) % 16, W - a);
  int mode = op.variant % 4;  // 0 resize in place, 1 move, 2 move+dontunmap, 3 resize+move
  uint64_t new_len = old_len;
  uint64_t to = static_cast<uint64_t>(op.b) % W;
  if (mode == 0) new_len = std::min<uint64_t>(1 + static_cast<uint64_t>(op.variant / 4) % 16, W - a);
  if (mode == 3) new_len = 1 + static_cast<uint64_t>(op.variant / 4) % 16;
  if (mode == 3 && new_len == old_len) mode = 1;  // MREMAP_FIXED, same size: remap_move()
  if (mode != 0) {
    if (to + new_len > W) to = W - new_len;
  }
  int flags = mode == 0 ? 0 : Model::kMremapMaymove | Model::kMremapFixed;
  if (mode == 2) flags |= Model::kMremapDontunmap;
  log_.push_back(rp.mm->name + " mremap " + std::to_string(a) + " " + std::to_string(old_len) +
                 " " + std::to_string(new_len) +
                 (mode ? " to " + std::to_string(to) : std::string()) +
                 (mode == 2 ? " dontunmap" : ""));
  Mm& mm = *rp.mm;
  std::vector<RefPage>& pg = rp.pages;
  // What the reference needs from the model's state before the call: the VMA at `a`
  // (resize rules are per VMA) and which VMAs are faulted (pgoff rule of copy_vma()).
  const Vma* vma = mm.vmas.Find(V(a));
  Vpn vm_end = vma ? vma->vm_end : 0;
  std::vector<bool> faulted(W);
  for (uint64_t i = 0; i < W; ++i) faulted[i] = Faulted(mm, i);
  std::vector<bool> first_piece(W, false);
  if (vma)
    for (uint64_t i = a; i < a + old_len && V(i) < vma->vm_end; ++i) first_piece[i] = true;

  int want = 0;
  bool overlap = mode != 0 && a < to + new_len && to < a + old_len;
  if (overlap) {
    want = -EINVAL;
  } else if (!pg[a].mapped) {
    want = -EFAULT;
  } else if (mode == 0) {
    if (new_len > old_len) {
      if (old_len > vm_end - V(a))
        want = -EFAULT;
      else if (vm_end - V(a) != old_len)
        want = -ENOMEM;
      else
        for (uint64_t i = a + old_len; i < a + new_len; ++i)
          if (pg[i].mapped) want = -ENOMEM;
    }
  } else if (mode == 3 && std::min(old_len, new_len) > vm_end - V(a)) {
    want = -EFAULT;
  }
  int got = model_->Mremap(mm, V(a), old_len, new_len, flags, mode ? V(to) : 0);
  if (std::string m = Mismatch("mremap", got, want); !m.empty()) return m;
  if (got) return "";

  // A page as it arrives at dest page d, moved from source page s of its VMA.
  auto moved = [&](const RefPage& src, uint64_t s, uint64_t d) {
    RefPage p = src;
    if (p.private_anon()) {
      bool f = faulted[s];
      if (!f && !first_piece[s]) {
        // A later piece may have become faulted by an earlier piece's merge
        // (dup_anon_vma into it): either pgoff is right.
        p.pgoff_either = true;
        p.pgoff_alt = src.pgoff;
      }
      if (!f) p.pgoff = V(d);
    }
    return p;
  };
  // Extension page number `k` past the last moved/kept page `last`.
  auto extend = [&](const RefPage& last, Pgoff base_pgoff, uint64_t k) {
    RefPage p = last;
    p.pgoff = base_pgoff + k;
    p.pgoff_either = false;
    Refault(p);
    return p;
  };

  if (mode == 0) {
    if (new_len < old_len) {
      for (uint64_t i = a + new_len; i < a + old_len; ++i) pg[i] = RefPage{};
    } else if (new_len > old_len) {
      const RefPage last = pg[a + old_len - 1];
      for (uint64_t k = 1; k <= new_len - old_len; ++k)
        pg[a + old_len - 1 + k] = extend(last, last.pgoff, k);
    }
    return "";
  }
  if (mode == 1 || mode == 2) {
    // remap_move(): every mapped source page lands at the same offset from `to`;
    // destination pages opposite source holes are left alone.
    std::vector<RefPage> src(pg.begin() + a, pg.begin() + a + old_len);
    for (uint64_t i = 0; i < old_len; ++i) {
      if (!src[i].mapped) continue;
      pg[to + i] = moved(src[i], a + i, to + i);
      if (mode == 1) {
        pg[a + i] = RefPage{};
      } else {
        Refault(pg[a + i]);  // the source stays mapped, its page tables moved away
      }
    }
    return "";
  }
  // mode 3: resize and move a single VMA: the destination is unmapped first, a shrink
  // unmaps the tail, the rest moves; a growth extends the moved VMA.
  uint64_t moved_len = std::min(old_len, new_len);
  std::vector<RefPage> src(pg.begin() + a, pg.begin() + a + moved_len);
  for (uint64_t i = a; i < a + old_len; ++i) pg[i] = RefPage{};
  for (uint64_t i = 0; i < new_len; ++i) pg[to + i] = RefPage{};
  for (uint64_t i = 0; i < moved_len; ++i) pg[to + i] = moved(src[i], a + i, to + i);
  if (new_len > old_len) {
    const RefPage last = pg[to + old_len - 1];
    for (uint64_t k = 1; k <= new_len - old_len; ++k)
      pg[to + old_len - 1 + k] = extend(last, last.pgoff, k);
  }
  return "";
}

// ---- fork / exit --------------------------------------------------------------------

std::string Harness::DoFork(RefProc& parent) {
  std::string name = "P" + std::to_string(procs_.size());
  log_.push_back(parent.mm->name + " fork " + name);
  Mm* child = model_->Fork(*parent.mm, name);
  const std::vector<RefPage> pages = parent.pages;  // NewProc may move `parent`
  RefProc& c = NewProc(child);
  for (uint64_t i = 0; i < cfg_.window; ++i) {
    const RefPage& p = pages[i];
    if (!p.mapped || p.dontcopy) continue;  // VM_DONTCOPY: not in the child
    c.pages[i] = p;
    if (p.wipeonfork) Refault(c.pages[i]);  // VM_WIPEONFORK: a clean slate
  }
  ++forks_;
  return "";
}

std::string Harness::DoExit(RefProc& rp) {
  log_.push_back(rp.mm->name + " exit");
  model_->Exit(*rp.mm);
  rp.alive = false;
  for (auto& p : rp.pages) p = RefPage{};
  return "";
}

// ---- the comparison -----------------------------------------------------------------

std::string Harness::Verify() {
  OracleReport report;
  Oracle::CheckAll(*model_, "op " + std::to_string(log_.size()), &report);
  if (report.misses || report.invariant_failures) {
    std::string s = "oracle: " + std::to_string(report.misses) + " misses, " +
                    std::to_string(report.invariant_failures) + " invariant failures";
    for (const auto& m : report.messages) s += "\n    " + m;
    return s;
  }
  // No leaked or double-freed struct: live VMA structs are exactly the VMAs in the
  // trees, live AVCs exactly the entries of the VMAs' chains.
  int64_t vmas = 0, avcs = 0;
  for (const auto& mm : model_->mms())
    for (const auto& [start, v] : mm->vmas) {
      ++vmas;
      if (const auto* chain = linux_rmap::LinuxScheme::Chain(*v)) avcs += chain->size();
    }
  const CoreStats& st = model_->stats();
  if (st.vma_alloc - st.vma_free != vmas)
    return "VMA structs: " + std::to_string(st.vma_alloc - st.vma_free) + " live, " +
           std::to_string(vmas) + " in the trees";
  if (int64_t live = scheme_->Objects()["anon_vma_chain"].live; live != avcs)
    return "AVCs: " + std::to_string(live) + " live, " + std::to_string(avcs) + " on chains";

  std::map<uint64_t, Pfn> write_to_pfn;
  std::map<Pfn, uint64_t> pfn_to_write;
  for (RefProc& rp : procs_) {
    const Mm& mm = *rp.mm;
    const std::string who = mm.name + " page ";
    if (mm.alive != rp.alive) return mm.name + ": alive differs";
    for (const auto& [start, v] : mm.vmas) {
      if (v->vm_start < kBase || v->vm_end > kBase + cfg_.window)
        return mm.name + ": a VMA outside the window";
    }
    for (uint64_t i = 0; i < cfg_.window; ++i) {
      const RefPage& p = rp.pages[i];
      const Vma* v = mm.vmas.Find(V(i));
      const std::string at = who + std::to_string(i);
      if (!p.mapped) {
        if (v) return at + ": mapped in the model, not in the reference";
        continue;
      }
      if (!v) return at + ": mapped in the reference, not in the model";
      VmFlags f = v->vm_flags;
      if (bool(f & VM_READ) != p.r || bool(f & VM_WRITE) != p.w || bool(f & VM_EXEC) != p.x)
        return at + ": protection differs";
      if (bool(f & VM_SHARED) != p.shared) return at + ": VM_SHARED differs";
      if (bool(f & VM_NORESERVE) != p.noreserve) return at + ": VM_NORESERVE differs";
      if (bool(f & VM_DONTCOPY) != p.dontcopy) return at + ": VM_DONTCOPY differs";
      if (bool(f & VM_WIPEONFORK) != p.wipeonfork) return at + ": VM_WIPEONFORK differs";
      if (bool(f & VM_HUGEPAGE) != p.hugepage) return at + ": VM_HUGEPAGE differs";
      if (bool(f & VM_NOHUGEPAGE) != p.nohugepage) return at + ": VM_NOHUGEPAGE differs";
      if (v->vm_file != p.file) return at + ": backing file differs";
      Pgoff idx = v->linear_page_index(V(i));
      if (p.pgoff_either) {
        if (idx != p.pgoff && idx != p.pgoff_alt)
          return at + ": pgoff " + std::to_string(idx) + " is neither " +
                 std::to_string(p.pgoff) + " nor " + std::to_string(p.pgoff_alt);
        rp.pages[i].pgoff = idx;  // settled
        rp.pages[i].pgoff_either = false;
      } else if (idx != p.pgoff) {
        return at + ": pgoff " + std::to_string(idx) + ", expected " + std::to_string(p.pgoff);
      }
      // Content against the PTE.
      Pfn pfn = mm.pt.Get(V(i));
      switch (p.content) {
        case Content::kZero:
          if (pfn != kNoPfn && pfn != kZeroPfn) return at + ": zero content but a page";
          break;
        case Content::kFile: {
          const File& file = *p.file;
          Pfn want = p.pgoff < file.page_cache.size() ? file.page_cache[p.pgoff] : kNoPfn;
          if (pfn != kNoPfn && pfn != want) return at + ": not the file's page";
          break;
        }
        case Content::kWrite: {
          if (pfn == kNoPfn || pfn == kZeroPfn ||
              model_->folios().Get(pfn).kind != FolioKind::kAnon)
            return at + ": written content lost (pfn " + std::to_string(pfn) + ")";
          // The store dirtied the PTE; fork (private) and mremap keep the bit, and only
          // MADV_FREE cleans it (the content is "unknown" from then on).
          if (!mm.pt.Dirty(V(i))) return at + ": written page with a clean PTE";
          auto [it1, new1] = write_to_pfn.emplace(p.write, pfn);
          auto [it2, new2] = pfn_to_write.emplace(pfn, p.write);
          if (it1->second != pfn || it2->second != p.write)
            return at + ": COW broken: write #" + std::to_string(p.write) + " at pfn " +
                   std::to_string(pfn) + " (write->pfn " + std::to_string(it1->second) +
                   ", pfn->write " + std::to_string(it2->second) + ")";
          break;
        }
        case Content::kUnknown:
          break;
      }
    }
    // Without mremap, every private anonymous VMA keeps vm_pgoff == vm_start.
    if (!cfg_.mremap)
      for (const auto& [start, v] : mm.vmas)
        if (!v->vm_file && v->vm_pgoff != v->vm_start)
          return mm.name + ": private anonymous VMA with vm_pgoff != vm_start";
  }
  return "";
}

// Runs `ops`; returns "" or the failure with the operation log.
std::string RunOps(const Config& cfg, const std::vector<Op>& ops) {
  Harness h(cfg);
  for (const Op& op : ops) {
    std::string err = h.Apply(op);
    if (!err.empty()) return err + "\n  after:" + h.Log();
  }
  if (std::string err = h.ExitAllAndCheckNothingLeaks(); !err.empty())
    return err + "\n  after:" + h.Log();
  return "";
}

Op RandomOp(std::mt19937_64& rng) {
  auto u = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  return Op{u(100), u(8), u(64), u(16), u(64), u(100000)};
}

#ifdef RMAPLAB_HAVE_RAPIDCHECK

rc::Gen<Op> GenOp() {
  return rc::gen::map(rc::gen::tuple(rc::gen::inRange(0, 100), rc::gen::inRange(0, 8),
                                     rc::gen::inRange(0, 64), rc::gen::inRange(0, 16),
                                     rc::gen::inRange(0, 64), rc::gen::inRange(0, 100000)),
                      [](const std::tuple<int, int, int, int, int, int>& t) {
                        auto [k, p, a, l, b, v] = t;
                        return Op{k, p, a, l, b, v};
                      });
}

rc::Gen<std::vector<Op>> GenSequence() {
  return rc::gen::mapcat(rc::gen::inRange<size_t>(1, 41), [](size_t n) {
    return rc::gen::container<std::vector<Op>>(n, GenOp());
  });
}

// Each case runs kSequences independent sequences of up to 40 operations (rapidcheck's
// 100 cases alone are too few to reach rare merge/move combinations).
constexpr size_t kSequences = 10;

void CheckProperty(const Config& cfg) {
  const auto seqs =
      *rc::gen::container<std::vector<std::vector<Op>>>(kSequences, GenSequence());
  for (const auto& ops : seqs) {
    std::string err = RunOps(cfg, ops);
    if (!err.empty()) RC_FAIL(err);
  }
}

// Everything, 2-4 live processes in a 64-page window.
RC_GTEST_PROP(ModelProperty, MatchesReferenceAndOracle, ()) { CheckProperty(Config{}); }

// No mremap: every private anonymous VMA must keep vm_pgoff == vm_start.
RC_GTEST_PROP(ModelProperty, WithoutMremapAnonPgoffIsTheVirtualPage, ()) {
  Config cfg;
  cfg.mremap = false;
  CheckProperty(cfg);
}

// One process in a 24-page window: merges and splits on nearly every operation.
RC_GTEST_PROP(ModelProperty, OneProcessDenseWindow, ()) {
  Config cfg;
  cfg.window = 24;
  cfg.fork_exit = false;
  CheckProperty(cfg);
}

// Fork-heavy: up to 4 live processes in a 32-page window.
RC_GTEST_PROP(ModelProperty, ForkHeavySmallWindow, ()) {
  Config cfg;
  cfg.window = 32;
  CheckProperty(cfg);
}

#endif  // RMAPLAB_HAVE_RAPIDCHECK

// Many more sequences than rapidcheck's default 100, from fixed seeds (no shrinking;
// the failing seed and its operation log are printed). Bounded to a few seconds.
// RMAPLAB_PROPERTY_SEEDS=N and RMAPLAB_PROPERTY_SECONDS=S widen the sweep.
uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(ModelPropertySeeded, ManySequencesMatchReferenceAndOracle) {
  const uint64_t seeds = EnvOr("RMAPLAB_PROPERTY_SEEDS", 30000);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(EnvOr("RMAPLAB_PROPERTY_SECONDS", 6));
  int runs = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    if (std::chrono::steady_clock::now() > deadline) break;
    std::mt19937_64 rng(seed);
    Config cfg;
    if (seed % 3 == 1) cfg.window = 16 + rng() % 48;
    std::vector<Op> ops(1 + rng() % 40);
    for (Op& op : ops) op = RandomOp(rng);
    std::string err = RunOps(cfg, ops);
    ASSERT_TRUE(err.empty()) << "seed " << seed << ": " << err;
    ++runs;
  }
  EXPECT_GT(runs, 100);
}

}  // namespace
}  // namespace rmaplab
