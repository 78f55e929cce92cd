// Tests of the model (core/model.h) under the `linux` scheme, against what a real
// Linux 6.18 kernel does: the experiments E1-E13 of
// ../shared/research/linux-anon-rmap-618.md §9 (numbers measured on 6.18.44), the
// mm selftests of §10.2 (tools/testing/selftests/mm/merge.c) and the errno rules of the
// system calls. Every step is followed by an oracle pass (every rmap walk complete,
// every core and scheme invariant holds).
//
// Addresses are arena pages: page N is vpn kBase + N. Event counts are deltas of the
// scheme's anon_vma / anon_vma_chain objects and of the core's VMA structs.
#include "core/model.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/folio.h"
#include "core/mm.h"
#include "rmap/oracle.h"
#include "rmap/registry.h"
#include "rmap/scheme.h"
#include "rmap/schemes/linux/linux_scheme.h"

namespace rmaplab {
namespace {

constexpr Vpn kBase = 0x100000000ULL;  // arena page 0 = address 0x100000000000
Vpn Pg(uint64_t n) { return kBase + n; }

constexpr int kMove = Model::kMremapMaymove | Model::kMremapFixed;
constexpr int kDontunmap = kMove | Model::kMremapDontunmap;

// Allocation/free counts of the objects the experiments measured.
struct Events {
  int64_t vma_alloc = 0, vma_free = 0;
  int64_t av_alloc = 0, av_free = 0;
  int64_t avc_alloc = 0, avc_free = 0;
  bool operator==(const Events&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Events& e) {
  return os << "{vma +" << e.vma_alloc << " -" << e.vma_free << ", av +" << e.av_alloc
            << " -" << e.av_free << ", avc +" << e.avc_alloc << " -" << e.avc_free << "}";
}

// Protection from the maps-style short form: "rw", "r", "rwx", "rx", "none".
void ParseProt(const std::string& prot, bool* r, bool* w, bool* x) {
  *r = prot.find('r') != std::string::npos;
  *w = prot.find('w') != std::string::npos;
  *x = prot.find('x') != std::string::npos;
}

class ModelTest : public ::testing::Test {
 protected:
  ModelTest() : scheme_(CreateScheme("linux")), model_(scheme_.get()) {}

  // ---- oracle ---------------------------------------------------------------------
  void Check(const std::string& what) {
    OracleReport r;
    Oracle::CheckAll(model_, what, &r);
    std::string msgs;
    for (const auto& m : r.messages) msgs += "\n  " + m;
    EXPECT_EQ(r.misses, 0) << msgs;
    EXPECT_EQ(r.invariant_failures, 0) << msgs;
  }
  std::string Step(const Mm& mm, const std::string& op) {
    return "step " + std::to_string(++steps_) + " (" + mm.name + " " + op + ")";
  }

  // ---- operations, each followed by an oracle pass --------------------------------
  MmapArgs Args(uint64_t page, uint64_t len, const std::string& prot) {
    MmapArgs a;
    a.addr = Pg(page);
    a.len = len;
    ParseProt(prot, &a.read, &a.write, &a.exec);
    return a;
  }
  int Mmap(Mm& mm, const MmapArgs& a) {
    int r = model_.Mmap(mm, a);
    Check(Step(mm, "mmap"));
    return r;
  }
  // Private anonymous MAP_FIXED_NOREPLACE mapping (the scenario language's default).
  int Map(Mm& mm, uint64_t page, uint64_t len, const std::string& prot = "rw") {
    return Mmap(mm, Args(page, len, prot));
  }
  // MAP_FIXED, as the selftests map over their PROT_NONE carveout.
  int MapFixed(Mm& mm, uint64_t page, uint64_t len, const std::string& prot = "rw",
               bool noreserve = false) {
    MmapArgs a = Args(page, len, prot);
    a.fixed = true;
    a.noreserve = noreserve;
    return Mmap(mm, a);
  }
  int Munmap(Mm& mm, uint64_t page, uint64_t len) {
    int r = model_.Munmap(mm, Pg(page), len);
    Check(Step(mm, "munmap"));
    return r;
  }
  int Mprotect(Mm& mm, uint64_t page, uint64_t len, const std::string& prot) {
    bool r, w, x;
    ParseProt(prot, &r, &w, &x);
    int res = model_.Mprotect(mm, Pg(page), len, r, w, x);
    Check(Step(mm, "mprotect"));
    return res;
  }
  int Madvise(Mm& mm, uint64_t page, uint64_t len, MadviseBehavior b) {
    int r = model_.Madvise(mm, Pg(page), len, b);
    Check(Step(mm, "madvise"));
    return r;
  }
  int Mremap(Mm& mm, uint64_t page, uint64_t old_len, uint64_t new_len, int flags = 0,
             uint64_t new_page = 0) {
    int r = model_.Mremap(mm, Pg(page), old_len, new_len, flags, flags ? Pg(new_page) : 0);
    Check(Step(mm, "mremap"));
    return r;
  }
  // `mremap ADDR LEN LEN to NEW`: MREMAP_MAYMOVE | MREMAP_FIXED.
  int Move(Mm& mm, uint64_t page, uint64_t len, uint64_t to) {
    return Mremap(mm, page, len, len, kMove, to);
  }
  Touch W(Mm& mm, uint64_t page) {
    Touch t = model_.Access(mm, Pg(page), true);
    Check(Step(mm, "write"));
    return t;
  }
  Touch R(Mm& mm, uint64_t page) {
    Touch t = model_.Access(mm, Pg(page), false);
    Check(Step(mm, "read"));
    return t;
  }
  void WriteAll(Mm& mm, uint64_t page, uint64_t len) {
    for (uint64_t i = 0; i < len; ++i) ASSERT_EQ(W(mm, page + i), Touch::kOk);
  }
  Mm* Fork(Mm& parent, const std::string& name) {
    Mm* c = model_.Fork(parent, name);
    Check(Step(parent, "fork " + name));
    return c;
  }
  void Exit(Mm& mm) {
    model_.Exit(mm);
    Check(Step(mm, "exit"));
  }

  // ---- state ----------------------------------------------------------------------
  Events Now() const {
    auto o = scheme_->Objects();
    Events e;
    e.vma_alloc = model_.stats().vma_alloc;
    e.vma_free = model_.stats().vma_free;
    e.av_alloc = o["anon_vma"].alloc;
    e.av_free = o["anon_vma"].free;
    e.avc_alloc = o["anon_vma_chain"].alloc;
    e.avc_free = o["anon_vma_chain"].free;
    return e;
  }
  static Events Since(const Events& before, const Events& now) {
    return {now.vma_alloc - before.vma_alloc, now.vma_free - before.vma_free,
            now.av_alloc - before.av_alloc,   now.av_free - before.av_free,
            now.avc_alloc - before.avc_alloc, now.avc_free - before.avc_free};
  }
  Events Since(const Events& before) const { return Since(before, Now()); }

  // The VMAs of mm as "start-end:prot" in arena pages, e.g. "0-16:rw 16-20:r".
  static std::string Layout(const Mm& mm) {
    std::string out;
    for (const auto& [start, v] : mm.vmas) {
      if (!out.empty()) out += ' ';
      out += std::to_string(v->vm_start - kBase) + "-" + std::to_string(v->vm_end - kBase) +
             ":";
      if (!(v->vm_flags & VM_ACCESS_FLAGS)) out += "none";
      if (v->vm_flags & VM_READ) out += 'r';
      if (v->vm_flags & VM_WRITE) out += 'w';
      if (v->vm_flags & VM_EXEC) out += 'x';
      if (v->vm_flags & VM_SHARED) out += 's';
    }
    return out;
  }
  static const Vma* At(const Mm& mm, uint64_t page) { return mm.vmas.Find(Pg(page)); }
  static const AnonVmaBase* AnonAt(const Mm& mm, uint64_t page) {
    const Vma* v = At(mm, page);
    return v ? v->anon_vma : nullptr;
  }
  static size_t ChainLen(const Mm& mm, uint64_t page) {
    const Vma* v = At(mm, page);
    const auto* c = v ? linux_rmap::LinuxScheme::Chain(*v) : nullptr;
    return c ? c->size() : 0;
  }
  static Pfn PfnAt(const Mm& mm, uint64_t page) { return mm.pt.Get(Pg(page)); }
  int MapCount(Pfn pfn) const { return model_.folios().Get(pfn).mapcount; }
  const Folio& FolioOf(Pfn pfn) const { return model_.folios().Get(pfn); }
  int64_t LiveAnonVmas() const { return scheme_->Objects()["anon_vma"].live; }
  int64_t LiveAvcs() const { return scheme_->Objects()["anon_vma_chain"].live; }

  std::unique_ptr<Scheme> scheme_;
  Model model_;
  int steps_ = 0;
};

// ====================================================================================
// E1: a single write fault.
// ====================================================================================

TEST_F(ModelTest, E1_FirstWriteAllocatesOneAnonVmaAndOneChain) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  Events e0 = Now();
  EXPECT_EQ(W(a, 0), Touch::kOk);
  EXPECT_EQ(Since(e0), (Events{.av_alloc = 1, .avc_alloc = 1}));
  EXPECT_EQ(ChainLen(a, 0), 1u);
  Pfn p = PfnAt(a, 0);
  ASSERT_GT(p, kZeroPfn);
  EXPECT_EQ(FolioOf(p).kind, FolioKind::kAnon);
  EXPECT_EQ(FolioOf(p).mapping, AnonAt(a, 0));
  EXPECT_EQ(FolioOf(p).index, Pg(0));  // linear_page_index: vm_pgoff = vm_start
  EXPECT_TRUE(FolioOf(p).anon_exclusive);
  Events e1 = Now();
  EXPECT_EQ(W(a, 5), Touch::kOk);  // second write in the same VMA
  EXPECT_EQ(W(a, 0), Touch::kOk);  // rewrite of a present exclusive page
  EXPECT_EQ(Since(e1), Events{});
  EXPECT_EQ(PfnAt(a, 0), p);
}

TEST_F(ModelTest, E1_ReadMapsTheZeroPageThenWriteAllocates) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  ASSERT_EQ(Map(a, 32, 16), 0);  // "another VMA", not adjacent
  ASSERT_EQ(W(a, 0), Touch::kOk);
  Events e0 = Now();
  EXPECT_EQ(R(a, 32), Touch::kOk);
  EXPECT_EQ(Since(e0), Events{});
  EXPECT_EQ(PfnAt(a, 32), kZeroPfn);
  EXPECT_EQ(AnonAt(a, 32), nullptr);  // a read does not make the VMA faulted
  Events e1 = Now();
  EXPECT_EQ(W(a, 32), Touch::kOk);
  EXPECT_EQ(Since(e1), (Events{.av_alloc = 1, .avc_alloc = 1}));
  Pfn p = PfnAt(a, 32);
  ASSERT_GT(p, kZeroPfn);
  EXPECT_EQ(MapCount(p), 1);
  EXPECT_NE(AnonAt(a, 32), AnonAt(a, 0));
}

// Without a zero page (mm_forbids_zeropage(); pvm_no_zero_page=1 kernels) a read fault
// does what a write fault does: prepare the anon_vma and map a new exclusive folio. The
// PTE is dirty in a writable VMA (do_anonymous_page's pte_mkdirty), clean in a read-only
// one; a later write reuses the folio; after fork the write copies it.
TEST_F(ModelTest, E1_NoZeroPageReadAllocatesAnExclusiveFolio) {
  model_.set_zero_page(false);
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  ASSERT_EQ(Map(a, 32, 4, "r"), 0);
  Events e0 = Now();
  EXPECT_EQ(R(a, 3), Touch::kOk);
  EXPECT_EQ(Since(e0), (Events{.av_alloc = 1, .avc_alloc = 1}));
  Pfn p = PfnAt(a, 3);
  ASSERT_GT(p, kZeroPfn);
  EXPECT_EQ(FolioOf(p).kind, FolioKind::kAnon);
  EXPECT_EQ(FolioOf(p).mapping, AnonAt(a, 3));
  EXPECT_TRUE(FolioOf(p).anon_exclusive);
  EXPECT_TRUE(a.pt.Dirty(Pg(3)));  // writable VMA: pte_mkwrite(pte_mkdirty())
  EXPECT_EQ(model_.stats().zero_maps, 0);
  EXPECT_EQ(R(a, 32), Touch::kOk);  // read-only VMA: a folio too, clean
  ASSERT_GT(PfnAt(a, 32), kZeroPfn);
  EXPECT_FALSE(a.pt.Dirty(Pg(32)));
  EXPECT_NE(AnonAt(a, 32), nullptr);
  Events e1 = Now();
  int64_t copies = model_.stats().cow_copies;
  EXPECT_EQ(W(a, 3), Touch::kOk);  // exclusive: reused in place
  EXPECT_EQ(PfnAt(a, 3), p);
  EXPECT_EQ(model_.stats().cow_copies, copies);
  EXPECT_EQ(Since(e1), Events{});
  Mm* c = Fork(a, "C");
  EXPECT_EQ(PfnAt(*c, 3), p);
  EXPECT_EQ(MapCount(p), 2);
  EXPECT_EQ(W(*c, 3), Touch::kOk);  // shared after fork: copied
  EXPECT_NE(PfnAt(*c, 3), p);
  EXPECT_EQ(model_.stats().cow_copies, copies + 1);
  EXPECT_EQ(MapCount(p), 1);
}

// ====================================================================================
// E2: adjacent separately-mmapped regions.
// ====================================================================================

TEST_F(ModelTest, E2a_AdjacentMmapsMergeAndShareOneAnonVma) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  Events e0 = Now();
  ASSERT_EQ(Map(a, 16, 16), 0);
  EXPECT_EQ(Since(e0), Events{});  // merged at mmap: no VMA struct
  EXPECT_EQ(Layout(a), "0-32:rw");
  Events e1 = Now();
  ASSERT_EQ(W(a, 0), Touch::kOk);
  EXPECT_EQ(Since(e1), (Events{.av_alloc = 1, .avc_alloc = 1}));
  Events e2 = Now();
  ASSERT_EQ(W(a, 16), Touch::kOk);
  EXPECT_EQ(Since(e2), Events{});
}

TEST_F(ModelTest, E2b_FaultedVmaExtendsOnBothSides) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 16, 16), 0);
  ASSERT_EQ(W(a, 16), Touch::kOk);
  Events e0 = Now();
  ASSERT_EQ(Map(a, 32, 16), 0);  // after the faulted VMA
  EXPECT_EQ(Since(e0), Events{});
  ASSERT_EQ(W(a, 40), Touch::kOk);
  EXPECT_EQ(Since(e0), Events{});
  ASSERT_EQ(Map(a, 0, 16), 0);  // before it
  EXPECT_EQ(Since(e0), Events{});
  EXPECT_EQ(Layout(a), "0-48:rw");
  EXPECT_EQ(At(a, 0)->vm_pgoff, Pg(0));
}

TEST_F(ModelTest, E2c_RwAndRwxNeighboursShareAnAnonVmaThenMerge) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16, "rw"), 0);
  ASSERT_EQ(Map(a, 16, 16, "rwx"), 0);
  EXPECT_EQ(Layout(a), "0-16:rw 16-32:rwx");
  Events e0 = Now();
  ASSERT_EQ(W(a, 0), Touch::kOk);
  EXPECT_EQ(Since(e0), (Events{.av_alloc = 1, .avc_alloc = 1}));
  Events e1 = Now();
  ASSERT_EQ(W(a, 16), Touch::kOk);
  EXPECT_EQ(Since(e1), (Events{.avc_alloc = 1}));  // A's anon_vma reused
  EXPECT_EQ(AnonAt(a, 16), AnonAt(a, 0));
  Events e2 = Now();
  ASSERT_EQ(Mprotect(a, 16, 16, "rw"), 0);
  EXPECT_EQ(Since(e2), (Events{.vma_free = 1, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "0-32:rw");
}

TEST_F(ModelTest, E2d_AnonVmaReusedFromTheNextVma) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16, "rw"), 0);
  ASSERT_EQ(Map(a, 16, 16, "rwx"), 0);
  Events e0 = Now();
  ASSERT_EQ(W(a, 16), Touch::kOk);
  EXPECT_EQ(Since(e0), (Events{.av_alloc = 1, .avc_alloc = 1}));
  Events e1 = Now();
  ASSERT_EQ(W(a, 0), Touch::kOk);
  EXPECT_EQ(Since(e1), (Events{.avc_alloc = 1}));
  EXPECT_EQ(AnonAt(a, 0), AnonAt(a, 16));
}

TEST_F(ModelTest, E2e_OnePageGapPreventsSharingAndTheFillMergesLeftOnly) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  ASSERT_EQ(Map(a, 17, 16), 0);
  Events e0 = Now();
  ASSERT_EQ(W(a, 0), Touch::kOk);
  EXPECT_EQ(Since(e0), (Events{.av_alloc = 1, .avc_alloc = 1}));
  Events e1 = Now();
  ASSERT_EQ(W(a, 17), Touch::kOk);
  EXPECT_EQ(Since(e1), (Events{.av_alloc = 1, .avc_alloc = 1}));
  Events e2 = Now();
  ASSERT_EQ(Map(a, 16, 1), 0);
  EXPECT_EQ(Since(e2), Events{});
  EXPECT_EQ(Layout(a), "0-17:rw 17-33:rw");  // different anon_vmas: no three-way merge
  EXPECT_NE(AnonAt(a, 0), AnonAt(a, 17));
}

TEST_F(ModelTest, E2f_UnfaultedAndFaultedMergeThreeWaysIntoThePrev) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  ASSERT_EQ(Map(a, 17, 16), 0);
  ASSERT_EQ(W(a, 17), Touch::kOk);
  const AnonVmaBase* bav = AnonAt(a, 17);
  Events e0 = Now();
  ASSERT_EQ(Map(a, 16, 1), 0);
  // A gets B's anon_vma (anon_vma_clone), B's struct and chain go.
  EXPECT_EQ(Since(e0), (Events{.vma_free = 1, .avc_alloc = 1, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "0-33:rw");
  EXPECT_EQ(AnonAt(a, 0), bav);
}

TEST_F(ModelTest, E2g_ReadOnlyUnfaultedNeighbourMergesWhenMadeWritable) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16, "rw"), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  ASSERT_EQ(Map(a, 16, 16, "r"), 0);
  EXPECT_EQ(Layout(a), "0-16:rw 16-32:r");
  EXPECT_FALSE(At(a, 16)->vm_flags & VM_ACCOUNT);  // read-only: not accounted
  Events e0 = Now();
  ASSERT_EQ(Mprotect(a, 16, 16, "rw"), 0);  // gains VM_ACCOUNT, so flags now equal
  EXPECT_EQ(Since(e0), (Events{.vma_free = 1}));
  EXPECT_EQ(Layout(a), "0-32:rw");
  EXPECT_TRUE(At(a, 0)->vm_flags & VM_ACCOUNT);
}

// anon_vma_compatible() ignores only the access bits: a faulted VMA made read-only
// keeps VM_ACCOUNT and still donates; a MAP_NORESERVE neighbour (no VM_ACCOUNT) does not
// get the anon_vma.
TEST_F(ModelTest, E2_OnlyAccessBitsMayDifferForAnonVmaSharing) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 4, "rw"), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  ASSERT_EQ(Mprotect(a, 0, 4, "r"), 0);
  ASSERT_EQ(Map(a, 4, 4, "rwx"), 0);
  Events e0 = Now();
  ASSERT_EQ(W(a, 4), Touch::kOk);
  EXPECT_EQ(Since(e0), (Events{.avc_alloc = 1}));
  EXPECT_EQ(AnonAt(a, 4), AnonAt(a, 0));
  MmapArgs nr = Args(8, 4, "rwx");
  nr.noreserve = true;
  ASSERT_EQ(Mmap(a, nr), 0);
  Events e1 = Now();
  ASSERT_EQ(W(a, 8), Touch::kOk);
  EXPECT_EQ(Since(e1), (Events{.av_alloc = 1, .avc_alloc = 1}));
  EXPECT_NE(AnonAt(a, 8), AnonAt(a, 4));
}

// ====================================================================================
// E3: fork chain, every process alive, one faulted VMA (the per-VMA segment).
// ====================================================================================

TEST_F(ModelTest, E3_ForkChainCostsChainLenPlusOneChainsAndOneAnonVmaPerFork) {
  Mm* p = model_.NewMm("P0");
  ASSERT_EQ(Map(*p, 0, 16), 0);
  ASSERT_EQ(W(*p, 0), Touch::kOk);
  for (int depth = 1; depth <= 3; ++depth) {
    SCOPED_TRACE("depth " + std::to_string(depth));
    Events e0 = Now();
    Mm* c = Fork(*p, "P" + std::to_string(depth));
    // vm_area_dup, `depth` clone AVCs, one new anon_vma and its AVC.
    EXPECT_EQ(Since(e0), (Events{.vma_alloc = 1, .av_alloc = 1, .avc_alloc = depth + 1}));
    EXPECT_EQ(ChainLen(*c, 0), static_cast<size_t>(depth + 1));
    EXPECT_NE(AnonAt(*c, 0), AnonAt(*p, 0));
    p = c;
  }
  // The depth-3 child's COW write: no rmap objects.
  Pfn shared = PfnAt(*p, 0);
  EXPECT_EQ(MapCount(shared), 4);
  Events e1 = Now();
  ASSERT_EQ(W(*p, 0), Touch::kOk);
  EXPECT_EQ(Since(e1), Events{});
  EXPECT_NE(PfnAt(*p, 0), shared);
  EXPECT_EQ(MapCount(shared), 3);
  EXPECT_EQ(FolioOf(PfnAt(*p, 0)).mapping, AnonAt(*p, 0));  // filed under its own
  // Its munmap: its own anon_vma goes, all 4 of its AVCs go.
  Events e2 = Now();
  ASSERT_EQ(Munmap(*p, 0, 16), 0);
  EXPECT_EQ(Since(e2), (Events{.vma_free = 1, .av_free = 1, .avc_free = 4}));
}

// Process-wide: a fork costs one VMA per copied VMA and, per faulted VMA,
// chain_len + 1 AVCs and one anon_vma; unfaulted VMAs cost no rmap object.
TEST_F(ModelTest, E3_WholeProcessForkCostIsTheSumOfChainLenPlusOne) {
  Mm& p0 = *model_.NewMm("P0");
  ASSERT_EQ(Map(p0, 0, 4), 0);
  ASSERT_EQ(W(p0, 0), Touch::kOk);
  Mm& p1 = *Fork(p0, "P1");  // X: chain 2 in P1
  ASSERT_EQ(Map(p1, 8, 4), 0);
  ASSERT_EQ(W(p1, 8), Touch::kOk);  // Y: chain 1
  ASSERT_EQ(Map(p1, 16, 4), 0);     // Z: unfaulted
  ASSERT_EQ(Map(p1, 24, 4, "r"), 0);
  ASSERT_EQ(R(p1, 24), Touch::kOk);  // zero page only: still unfaulted
  Events e0 = Now();
  Mm& p2 = *Fork(p1, "P2");
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 4, .av_alloc = 2, .avc_alloc = (2 + 1) + (1 + 1)}));
  EXPECT_EQ(ChainLen(p2, 0), 3u);
  EXPECT_EQ(ChainLen(p2, 8), 2u);
  EXPECT_EQ(ChainLen(p2, 16), 0u);
  EXPECT_EQ(PfnAt(p2, 24), kNoPfn);  // no anon_vma: page tables not copied
}

// ====================================================================================
// E4: daemon chain, each parent unmaps the VMA after forking.
// ====================================================================================

TEST_F(ModelTest, E4_DaemonChainStopsGrowingAtThreeThroughReuse) {
  Mm* p = model_.NewMm("P0");
  ASSERT_EQ(Map(*p, 0, 16), 0);
  ASSERT_EQ(W(*p, 0), Touch::kOk);
  const int64_t want_fork_avc[] = {2, 3, 3, 3, 3, 3};
  const int64_t want_fork_av[] = {1, 1, 0, 0, 0, 0};
  const int64_t want_unmap_avc[] = {1, 2, 3, 3, 3, 3};
  for (int gen = 0; gen < 6; ++gen) {
    SCOPED_TRACE("fork " + std::to_string(gen + 1));
    Events e0 = Now();
    Mm* c = Fork(*p, "P" + std::to_string(gen + 1));
    EXPECT_EQ(Since(e0), (Events{.vma_alloc = 1,
                                 .av_alloc = want_fork_av[gen],
                                 .avc_alloc = want_fork_avc[gen]}));
    Events e1 = Now();
    ASSERT_EQ(Munmap(*p, 0, 16), 0);
    EXPECT_EQ(Since(e1), (Events{.vma_free = 1, .avc_free = want_unmap_avc[gen]}));
    p = c;
  }
  EXPECT_EQ(ChainLen(*p, 0), 3u);
  EXPECT_EQ(LiveAnonVmas(), 3);
  // The last unmap frees the whole family.
  Events e2 = Now();
  ASSERT_EQ(Munmap(*p, 0, 16), 0);
  EXPECT_EQ(Since(e2), (Events{.vma_free = 1, .av_free = 3, .avc_free = 3}));
  EXPECT_EQ(LiveAnonVmas(), 0);
  EXPECT_EQ(LiveAvcs(), 0);
}

// ====================================================================================
// E5: mprotect split and re-merge; munmap pieces.
// ====================================================================================

TEST_F(ModelTest, E5_UnfaultedMiddleSplitAndRemerge) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 48), 0);
  Events e0 = Now();
  ASSERT_EQ(Mprotect(a, 16, 16, "r"), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 2}));
  EXPECT_EQ(Layout(a), "0-16:rw 16-32:r 32-48:rw");
  Events e1 = Now();
  ASSERT_EQ(Mprotect(a, 16, 16, "rw"), 0);
  EXPECT_EQ(Since(e1), (Events{.vma_free = 2}));
  EXPECT_EQ(Layout(a), "0-48:rw");
}

TEST_F(ModelTest, E5_FaultedMiddleSplitAndRemerge) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 48), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  Events e0 = Now();
  ASSERT_EQ(Mprotect(a, 16, 16, "r"), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 2, .avc_alloc = 2}));
  EXPECT_TRUE(At(a, 16)->vm_flags & VM_ACCOUNT);  // faulted: the charge stays
  Events e1 = Now();
  ASSERT_EQ(Mprotect(a, 16, 16, "rw"), 0);
  EXPECT_EQ(Since(e1), (Events{.vma_free = 2, .avc_free = 2}));
  EXPECT_EQ(Layout(a), "0-48:rw");
}

TEST_F(ModelTest, E5_FaultedHeadOnlySplitAndRemerge) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 48), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  Events e0 = Now();
  ASSERT_EQ(Mprotect(a, 0, 16, "r"), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 1, .avc_alloc = 1}));
  EXPECT_EQ(Layout(a), "0-16:r 16-48:rw");
  Events e1 = Now();
  ASSERT_EQ(Mprotect(a, 0, 16, "rw"), 0);
  EXPECT_EQ(Since(e1), (Events{.vma_free = 1, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "0-48:rw");
}

// selftests merge.c mprotect_unfaulted_left, with and without MAP_NORESERVE.
TEST_F(ModelTest, E5_MprotectUnfaultedLeftAccountedDoesNotMerge) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 1, 10, "rw"), 0);
  ASSERT_EQ(Mprotect(a, 1, 5, "r"), 0);  // unfaulted: VM_ACCOUNT dropped
  ASSERT_EQ(W(a, 6), Touch::kOk);
  Events e0 = Now();
  ASSERT_EQ(Mprotect(a, 6, 5, "r"), 0);  // faulted: VM_ACCOUNT kept
  EXPECT_EQ(Since(e0), Events{});
  EXPECT_EQ(Layout(a), "1-6:r 6-11:r");
  EXPECT_FALSE(At(a, 1)->vm_flags & VM_ACCOUNT);
  EXPECT_TRUE(At(a, 6)->vm_flags & VM_ACCOUNT);
}

TEST_F(ModelTest, E5_MprotectUnfaultedLeftNoreserveMerges) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 1, 10, "rw", /*noreserve=*/true), 0);
  ASSERT_EQ(Mprotect(a, 1, 5, "r"), 0);
  ASSERT_EQ(W(a, 6), Touch::kOk);
  const AnonVmaBase* av = AnonAt(a, 6);
  Events e0 = Now();
  ASSERT_EQ(Mprotect(a, 6, 5, "r"), 0);
  // dup_anon_vma() into the unfaulted left piece, then the faulted piece goes.
  EXPECT_EQ(Since(e0), (Events{.vma_free = 1, .avc_alloc = 1, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "1-11:r");
  EXPECT_EQ(AnonAt(a, 1), av);
}

// The other mprotect_* cases of selftests merge.c (all MAP_NORESERVE, all merge).
TEST_F(ModelTest, Selftest_MprotectUnfaultedRight) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 1, 10, "rw", true), 0);
  ASSERT_EQ(Mprotect(a, 6, 5, "r"), 0);
  ASSERT_EQ(W(a, 1), Touch::kOk);
  ASSERT_EQ(Mprotect(a, 1, 5, "r"), 0);
  EXPECT_EQ(Layout(a), "1-11:r");
}

TEST_F(ModelTest, Selftest_MprotectUnfaultedBoth) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 2, 9, "rw", true), 0);
  ASSERT_EQ(Mprotect(a, 2, 3, "r"), 0);
  ASSERT_EQ(Mprotect(a, 8, 3, "r"), 0);
  ASSERT_EQ(W(a, 5), Touch::kOk);
  ASSERT_EQ(Mprotect(a, 5, 3, "r"), 0);
  EXPECT_EQ(Layout(a), "2-11:r");
}

TEST_F(ModelTest, Selftest_MprotectFaultedLeftUnfaultedRight) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 2, 9, "rw", true), 0);
  ASSERT_EQ(Mprotect(a, 8, 3, "r"), 0);
  ASSERT_EQ(W(a, 2), Touch::kOk);
  ASSERT_EQ(Mprotect(a, 2, 3, "r"), 0);
  ASSERT_EQ(Mprotect(a, 5, 3, "r"), 0);
  EXPECT_EQ(Layout(a), "2-11:r");
}

TEST_F(ModelTest, Selftest_MprotectUnfaultedLeftFaultedRight) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 2, 9, "rw", true), 0);
  ASSERT_EQ(Mprotect(a, 2, 3, "r"), 0);
  ASSERT_EQ(W(a, 5), Touch::kOk);
  ASSERT_EQ(Mprotect(a, 8, 3, "r"), 0);
  ASSERT_EQ(Mprotect(a, 5, 3, "r"), 0);
  EXPECT_EQ(Layout(a), "2-11:r");
}

TEST_F(ModelTest, E5_MunmapMiddleThenPiecesOfAFaultedVma) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 48), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  Events e0 = Now();
  ASSERT_EQ(Munmap(a, 16, 16), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 2, .vma_free = 1, .avc_alloc = 2, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "0-16:rw 32-48:rw");
  Events e1 = Now();
  ASSERT_EQ(Munmap(a, 32, 16), 0);
  EXPECT_EQ(Since(e1), (Events{.vma_free = 1, .avc_free = 1}));
  Events e2 = Now();
  ASSERT_EQ(Munmap(a, 0, 16), 0);
  EXPECT_EQ(Since(e2), (Events{.vma_free = 1, .av_free = 1, .avc_free = 1}));
  EXPECT_EQ(a.map_count(), 0);
  EXPECT_EQ(a.pt.present(), 0u);
}

// ====================================================================================
// E6: mremap.
// ====================================================================================

TEST_F(ModelTest, E6A_MovedFaultedVmaNeverMergesWithNewNeighbours) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  Pfn p = PfnAt(a, 0);
  Events e0 = Now();
  ASSERT_EQ(Move(a, 0, 16, 0x1000), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 1, .vma_free = 1, .avc_alloc = 1, .avc_free = 1}));
  EXPECT_EQ(PfnAt(a, 0x1000), p);  // the page moved, not copied
  EXPECT_EQ(PfnAt(a, 0), kNoPfn);
  EXPECT_EQ(At(a, 0x1000)->vm_pgoff, Pg(0));  // faulted: keeps its old pgoff
  EXPECT_EQ(FolioOf(p).index, Pg(0));
  ASSERT_EQ(Map(a, 0x1010, 16), 0);
  ASSERT_EQ(Map(a, 0xff0, 16), 0);
  EXPECT_EQ(Layout(a), "4080-4096:rw 4096-4112:rw 4112-4128:rw");
}

TEST_F(ModelTest, E6B_MovedUnfaultedVmaBehavesLikeAFreshMmap) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  Events e0 = Now();
  ASSERT_EQ(Move(a, 0, 16, 0x1000), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 1, .vma_free = 1}));
  EXPECT_EQ(At(a, 0x1000)->vm_pgoff, Pg(0x1000));  // unfaulted: pgoff reset
  Events e1 = Now();
  ASSERT_EQ(Map(a, 0x1010, 16), 0);
  EXPECT_EQ(Since(e1), Events{});
  EXPECT_EQ(Layout(a), "4096-4128:rw");
}

TEST_F(ModelTest, E6C_HalfMovedAwayAndBackRemerges) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 32), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  ASSERT_EQ(W(a, 20), Touch::kOk);
  Events e0 = Now();
  ASSERT_EQ(Move(a, 16, 16, 0x1000), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 2, .vma_free = 1, .avc_alloc = 2, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "0-16:rw 4096-4112:rw");
  EXPECT_EQ(At(a, 0x1000)->vm_pgoff, Pg(16));
  Events e1 = Now();
  ASSERT_EQ(Move(a, 0x1000, 16, 16), 0);
  EXPECT_EQ(Since(e1), (Events{.vma_free = 1, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "0-32:rw");
  EXPECT_EQ(FolioOf(PfnAt(a, 20)).index, Pg(20));
}

TEST_F(ModelTest, E6D_MultiVmaMoveOfThreeFaultedVmas) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 12), 0);
  WriteAll(a, 0, 12);
  ASSERT_EQ(Mprotect(a, 4, 4, "r"), 0);
  EXPECT_EQ(Layout(a), "0-4:rw 4-8:r 8-12:rw");
  Events e0 = Now();
  ASSERT_EQ(Move(a, 0, 12, 0x100), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 3, .vma_free = 3, .avc_alloc = 3, .avc_free = 3}));
  EXPECT_EQ(Layout(a), "256-260:rw 260-264:r 264-268:rw");
  EXPECT_EQ(a.pt.present(), 12u);
}

// tests/../shared/scenarios/multi-vma-move.rmap (native: av 2/0, avc 4/2 in total).
TEST_F(ModelTest, E6D_MultiVmaMoveWithAnUnfaultedMiddleMatchesTheNativeRun) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 4, "rw"), 0);
  ASSERT_EQ(Map(a, 4, 4, "r"), 0);
  ASSERT_EQ(Map(a, 8, 4, "rw"), 0);
  WriteAll(a, 0, 4);
  WriteAll(a, 8, 4);
  ASSERT_EQ(Move(a, 0, 12, 0x100), 0);
  EXPECT_EQ(Layout(a), "256-260:rw 260-264:r 264-268:rw");
  auto o = scheme_->Objects();
  EXPECT_EQ(o["anon_vma"].alloc, 2);
  EXPECT_EQ(o["anon_vma"].free, 0);
  EXPECT_EQ(o["anon_vma_chain"].alloc, 4);
  EXPECT_EQ(o["anon_vma_chain"].free, 2);
}

TEST_F(ModelTest, E6D_MultiVmaMoveKeepsInteriorAndTrailingHoles) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 4, "rw"), 0);
  ASSERT_EQ(Map(a, 6, 4, "r"), 0);
  ASSERT_EQ(W(a, 1), Touch::kOk);
  // Something already at the destination of the interior hole stays there.
  ASSERT_EQ(Map(a, 0x104, 2, "rwx"), 0);
  ASSERT_EQ(Move(a, 0, 12, 0x100), 0);  // [10,12) is a trailing hole
  EXPECT_EQ(Layout(a), "256-260:rw 260-262:rwx 262-266:r");
}

TEST_F(ModelTest, E6D_MultiVmaMoveWithALeadingHoleIsEfault) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 2, 4, "rw"), 0);
  ASSERT_EQ(Map(a, 6, 4, "r"), 0);
  Events e0 = Now();
  EXPECT_EQ(Move(a, 0, 10, 0x100), -EFAULT);
  EXPECT_EQ(Since(e0), Events{});
  EXPECT_EQ(Layout(a), "2-6:rw 6-10:r");
  EXPECT_EQ(Move(a, 20, 4, 0x100), -EFAULT);  // nothing at all in the range
}

TEST_F(ModelTest, E6D_ResizeAcrossTwoVmasIsEfault) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 4, "rw"), 0);
  ASSERT_EQ(Map(a, 4, 4, "r"), 0);
  EXPECT_EQ(Mremap(a, 0, 8, 16, Model::kMremapMaymove), -EFAULT);
  EXPECT_EQ(Mremap(a, 0, 8, 16), -EFAULT);
  EXPECT_EQ(Mremap(a, 0, 8, 12, kMove, 0x100), -EFAULT);  // move + grow: one VMA only
  EXPECT_EQ(Layout(a), "0-4:rw 4-8:r");
  // A shrink may cross VMAs: it is a munmap of the tail.
  EXPECT_EQ(Mremap(a, 0, 8, 2), 0);
  EXPECT_EQ(Layout(a), "0-2:rw");
}

TEST_F(ModelTest, E6D_MultiVmaMoveWithDontunmap) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 4, "rw"), 0);
  ASSERT_EQ(Map(a, 4, 4, "r"), 0);
  WriteAll(a, 0, 4);
  ASSERT_EQ(Mremap(a, 0, 8, 8, kDontunmap, 0x100), 0);
  EXPECT_EQ(Layout(a), "0-4:rw 4-8:r 256-260:rw 260-264:r");
  EXPECT_EQ(PfnAt(a, 0), kNoPfn);
  EXPECT_GT(PfnAt(a, 0x100), kZeroPfn);
  EXPECT_EQ(AnonAt(a, 0), nullptr);  // the whole source VMA moved: unlinked
}

TEST_F(ModelTest, E6E_DontunmapLeavesAnEmptyUnfaultedSource) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  WriteAll(a, 0, 4);
  Pfn p = PfnAt(a, 0);
  Events e0 = Now();
  ASSERT_EQ(Mremap(a, 0, 16, 16, kDontunmap, 0x1000), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 1, .avc_alloc = 1, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "0-16:rw 4096-4112:rw");
  EXPECT_EQ(PfnAt(a, 0x1000), p);
  EXPECT_EQ(AnonAt(a, 0), nullptr);
  EXPECT_EQ(ChainLen(a, 0), 0u);
  EXPECT_TRUE(At(a, 0)->vm_flags & VM_ACCOUNT);  // kept since the Oct 2025 fix
  EXPECT_EQ(R(a, 0), Touch::kOk);
  EXPECT_EQ(PfnAt(a, 0), kZeroPfn);  // reads 0
  Events e1 = Now();
  EXPECT_EQ(W(a, 1), Touch::kOk);
  EXPECT_EQ(Since(e1), (Events{.av_alloc = 1, .avc_alloc = 1}));  // a fresh anon_vma
  EXPECT_NE(AnonAt(a, 0), AnonAt(a, 0x1000));
}

TEST_F(ModelTest, E6E_PartialDontunmapKeepsTheSourceFaulted) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  WriteAll(a, 0, 16);
  const AnonVmaBase* av = AnonAt(a, 0);
  ASSERT_EQ(Mremap(a, 4, 4, 4, kDontunmap, 0x1000), 0);
  EXPECT_EQ(Layout(a), "0-16:rw 4096-4100:rw");  // the source is not split
  EXPECT_EQ(AnonAt(a, 0), av);
  EXPECT_EQ(PfnAt(a, 4), kNoPfn);
  EXPECT_GT(PfnAt(a, 3), kZeroPfn);
  EXPECT_EQ(At(a, 0x1000)->vm_pgoff, Pg(4));
}

// A DONTUNMAP move of part of an unfaulted VMA to just past its end: copy_vma() merges
// the source VMA with its own destination ([28,40) + [40,46), pgoff linear, both
// unfaulted), so the source VMA now extends past the end of the range. remap_move()'s
// for_each_vma_range() does not look at it again: after the pause the maple iterator
// resumes at mas->last + 1 = 41 >= end, so mas_find() returns NULL and the call returns
// new_addr. Found by ModelPropertySeeded (seed 2954).
TEST_F(ModelTest, Regress_DontunmapSourceMergedWithItsDestinationIsMovedOnce) {
  // Was a model bug (remap_move() revisited the merged source): tests/regress/
  // dontunmap-merges-with-own-destination.rmap holds it against the kernel.
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 28, 13), 0);
  EXPECT_EQ(Mremap(a, 33, 6, 6, kDontunmap, 40), 0);
  EXPECT_EQ(Layout(a), "28-46:rw");
}

TEST_F(ModelTest, E6F_GrowInPlaceAbsorbNextAndShrink) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  Events e0 = Now();
  ASSERT_EQ(Mremap(a, 0, 16, 24), 0);
  EXPECT_EQ(Since(e0), Events{});
  EXPECT_EQ(Layout(a), "0-24:rw");
  ASSERT_EQ(Map(a, 32, 8), 0);  // unfaulted, pgoff-linear
  Events e1 = Now();
  ASSERT_EQ(Mremap(a, 0, 24, 32), 0);  // touches the next: it is absorbed
  EXPECT_EQ(Since(e1), (Events{.vma_free = 1}));
  EXPECT_EQ(Layout(a), "0-40:rw");
  ASSERT_EQ(Mremap(a, 0, 40, 48), 0);
  Events e2 = Now();
  ASSERT_EQ(Mremap(a, 0, 48, 8), 0);
  EXPECT_EQ(Since(e2), (Events{.vma_alloc = 1, .vma_free = 1, .avc_alloc = 1, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "0-8:rw");
}

TEST_F(ModelTest, E6F_GrowInPlaceRefusals) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  ASSERT_EQ(Map(a, 20, 4, "r"), 0);
  EXPECT_EQ(Mremap(a, 0, 16, 24), -ENOMEM);  // the room after is taken
  EXPECT_EQ(Mremap(a, 0, 8, 12), -ENOMEM);   // does not end at vm_end
  EXPECT_EQ(Mremap(a, 8, 4, 4), 0);          // same size: nothing to do
  EXPECT_EQ(Mremap(a, 16, 4, 8), -EFAULT);   // no VMA at the address
  EXPECT_EQ(Layout(a), "0-16:rw 20-24:r");
  EXPECT_EQ(Mremap(a, 0, 16, 20), 0);  // exactly up to the next, different flags
  EXPECT_EQ(Layout(a), "0-20:rw 20-24:r");
}

TEST_F(ModelTest, E6G_FaultedMovedBackNextToALinedUpUnfaultedVmaMerges) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  WriteAll(a, 0, 2);
  ASSERT_EQ(Move(a, 0, 16, 0x1000), 0);
  ASSERT_EQ(Map(a, 16, 16), 0);  // unfaulted, pgoff = 16: lines up with the mover's 0
  const AnonVmaBase* av = AnonAt(a, 0x1000);
  Events e0 = Now();
  ASSERT_EQ(Move(a, 0x1000, 16, 0), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_free = 1, .avc_alloc = 1, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "0-32:rw");
  EXPECT_EQ(AnonAt(a, 0), av);
  EXPECT_EQ(At(a, 0)->vm_pgoff, Pg(0));
}

TEST_F(ModelTest, E6H_FaultedMovedNextToAMisalignedUnfaultedVmaDoesNotMerge) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  WriteAll(a, 0, 2);
  ASSERT_EQ(Map(a, 0x1000, 16), 0);  // unfaulted at 0x1000, pgoff 0x1000
  Events e0 = Now();
  ASSERT_EQ(Move(a, 0, 16, 0x1010), 0);  // mover keeps pgoff 0: not linear
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 1, .vma_free = 1, .avc_alloc = 1, .avc_free = 1}));
  EXPECT_EQ(Layout(a), "4096-4112:rw 4112-4128:rw");
}

// ====================================================================================
// E7: COW and reuse.
// ====================================================================================

TEST_F(ModelTest, E7_ChildWritesFirstThenParentReuses) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 4), 0);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  Pfn orig = PfnAt(p, 0);
  EXPECT_EQ(MapCount(orig), 1);
  Mm& c = *Fork(p, "C");
  EXPECT_EQ(MapCount(orig), 2);
  EXPECT_EQ(PfnAt(c, 0), orig);
  EXPECT_FALSE(FolioOf(orig).anon_exclusive);
  Events e0 = Now();
  ASSERT_EQ(W(c, 0), Touch::kOk);
  EXPECT_NE(PfnAt(c, 0), orig);
  EXPECT_EQ(MapCount(orig), 1);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  EXPECT_EQ(PfnAt(p, 0), orig);  // reuse, not copy
  EXPECT_TRUE(FolioOf(orig).anon_exclusive);
  EXPECT_EQ(Since(e0), Events{});
  EXPECT_EQ(model_.stats().cow_reuses, 1);
}

TEST_F(ModelTest, E7_ParentWritesFirstThenChildReuses) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 4), 0);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  Pfn orig = PfnAt(p, 0);
  Mm& c = *Fork(p, "C");
  Events e0 = Now();
  ASSERT_EQ(W(p, 0), Touch::kOk);
  EXPECT_NE(PfnAt(p, 0), orig);
  EXPECT_EQ(FolioOf(PfnAt(p, 0)).mapping, AnonAt(p, 0));
  ASSERT_EQ(W(c, 0), Touch::kOk);
  EXPECT_EQ(PfnAt(c, 0), orig);
  // folio_move_anon_rmap(): the reused folio is now filed under the child's anon_vma.
  EXPECT_EQ(FolioOf(orig).mapping, AnonAt(c, 0));
  EXPECT_EQ(Since(e0), Events{});
}

TEST_F(ModelTest, E7_ChildExitsUntouchedThenParentReuses) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 4), 0);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  Pfn orig = PfnAt(p, 0);
  Mm& c = *Fork(p, "C");
  Exit(c);
  EXPECT_FALSE(c.alive);
  EXPECT_EQ(MapCount(orig), 1);
  Events e0 = Now();
  ASSERT_EQ(W(p, 0), Touch::kOk);
  EXPECT_EQ(PfnAt(p, 0), orig);
  EXPECT_EQ(Since(e0), Events{});
}

TEST_F(ModelTest, E7_PrivateFileMappingCopiesOnWrite) {
  File* f = model_.NewFile("F", 16);
  Mm& a = *model_.NewMm("A");
  MmapArgs args = Args(0, 16, "rw");
  args.file = f;
  ASSERT_EQ(Mmap(a, args), 0);
  Events e0 = Now();
  ASSERT_EQ(R(a, 3), Touch::kOk);
  EXPECT_EQ(Since(e0), Events{});
  EXPECT_EQ(PfnAt(a, 3), f->page_cache[3]);
  EXPECT_EQ(AnonAt(a, 3), nullptr);
  Events e1 = Now();
  ASSERT_EQ(W(a, 3), Touch::kOk);
  EXPECT_EQ(Since(e1), (Events{.av_alloc = 1, .avc_alloc = 1}));
  EXPECT_NE(PfnAt(a, 3), f->page_cache[3]);
  EXPECT_EQ(FolioOf(PfnAt(a, 3)).kind, FolioKind::kAnon);
  EXPECT_EQ(FolioOf(PfnAt(a, 3)).index, 3u);  // file offset of the page
  Events e2 = Now();
  ASSERT_EQ(W(a, 9), Touch::kOk);  // another page, first touch a write: do_cow_fault
  EXPECT_EQ(Since(e2), Events{});
  EXPECT_EQ(FolioOf(PfnAt(a, 9)).kind, FolioKind::kAnon);
  EXPECT_EQ(FolioOf(f->page_cache[3]).kind, FolioKind::kFile);
}

// ====================================================================================
// E8: madvise.
// ====================================================================================

TEST_F(ModelTest, E8_DontforkAndWipeonforkAtFork) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 4), 0);
  ASSERT_EQ(Map(p, 8, 4), 0);
  ASSERT_EQ(Map(p, 16, 4), 0);
  WriteAll(p, 0, 4);
  WriteAll(p, 8, 4);
  WriteAll(p, 16, 4);
  Events e0 = Now();
  ASSERT_EQ(Madvise(p, 0, 4, MadviseBehavior::kDontfork), 0);
  ASSERT_EQ(Madvise(p, 8, 4, MadviseBehavior::kWipeonfork), 0);
  EXPECT_EQ(Since(e0), Events{});
  Events e1 = Now();
  Mm& c = *Fork(p, "C");
  // Only the plain VMA costs AVCs and an anon_vma; the WIPEONFORK copy has none.
  EXPECT_EQ(Since(e1), (Events{.vma_alloc = 2, .av_alloc = 1, .avc_alloc = 2}));
  EXPECT_EQ(Layout(c), "8-12:rw 16-20:rw");
  EXPECT_EQ(AnonAt(c, 8), nullptr);
  EXPECT_EQ(PfnAt(c, 8), kNoPfn);
  EXPECT_TRUE(At(c, 8)->vm_flags & VM_WIPEONFORK);
  EXPECT_EQ(R(c, 8), Touch::kOk);
  EXPECT_EQ(PfnAt(c, 8), kZeroPfn);  // reads 0
  Events e2 = Now();
  ASSERT_EQ(W(c, 9), Touch::kOk);
  EXPECT_EQ(Since(e2), (Events{.av_alloc = 1, .avc_alloc = 1}));  // a brand-new root
  EXPECT_EQ(ChainLen(c, 8), 1u);
  EXPECT_EQ(PfnAt(c, 16), PfnAt(p, 16));
}

TEST_F(ModelTest, E8_DontneedZapsWithoutUnfaulting) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 8), 0);
  WriteAll(a, 0, 4);
  const AnonVmaBase* av = AnonAt(a, 0);
  int64_t live = static_cast<int64_t>(model_.folios().live());
  Events e0 = Now();
  ASSERT_EQ(Madvise(a, 0, 8, MadviseBehavior::kDontneed), 0);
  EXPECT_EQ(Since(e0), Events{});
  EXPECT_EQ(a.pt.present(), 0u);
  EXPECT_EQ(static_cast<int64_t>(model_.folios().live()), live - 4);
  EXPECT_EQ(AnonAt(a, 0), av);  // still faulted
  Events e1 = Now();
  ASSERT_EQ(W(a, 2), Touch::kOk);
  EXPECT_EQ(Since(e1), Events{});
  EXPECT_EQ(FolioOf(PfnAt(a, 2)).mapping, av);
}

TEST_F(ModelTest, E8_PartialDontforkSplits) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 12), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  Events e0 = Now();
  ASSERT_EQ(Madvise(a, 4, 4, MadviseBehavior::kDontfork), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 2, .avc_alloc = 2}));
  EXPECT_EQ(a.map_count(), 3);
  EXPECT_TRUE(At(a, 4)->vm_flags & VM_DONTCOPY);
  Events e1 = Now();
  ASSERT_EQ(Madvise(a, 4, 4, MadviseBehavior::kDofork), 0);
  EXPECT_EQ(Since(e1), (Events{.vma_free = 2, .avc_free = 2}));
  EXPECT_EQ(Layout(a), "0-12:rw");
}

TEST_F(ModelTest, E8_FreeThenPageoutDiscardsOnlyCleanExclusivePages) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 4), 0);
  WriteAll(a, 0, 4);
  Mm& c = *Fork(a, "C");
  ASSERT_EQ(W(a, 1), Touch::kOk);  // a's own copy of page 1
  ASSERT_EQ(Madvise(a, 0, 4, MadviseBehavior::kFree), 0);
  ASSERT_EQ(W(a, 2), Touch::kOk);  // page 2 shared with C: COW copy, not lazyfree
  ASSERT_EQ(Madvise(a, 0, 4, MadviseBehavior::kCold), 0);
  EXPECT_EQ(a.pt.present(), 4u);
  ASSERT_EQ(Madvise(a, 0, 4, MadviseBehavior::kPageout), 0);
  // Only page 1 was exclusive, lazyfree and still clean.
  EXPECT_EQ(PfnAt(a, 1), kNoPfn);
  EXPECT_NE(PfnAt(a, 0), kNoPfn);
  EXPECT_NE(PfnAt(a, 2), kNoPfn);
  EXPECT_NE(PfnAt(a, 3), kNoPfn);
  EXPECT_EQ(c.pt.present(), 4u);
}

// MADV_FREE cleans the caller's PTE and marks the folio lazyfree; reclaim
// (try_to_unmap_one()) discards a lazyfree folio only if neither its PTE nor the folio
// is dirty, otherwise it is swap-backed again and stays.
TEST_F(ModelTest, E8_FreedPageRewrittenBeforePageoutStays) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 2), 0);
  WriteAll(a, 0, 2);
  EXPECT_TRUE(a.pt.Dirty(Pg(0)));  // the store dirtied the PTE
  ASSERT_EQ(Madvise(a, 0, 2, MadviseBehavior::kFree), 0);
  Pfn p0 = PfnAt(a, 0);
  EXPECT_FALSE(a.pt.Dirty(Pg(0)));
  EXPECT_TRUE(FolioOf(p0).lazyfree);
  ASSERT_EQ(W(a, 0), Touch::kOk);  // exclusive: written in place, PTE dirty again
  EXPECT_EQ(PfnAt(a, 0), p0);
  EXPECT_TRUE(a.pt.Dirty(Pg(0)));
  ASSERT_EQ(Madvise(a, 0, 2, MadviseBehavior::kPageout), 0);
  EXPECT_EQ(PfnAt(a, 0), p0);  // dirty: kept, swap-backed again
  EXPECT_FALSE(FolioOf(p0).lazyfree);
  EXPECT_EQ(PfnAt(a, 1), kNoPfn);  // clean and lazyfree: discarded
  EXPECT_EQ(R(a, 1), Touch::kOk);
  EXPECT_EQ(PfnAt(a, 1), kZeroPfn);  // reads zero
  // A second MADV_FREE clears PG_dirty (this is the folio's only mapping): now it goes.
  ASSERT_EQ(Madvise(a, 0, 1, MadviseBehavior::kFree), 0);
  ASSERT_EQ(Madvise(a, 0, 1, MadviseBehavior::kPageout), 0);
  EXPECT_EQ(PfnAt(a, 0), kNoPfn);
}

// copy_present_pte() gives a private child PTE the parent's dirty bit.
TEST_F(ModelTest, E8_FreeBeforeForkGivesTheChildACleanPte) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 1), 0);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  ASSERT_EQ(Madvise(p, 0, 1, MadviseBehavior::kFree), 0);
  Mm& c = *Fork(p, "C");
  EXPECT_FALSE(c.pt.Dirty(Pg(0)));
  Exit(p);
  ASSERT_EQ(Madvise(c, 0, 1, MadviseBehavior::kPageout), 0);
  EXPECT_EQ(PfnAt(c, 0), kNoPfn);  // clean lazyfree, mapped once: discarded
}

TEST_F(ModelTest, E8_FreeAfterForkLeavesTheChildsPteDirty) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 1), 0);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  Mm& c = *Fork(p, "C");
  EXPECT_TRUE(c.pt.Dirty(Pg(0)));
  Pfn pfn = PfnAt(c, 0);
  ASSERT_EQ(Madvise(p, 0, 1, MadviseBehavior::kFree), 0);  // shared: lazyfree anyway
  EXPECT_TRUE(FolioOf(pfn).lazyfree);
  EXPECT_FALSE(p.pt.Dirty(Pg(0)));
  EXPECT_TRUE(c.pt.Dirty(Pg(0)));  // only the caller's PTE is cleaned
  Exit(p);
  ASSERT_EQ(Madvise(c, 0, 1, MadviseBehavior::kPageout), 0);
  EXPECT_EQ(PfnAt(c, 0), pfn);  // the child's dirty PTE keeps it
}

TEST_F(ModelTest, E8_DirtyBitsMoveWithMremap) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 2), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  ASSERT_EQ(R(a, 1), Touch::kOk);
  ASSERT_EQ(Move(a, 0, 2, 0x100), 0);
  EXPECT_TRUE(a.pt.Dirty(Pg(0x100)));
  EXPECT_FALSE(a.pt.Dirty(Pg(0x101)));  // the zero page is never dirty
}

// MADV_PAGEOUT without swap: page-cache and shmem pages mapped once are unmapped; clean
// ones leave the page cache, dirty ones (written, or memfd contents) stay in it.
TEST_F(ModelTest, E8_PageoutUnmapsPageCachePagesMappedOnce) {
  File* f = model_.NewFile("F", 4);  // like the native memfd: every page dirty
  Mm& a = *model_.NewMm("A");
  MmapArgs pf = Args(0, 4, "r");
  pf.file = f;
  ASSERT_EQ(Mmap(a, pf), 0);
  ASSERT_EQ(R(a, 0), Touch::kOk);  // fault-around maps all four
  EXPECT_EQ(a.pt.present(), 4u);
  MmapArgs again = Args(16, 1, "r");  // file page 1 mapped a second time
  again.file = f;
  again.pgoff = 1;
  again.shared = true;
  ASSERT_EQ(Mmap(a, again), 0);
  ASSERT_EQ(R(a, 16), Touch::kOk);
  MmapArgs s = Args(8, 2, "rw");
  s.shared = true;
  ASSERT_EQ(Mmap(a, s), 0);
  ASSERT_EQ(W(a, 8), Touch::kOk);  // dirty shmem page
  ASSERT_EQ(R(a, 9), Touch::kOk);  // clean shmem page
  File* shm = At(a, 8)->vm_file;
  Pfn written = PfnAt(a, 8);
  Pfn f0 = f->page_cache[0], f1 = f->page_cache[1];
  int64_t anon_vmas = LiveAnonVmas();
  EXPECT_EQ(Madvise(a, 0, 20, MadviseBehavior::kPageout), -ENOMEM);  // holes
  EXPECT_EQ(PfnAt(a, 0), kNoPfn);
  EXPECT_EQ(PfnAt(a, 1), f1);  // mapped twice: not isolated
  EXPECT_EQ(PfnAt(a, 16), f1);
  EXPECT_EQ(PfnAt(a, 2), kNoPfn);
  EXPECT_EQ(PfnAt(a, 8), kNoPfn);
  EXPECT_EQ(PfnAt(a, 9), kNoPfn);
  EXPECT_EQ(f->page_cache[0], f0);         // dirty file page: stays cached
  EXPECT_EQ(shm->page_cache[0], written);  // dirty shmem page: stays
  EXPECT_EQ(shm->page_cache[1], kNoPfn);   // clean shmem page: dropped
  EXPECT_EQ(LiveAnonVmas(), anon_vmas);
  ASSERT_EQ(R(a, 0), Touch::kOk);
  EXPECT_EQ(PfnAt(a, 0), f0);
  ASSERT_EQ(R(a, 8), Touch::kOk);
  EXPECT_EQ(PfnAt(a, 8), written);
  ASSERT_EQ(R(a, 9), Touch::kOk);  // a fresh (zero) shmem page
  EXPECT_EQ(PfnAt(a, 9), shm->page_cache[1]);
  EXPECT_NE(shm->page_cache[1], kNoPfn);
}

// ====================================================================================
// E11: fork-child merge rules.
// ====================================================================================

TEST_F(ModelTest, E11_ChildMmapNextToInheritedFaultedVmaDoesNotMerge) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 4), 0);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  Mm& c = *Fork(p, "C");
  WriteAll(c, 0, 4);  // un-COW everything: the AVC to the parent's anon_vma stays
  EXPECT_EQ(ChainLen(c, 0), 2u);
  ASSERT_EQ(Map(c, 4, 4), 0);
  EXPECT_EQ(Layout(c), "0-4:rw 4-8:rw");
  ASSERT_EQ(Map(p, 4, 4), 0);
  EXPECT_EQ(Layout(p), "0-8:rw");
}

TEST_F(ModelTest, E11_ChildSplitAndRemergeOfAnInheritedVma) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 12), 0);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  Mm& c = *Fork(p, "C");
  Events e0 = Now();
  ASSERT_EQ(Mprotect(c, 4, 4, "r"), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 2, .avc_alloc = 4}));
  EXPECT_EQ(ChainLen(c, 0), 2u);
  EXPECT_EQ(ChainLen(c, 4), 2u);
  EXPECT_EQ(ChainLen(c, 8), 2u);
  Events e1 = Now();
  ASSERT_EQ(Mprotect(c, 4, 4, "rw"), 0);  // same anon_vma: case 3 merges
  EXPECT_EQ(Since(e1), (Events{.vma_free = 2, .avc_free = 4}));
  EXPECT_EQ(Layout(c), "0-12:rw");
}

TEST_F(ModelTest, E11_ChildFirstWriteInAnInheritedUnfaultedVmaMakesANewRoot) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 4), 0);
  Mm& c = *Fork(p, "C");
  Events e0 = Now();
  ASSERT_EQ(W(c, 0), Touch::kOk);
  EXPECT_EQ(Since(e0), (Events{.av_alloc = 1, .avc_alloc = 1}));
  EXPECT_EQ(ChainLen(c, 0), 1u);
}

TEST_F(ModelTest, E11_ForkChildNeverDonatesItsAnonVma) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 4, "rw"), 0);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  ASSERT_EQ(Map(p, 4, 4, "rwx"), 0);
  Mm& c = *Fork(p, "C");
  Events e0 = Now();
  ASSERT_EQ(W(c, 4), Touch::kOk);
  EXPECT_EQ(Since(e0), (Events{.av_alloc = 1, .avc_alloc = 1}));
  EXPECT_NE(AnonAt(c, 4), AnonAt(c, 0));
  // The parent's own RWX neighbour does get the parent's anon_vma.
  Events e1 = Now();
  ASSERT_EQ(W(p, 4), Touch::kOk);
  EXPECT_EQ(Since(e1), (Events{.avc_alloc = 1}));
}

TEST_F(ModelTest, E11_ParentUnmapsFirstThenChild) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 4), 0);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  Mm& c = *Fork(p, "C");
  Events e0 = Now();
  ASSERT_EQ(Munmap(p, 0, 4), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_free = 1, .avc_free = 1}));
  EXPECT_EQ(MapCount(PfnAt(c, 0)), 1);
  Events e1 = Now();
  ASSERT_EQ(Munmap(c, 0, 4), 0);
  EXPECT_EQ(Since(e1), (Events{.vma_free = 1, .av_free = 2, .avc_free = 2}));
  EXPECT_EQ(LiveAnonVmas(), 0);
}

// selftests merge.c forked_target_vma / forked_source_vma.
TEST_F(ModelTest, Selftest_ForkedTargetAndSourceVmasDoNotMerge) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(MapFixed(p, 0, 30, "none"), 0);  // the carveout
  ASSERT_EQ(MapFixed(p, 1, 5, "rw", /*noreserve=*/true), 0);
  ASSERT_EQ(W(p, 1), Touch::kOk);
  Mm& c = *Fork(p, "C");
  WriteAll(c, 1, 5);
  ASSERT_EQ(MapFixed(c, 6, 5, "rwx", true), 0);
  EXPECT_EQ(Layout(c), "0-1:none 1-6:rw 6-11:rwx 11-30:none");
  ASSERT_EQ(Mprotect(c, 1, 5, "rwx"), 0);  // the fork child would be the source
  EXPECT_EQ(Layout(c), "0-1:none 1-6:rwx 6-11:rwx 11-30:none");
}

// ====================================================================================
// E13: parent VMAs sharing one anon_vma get two distinct anon_vmas in the child.
// ====================================================================================

TEST_F(ModelTest, E13_SharedAnonVmaSplitsInTheChild) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 4, "rw"), 0);
  ASSERT_EQ(Map(p, 4, 4, "rwx"), 0);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  ASSERT_EQ(W(p, 4), Touch::kOk);
  ASSERT_EQ(AnonAt(p, 0), AnonAt(p, 4));
  Mm& c = *Fork(p, "C");
  EXPECT_NE(AnonAt(c, 0), AnonAt(c, 4));
  EXPECT_NE(AnonAt(c, 0), AnonAt(p, 0));
  Events e0 = Now();
  ASSERT_EQ(Mprotect(c, 4, 4, "rw"), 0);
  EXPECT_EQ(Since(e0), Events{});
  EXPECT_EQ(Layout(c), "0-4:rw 4-8:rw");
  Events e1 = Now();
  ASSERT_EQ(Mprotect(p, 4, 4, "rw"), 0);
  EXPECT_EQ(Since(e1), (Events{.vma_free = 1, .avc_free = 1}));
  EXPECT_EQ(Layout(p), "0-8:rw");
}

// ====================================================================================
// selftests merge.c: mremap of unfaulted VMAs next to faulted ones.
// ====================================================================================

TEST_F(ModelTest, Selftest_MremapUnfaultedToFaulted) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 0, 30, "none"), 0);
  ASSERT_EQ(MapFixed(a, 1, 5), 0);
  ASSERT_EQ(MapFixed(a, 7, 5), 0);
  ASSERT_EQ(Move(a, 7, 5, 1007), 0);
  ASSERT_EQ(W(a, 1), Touch::kOk);
  ASSERT_EQ(Move(a, 1007, 5, 6), 0);
  ASSERT_NE(At(a, 1), nullptr);
  EXPECT_EQ(At(a, 1)->vm_start, Pg(1));
  EXPECT_EQ(At(a, 1)->vm_end, Pg(11));
}

TEST_F(ModelTest, Selftest_MremapUnfaultedBehindFaulted) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 0, 30, "none"), 0);
  ASSERT_EQ(MapFixed(a, 6, 5), 0);
  ASSERT_EQ(MapFixed(a, 14, 5), 0);
  ASSERT_EQ(Move(a, 14, 5, 1014), 0);
  ASSERT_EQ(W(a, 6), Touch::kOk);
  ASSERT_EQ(Move(a, 1014, 5, 1), 0);
  ASSERT_NE(At(a, 1), nullptr);
  EXPECT_EQ(At(a, 1)->vm_start, Pg(1));
  EXPECT_EQ(At(a, 1)->vm_end, Pg(11));
  EXPECT_NE(At(a, 1)->anon_vma, nullptr);
}

TEST_F(ModelTest, Selftest_MremapUnfaultedBetweenFaulted) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 0, 30, "none"), 0);
  ASSERT_EQ(MapFixed(a, 1, 5), 0);
  ASSERT_EQ(MapFixed(a, 7, 5), 0);
  ASSERT_EQ(MapFixed(a, 14, 5), 0);
  ASSERT_EQ(Move(a, 14, 5, 2014), 0);
  ASSERT_EQ(Move(a, 7, 5, 1007), 0);
  ASSERT_EQ(W(a, 1), Touch::kOk);
  ASSERT_EQ(W(a, 2014), Touch::kOk);
  ASSERT_EQ(Move(a, 2014, 5, 11), 0);
  ASSERT_EQ(Move(a, 1007, 5, 6), 0);
  // Merges with the first only: the two faulted VMAs have different anon_vmas.
  EXPECT_EQ(At(a, 1)->vm_start, Pg(1));
  EXPECT_EQ(At(a, 1)->vm_end, Pg(11));
  EXPECT_EQ(At(a, 11)->vm_start, Pg(11));
  EXPECT_EQ(At(a, 11)->vm_end, Pg(16));
}

TEST_F(ModelTest, Selftest_MremapUnfaultedBetweenFaultedUnfaulted) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 0, 30, "none"), 0);
  ASSERT_EQ(MapFixed(a, 1, 5), 0);
  ASSERT_EQ(MapFixed(a, 7, 5), 0);
  ASSERT_EQ(MapFixed(a, 14, 5), 0);
  ASSERT_EQ(Move(a, 14, 5, 2014), 0);
  ASSERT_EQ(Move(a, 7, 5, 1007), 0);
  ASSERT_EQ(W(a, 1), Touch::kOk);
  ASSERT_EQ(Move(a, 2014, 5, 11), 0);
  ASSERT_EQ(Move(a, 1007, 5, 6), 0);
  EXPECT_EQ(At(a, 1)->vm_start, Pg(1));
  EXPECT_EQ(At(a, 1)->vm_end, Pg(16));
}

TEST_F(ModelTest, Selftest_MremapUnfaultedBetweenCorrectlyPlacedFaulted) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 0, 30, "none"), 0);
  ASSERT_EQ(MapFixed(a, 1, 15), 0);
  ASSERT_EQ(W(a, 1), Touch::kOk);
  ASSERT_EQ(Munmap(a, 6, 5), 0);
  ASSERT_EQ(MapFixed(a, 20, 5), 0);
  ASSERT_EQ(Move(a, 20, 5, 6), 0);
  EXPECT_EQ(At(a, 1)->vm_start, Pg(1));
  EXPECT_EQ(At(a, 1)->vm_end, Pg(16));
}

TEST_F(ModelTest, Selftest_MremapCorrectPlacedFaulted) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(MapFixed(a, 0, 30, "none"), 0);
  ASSERT_EQ(MapFixed(a, 1, 15), 0);
  ASSERT_EQ(W(a, 1), Touch::kOk);
  const uint64_t ptr = 1, ptr2 = 6, ptr3 = 11;
  auto span = [&](uint64_t page) {
    const Vma* v = At(a, page);
    return v ? std::to_string(v->vm_start - kBase) + "-" + std::to_string(v->vm_end - kBase)
             : std::string("unmapped");
  };
  ASSERT_EQ(Move(a, ptr3, 5, ptr3 + 2000), 0);
  ASSERT_EQ(Move(a, ptr2, 5, ptr2 + 1000), 0);
  ASSERT_EQ(Move(a, ptr2 + 1000, 5, ptr2), 0);
  EXPECT_EQ(span(ptr), "1-11");
  ASSERT_EQ(Move(a, ptr, 5, ptr + 1000), 0);
  ASSERT_EQ(Move(a, ptr + 1000, 5, ptr), 0);
  EXPECT_EQ(span(ptr), "1-11");
  ASSERT_EQ(Move(a, ptr, 5, ptr + 1000), 0);
  ASSERT_EQ(Move(a, ptr3 + 2000, 5, ptr3), 0);
  EXPECT_EQ(span(ptr2), "6-16");
  ASSERT_EQ(Move(a, ptr + 1000, 5, ptr), 0);
  EXPECT_EQ(span(ptr), "1-16");
  ASSERT_EQ(Move(a, ptr2, 5, ptr2 + 1000), 0);
  ASSERT_EQ(Move(a, ptr2 + 1000, 5, ptr2), 0);
  EXPECT_EQ(span(ptr), "1-16");
  ASSERT_EQ(Move(a, ptr3, 5, ptr3 + 1000), 0);
  ASSERT_EQ(Move(a, ptr3 + 1000, 5, ptr3), 0);
  EXPECT_EQ(span(ptr), "1-16");
  EXPECT_EQ(a.map_count(), 3);  // carveout head, the VMA, carveout tail
}

// ====================================================================================
// selftests merge.c merge_with_fork: a faulted VMA moved with MREMAP_DONTUNMAP next to
// unfaulted ones merges only when the mover is not a fork child.
// ====================================================================================

class MergeWithForkTest : public ModelTest, public ::testing::WithParamInterface<bool> {
 protected:
  // The process that runs the test body: the forked child, or the original.
  Mm& Runner(Mm& p) { return GetParam() ? *Fork(p, "C") : p; }
  bool forked() const { return GetParam(); }
};

TEST_P(MergeWithForkTest, MremapFaultedToUnfaultedPrev) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(MapFixed(p, 0, 30, "none"), 0);
  ASSERT_EQ(MapFixed(p, 4, 3), 0);  // A
  ASSERT_EQ(W(p, 4), Touch::kOk);
  Mm& t = Runner(p);
  ASSERT_EQ(Move(t, 4, 3, 20), 0);
  ASSERT_EQ(MapFixed(t, 1, 3), 0);  // B
  ASSERT_EQ(Mremap(t, 20, 3, 3, kDontunmap, 4), 0);
  EXPECT_EQ(At(t, 1)->vm_start, Pg(1));
  EXPECT_EQ(At(t, 1)->vm_end, Pg(forked() ? 4 : 7));
}

TEST_P(MergeWithForkTest, MremapFaultedToUnfaultedNext) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(MapFixed(p, 0, 30, "none"), 0);
  ASSERT_EQ(MapFixed(p, 1, 3), 0);  // A
  ASSERT_EQ(W(p, 1), Touch::kOk);
  Mm& t = Runner(p);
  ASSERT_EQ(Move(t, 1, 3, 20), 0);
  ASSERT_EQ(MapFixed(t, 4, 3), 0);  // B
  ASSERT_EQ(Mremap(t, 20, 3, 3, kDontunmap, 1), 0);
  EXPECT_EQ(At(t, 1)->vm_start, Pg(1));
  EXPECT_EQ(At(t, 1)->vm_end, Pg(forked() ? 4 : 7));
  // "Then unmap VMA A to trigger the bug": the merged VMA must stay consistent.
  ASSERT_EQ(Munmap(t, 20, 3), 0);
  ASSERT_EQ(Munmap(t, 1, 6), 0);
}

TEST_P(MergeWithForkTest, MremapFaultedToUnfaultedPrevUnfaultedNext) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(MapFixed(p, 0, 30, "none"), 0);
  ASSERT_EQ(MapFixed(p, 4, 3), 0);  // B
  ASSERT_EQ(W(p, 4), Touch::kOk);
  Mm& t = Runner(p);
  ASSERT_EQ(Move(t, 4, 3, 20), 0);
  ASSERT_EQ(MapFixed(t, 1, 3), 0);  // A
  ASSERT_EQ(MapFixed(t, 7, 3), 0);  // C
  ASSERT_EQ(Mremap(t, 20, 3, 3, kDontunmap, 4), 0);
  EXPECT_EQ(At(t, 1)->vm_start, Pg(1));
  EXPECT_EQ(At(t, 1)->vm_end, Pg(forked() ? 4 : 10));
  if (forked()) {
    EXPECT_EQ(At(t, 4)->vm_start, Pg(4));
    EXPECT_EQ(At(t, 4)->vm_end, Pg(7));
  }
}

TEST_P(MergeWithForkTest, MremapFaultedToUnfaultedPrevFaultedNext) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(MapFixed(p, 0, 30, "none"), 0);
  ASSERT_EQ(MapFixed(p, 4, 6), 0);  // B and C, one anon_vma, linear pgoffs
  ASSERT_EQ(W(p, 4), Touch::kOk);
  Mm& t = Runner(p);
  ASSERT_EQ(Move(t, 4, 3, 20), 0);  // B away, C stays
  ASSERT_EQ(MapFixed(t, 1, 3), 0);  // A
  ASSERT_EQ(Mremap(t, 20, 3, 3, kDontunmap, 4), 0);
  if (forked()) {
    EXPECT_EQ(At(t, 4)->vm_start, Pg(4));
    EXPECT_EQ(At(t, 4)->vm_end, Pg(10));
    EXPECT_EQ(At(t, 1)->vm_end, Pg(4));
  } else {
    EXPECT_EQ(At(t, 1)->vm_start, Pg(1));
    EXPECT_EQ(At(t, 1)->vm_end, Pg(10));
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, MergeWithForkTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "forked" : "unforked"; });

// ====================================================================================
// errno rules.
// ====================================================================================

TEST_F(ModelTest, Errno_MmapZeroLengthIsEinval) {
  Mm& a = *model_.NewMm("A");
  EXPECT_EQ(Map(a, 0, 0), -EINVAL);
  EXPECT_EQ(MapFixed(a, 0, 0), -EINVAL);
  EXPECT_EQ(a.map_count(), 0);
}

TEST_F(ModelTest, Errno_NoreplaceOverlapIsEexistAndFixedReplaces) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 4, 4, "r"), 0);
  EXPECT_EQ(Map(a, 0, 5, "rw"), -EEXIST);
  EXPECT_EQ(Map(a, 7, 2, "rw"), -EEXIST);
  EXPECT_EQ(Map(a, 0, 16, "rw"), -EEXIST);
  EXPECT_EQ(Layout(a), "4-8:r");
  EXPECT_EQ(Map(a, 0, 4, "rw"), 0);  // adjacent is fine
  EXPECT_EQ(MapFixed(a, 2, 4, "rwx"), 0);
  EXPECT_EQ(Layout(a), "0-2:rw 2-6:rwx 6-8:r");
}

TEST_F(ModelTest, Errno_MprotectLeadingHoleChangesNothing) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 4, 4), 0);
  Events e0 = Now();
  EXPECT_EQ(Mprotect(a, 2, 6, "r"), -ENOMEM);
  EXPECT_EQ(Mprotect(a, 10, 2, "r"), -ENOMEM);  // nothing there at all
  EXPECT_EQ(Since(e0), Events{});
  EXPECT_EQ(Layout(a), "4-8:rw");
  EXPECT_EQ(Mprotect(a, 4, 0, "r"), 0);  // zero length: nothing to do
}

TEST_F(ModelTest, Errno_MprotectInteriorHoleKeepsThePartialEffect) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 4), 0);
  ASSERT_EQ(Map(a, 6, 4), 0);
  EXPECT_EQ(Mprotect(a, 2, 8, "r"), -ENOMEM);
  EXPECT_EQ(Layout(a), "0-2:rw 2-4:r 6-10:rw");
  // A trailing hole: everything up to it changes, then -ENOMEM.
  EXPECT_EQ(Mprotect(a, 6, 8, "r"), -ENOMEM);
  EXPECT_EQ(Layout(a), "0-2:rw 2-4:r 6-10:r");
}

TEST_F(ModelTest, Errno_MadviseSkipsHolesAndReportsEnomem) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 4), 0);
  ASSERT_EQ(Map(a, 6, 4), 0);
  WriteAll(a, 0, 4);
  WriteAll(a, 6, 4);
  EXPECT_EQ(Madvise(a, 2, 6, MadviseBehavior::kDontfork), -ENOMEM);
  EXPECT_EQ(Layout(a), "0-2:rw 2-4:rw 6-8:rw 8-10:rw");
  EXPECT_TRUE(At(a, 2)->vm_flags & VM_DONTCOPY);
  EXPECT_TRUE(At(a, 6)->vm_flags & VM_DONTCOPY);
  EXPECT_FALSE(At(a, 8)->vm_flags & VM_DONTCOPY);
  EXPECT_EQ(Madvise(a, 0, 10, MadviseBehavior::kDontneed), -ENOMEM);
  EXPECT_EQ(a.pt.present(), 0u);  // applied to both mapped parts
  EXPECT_EQ(Madvise(a, 4, 2, MadviseBehavior::kDontneed), -ENOMEM);  // only a hole
  EXPECT_EQ(Madvise(a, 20, 2, MadviseBehavior::kDontneed), -ENOMEM);  // beyond all
  EXPECT_EQ(Madvise(a, 0, 0, MadviseBehavior::kDontneed), 0);
}

TEST_F(ModelTest, Errno_MadvFreeOnSharedIsEinval) {
  Mm& a = *model_.NewMm("A");
  MmapArgs s = Args(0, 4, "rw");
  s.shared = true;
  ASSERT_EQ(Mmap(a, s), 0);
  ASSERT_EQ(W(a, 0), Touch::kOk);
  EXPECT_EQ(Madvise(a, 0, 4, MadviseBehavior::kFree), -EINVAL);
  EXPECT_EQ(Madvise(a, 0, 4, MadviseBehavior::kDontneed), 0);
  // A private file mapping is not anonymous either.
  File* f = model_.NewFile("F", 8);
  MmapArgs pf = Args(8, 4, "rw");
  pf.file = f;
  ASSERT_EQ(Mmap(a, pf), 0);
  EXPECT_EQ(Madvise(a, 8, 4, MadviseBehavior::kFree), -EINVAL);
}

TEST_F(ModelTest, Errno_WipeonforkOnFileOrSharedIsEinval) {
  Mm& a = *model_.NewMm("A");
  File* f = model_.NewFile("F", 8);
  MmapArgs pf = Args(0, 4, "rw");
  pf.file = f;
  ASSERT_EQ(Mmap(a, pf), 0);
  MmapArgs s = Args(8, 4, "rw");
  s.shared = true;
  ASSERT_EQ(Mmap(a, s), 0);
  ASSERT_EQ(Map(a, 16, 4), 0);
  EXPECT_EQ(Madvise(a, 0, 4, MadviseBehavior::kWipeonfork), -EINVAL);
  EXPECT_EQ(Madvise(a, 8, 4, MadviseBehavior::kWipeonfork), -EINVAL);
  EXPECT_EQ(Madvise(a, 16, 4, MadviseBehavior::kWipeonfork), 0);
  EXPECT_TRUE(At(a, 16)->vm_flags & VM_WIPEONFORK);
  EXPECT_FALSE(At(a, 0)->vm_flags & VM_WIPEONFORK);
  EXPECT_FALSE(At(a, 8)->vm_flags & VM_WIPEONFORK);
  // The walk stops at the first refusal: earlier VMAs keep the change.
  ASSERT_EQ(Madvise(a, 16, 4, MadviseBehavior::kKeeponfork), 0);
  ASSERT_EQ(Map(a, 4, 4), 0);  // anon [4,8) right before the shared [8,12)
  EXPECT_EQ(Madvise(a, 4, 16, MadviseBehavior::kWipeonfork), -EINVAL);
  EXPECT_TRUE(At(a, 4)->vm_flags & VM_WIPEONFORK);
  EXPECT_FALSE(At(a, 16)->vm_flags & VM_WIPEONFORK);
}

TEST_F(ModelTest, Errno_MremapParameterChecks) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 8), 0);
  EXPECT_EQ(Mremap(a, 0, 8, 0), -EINVAL);                            // new_len 0
  EXPECT_EQ(Mremap(a, 0, 8, 8, 8), -EINVAL);                         // unknown flag
  EXPECT_EQ(Mremap(a, 0, 8, 8, Model::kMremapFixed, 0x100), -EINVAL);  // FIXED w/o MAYMOVE
  EXPECT_EQ(Mremap(a, 0, 8, 16, kDontunmap, 0x100), -EINVAL);        // DONTUNMAP resize
  EXPECT_EQ(Move(a, 0, 8, 4), -EINVAL);                              // overlap
  EXPECT_EQ(Mremap(a, 0, 8, 8, kMove, 0), -EINVAL);                  // onto itself
  EXPECT_EQ(Move(a, 4, 8, 0), -EINVAL);                              // overlap below
  EXPECT_EQ(Move(a, 0, 8, 8), 0);                                    // adjacent is fine
  EXPECT_EQ(Layout(a), "8-16:rw");
  EXPECT_EQ(Mremap(a, 8, 0, 4, kMove, 0x100), -EINVAL);  // duplicate of a private map
}

TEST_F(ModelTest, Errno_MremapFromAnUnmappedAddressIsEfault) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 8, 8), 0);
  EXPECT_EQ(Mremap(a, 0, 4, 4), -EFAULT);
  EXPECT_EQ(Mremap(a, 0, 4, 8), -EFAULT);
  EXPECT_EQ(Mremap(a, 0, 4, 2), -EFAULT);
  EXPECT_EQ(Mremap(a, 0, 4, 8, kMove, 0x100), -EFAULT);
  EXPECT_EQ(Layout(a), "8-16:rw");
}

// ====================================================================================
// Other kernel rules the model must keep.
// ====================================================================================

TEST_F(ModelTest, AccessRights) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 2, "none"), 0);
  ASSERT_EQ(Map(a, 4, 2, "r"), 0);
  ASSERT_EQ(Map(a, 8, 2, "rx"), 0);
  EXPECT_EQ(R(a, 0), Touch::kSigsegv);
  EXPECT_EQ(W(a, 0), Touch::kSigsegv);
  EXPECT_EQ(R(a, 4), Touch::kOk);
  EXPECT_EQ(W(a, 4), Touch::kSigsegv);
  EXPECT_EQ(R(a, 8), Touch::kOk);
  EXPECT_EQ(W(a, 8), Touch::kSigsegv);
  EXPECT_EQ(R(a, 2), Touch::kSigsegv);  // unmapped
  EXPECT_EQ(LiveAnonVmas(), 0);
}

TEST_F(ModelTest, FileBeyondEofIsSigbus) {
  File* f = model_.NewFile("F", 4);
  Mm& a = *model_.NewMm("A");
  MmapArgs pf = Args(0, 8, "rw");
  pf.file = f;
  pf.pgoff = 2;  // pages 0,1 are file pages 2,3; pages 2.. are beyond EOF
  ASSERT_EQ(Mmap(a, pf), 0);
  EXPECT_EQ(R(a, 1), Touch::kOk);
  EXPECT_EQ(PfnAt(a, 1), f->page_cache[3]);
  EXPECT_EQ(PfnAt(a, 0), f->page_cache[2]);  // fault-around
  EXPECT_EQ(R(a, 2), Touch::kSigbus);
  EXPECT_EQ(LiveAnonVmas(), 0);  // a read beyond EOF attaches nothing
  // do_cow_fault() prepares the anon_vma before it finds the page beyond EOF (confirmed
  // on 6.18.44: tests/regress/cow-fault-beyond-eof.rmap).
  EXPECT_EQ(W(a, 5), Touch::kSigbus);
  EXPECT_EQ(LiveAnonVmas(), 1);
}

TEST_F(ModelTest, PopulateWritableAttachesAnAnonVmaReadOnlyDoesNot) {
  Mm& a = *model_.NewMm("A");
  MmapArgs rw = Args(0, 4, "rw");
  rw.populate = true;
  Events e0 = Now();
  ASSERT_EQ(Mmap(a, rw), 0);
  EXPECT_EQ(Since(e0), (Events{.vma_alloc = 1, .av_alloc = 1, .avc_alloc = 1}));
  EXPECT_EQ(a.pt.present(), 4u);
  MmapArgs ro = Args(8, 4, "r");
  ro.populate = true;
  Events e1 = Now();
  ASSERT_EQ(Mmap(a, ro), 0);
  EXPECT_EQ(Since(e1), (Events{.vma_alloc = 1}));
  EXPECT_EQ(PfnAt(a, 9), kZeroPfn);
}

TEST_F(ModelTest, SharedAnonymousMemoryIsSharedAcrossFork) {
  Mm& p = *model_.NewMm("P");
  MmapArgs s = Args(0, 4, "rw");
  s.shared = true;
  ASSERT_EQ(Mmap(p, s), 0);
  ASSERT_EQ(Map(p, 4, 4), 0);  // a private neighbour never merges with shmem
  EXPECT_EQ(Layout(p), "0-4:rws 4-8:rw");
  EXPECT_EQ(At(p, 0)->vm_pgoff, 0u);
  ASSERT_EQ(W(p, 0), Touch::kOk);
  Mm& c = *Fork(p, "C");
  EXPECT_EQ(PfnAt(c, 0), kNoPfn);  // no anon_vma: the child faults it in later
  ASSERT_EQ(W(c, 0), Touch::kOk);
  EXPECT_EQ(PfnAt(c, 0), PfnAt(p, 0));
  EXPECT_EQ(MapCount(PfnAt(p, 0)), 2);
  EXPECT_EQ(LiveAnonVmas(), 0);
}

TEST_F(ModelTest, MapFixedOverTheMiddleOfAFaultedVma) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 12), 0);
  WriteAll(a, 0, 12);
  Events e0 = Now();
  ASSERT_EQ(MapFixed(a, 4, 4, "rw"), 0);
  // Split twice, the middle goes; the new unfaulted range merges with the faulted
  // prev and next (case 2 on both sides), which share one anon_vma, so the three-way
  // merge happens.
  EXPECT_EQ(Layout(a), "0-12:rw");
  EXPECT_EQ(a.pt.present(), 8u);
  EXPECT_EQ(PfnAt(a, 5), kNoPfn);
  EXPECT_EQ(Since(e0).vma_alloc, 2);
  EXPECT_EQ(Since(e0).vma_free, 2);
}

TEST_F(ModelTest, ExitFreesEverythingAndModelTeardownIsClean) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 8), 0);
  WriteAll(p, 0, 8);
  Mm& c = *Fork(p, "C");
  Mm& g = *Fork(c, "G");
  ASSERT_EQ(W(g, 3), Touch::kOk);
  Exit(c);
  EXPECT_FALSE(c.alive);
  EXPECT_EQ(c.map_count(), 0);
  EXPECT_EQ(c.pt.present(), 0u);
  Exit(p);
  EXPECT_EQ(MapCount(PfnAt(g, 0)), 1);
  ASSERT_EQ(W(g, 0), Touch::kOk);  // the last mapper reuses
  Exit(g);
  EXPECT_EQ(LiveAnonVmas(), 0);
  EXPECT_EQ(LiveAvcs(), 0);
  EXPECT_EQ(model_.folios().live(), 0u);
}

// dup_mm() copies the mm_struct: the child's heap continues where the parent's ends, so
// the child can grow it (regression: the model's fork once reset the child's brk).
TEST_F(ModelTest, ForkedChildGrowsTheInheritedHeap) {
  Mm& p = *model_.NewMm("P");
  p.start_brk = p.brk = Pg(0);
  ASSERT_EQ(model_.Brk(p, p.brk, Pg(4)), 0);
  WriteAll(p, 0, 4);
  Mm& c = *Fork(p, "C");
  EXPECT_EQ(c.start_brk, Pg(0));
  EXPECT_EQ(c.brk, Pg(4));
  ASSERT_EQ(model_.Brk(c, c.brk, Pg(8)), 0);
  // do_brk_flags() does not expand the inherited heap VMA: it has uncowed parents (its
  // anon_vma_chain is not singular), so is_mergeable_anon_vma() refuses; a new VMA.
  EXPECT_EQ(c.map_count(), 2);
  WriteAll(c, 4, 4);
  Check("child heap");
}

}  // namespace
}  // namespace rmaplab
