// Tests of the anon-vma-2004 scheme: every scenario of the three folders checked after
// every statement, and the design's own numbers (one anon_vma per fork family, walks
// over the whole list, neighbour sharing, the 2.6.7 merge rule).
#include "rmap/scheme_test_util.h"
#include "rmap/schemes/anon_vma_2004/anon_vma_2004_scheme.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/model.h"
#include "rmap/oracle.h"
#include "rmap/registry.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::anon_vma_2004 {
namespace {

constexpr const char* kScheme = "anon-vma-2004";
constexpr Vpn kBase = 0x100000000ULL;  // arena page 0
Vpn Pg(uint64_t n) { return kBase + n; }
constexpr int kMove = Model::kMremapMaymove | Model::kMremapFixed;

// ---- every scenario ------------------------------------------------------------------

using rmaplab::testing::ScenarioFiles;

TEST(AnonVma2004Scenarios, EveryWalkCompleteAndInvariantsHold) {
  std::vector<std::string> flaws;
  for (const auto& f : CreateScheme(kScheme)->KnownFlaws()) flaws.push_back(f.scenario);
  auto files = ScenarioFiles();
  ASSERT_GT(files.size(), 60u);  // the three folders were found
  int64_t walks = 0;
  for (const auto& path : files) {
    ScriptError err;
    auto sc = ParseScenarioFile(path, &err);
    ASSERT_TRUE(sc) << err.str();
    SimOptions opt;
    opt.scheme = kScheme;
    opt.check_each_statement = true;
    SimResult res;
    std::string error;
    ASSERT_TRUE(RunSim(*sc, opt, &res, &error)) << error;
    std::string stem = std::filesystem::path(path).stem();
    std::string msgs;
    for (const auto& m : res.oracle.messages) msgs += "\n  " + m;
    bool flaw = std::find(flaws.begin(), flaws.end(), stem) != flaws.end();
    if (flaw)
      EXPECT_GT(res.oracle.misses, 0) << stem << ": the known flaw no longer shows";
    else
      EXPECT_EQ(res.oracle.misses, 0) << stem << msgs;
    EXPECT_EQ(res.oracle.invariant_failures, 0) << stem << msgs;
    walks += res.oracle.walks;
  }
  EXPECT_GT(walks, 0);
}

// ---- the design's numbers ------------------------------------------------------------

// Members are public so that the helpers shared with the linux comparison can use them.
class AnonVma2004Test : public ::testing::Test {
 public:
  explicit AnonVma2004Test(const char* scheme = kScheme)
      : scheme_(CreateScheme(scheme)), model_(scheme_.get()) {}

  void Check() {
    OracleReport r;
    Oracle::CheckAll(model_, "test", &r);
    std::string msgs;
    for (const auto& m : r.messages) msgs += "\n  " + m;
    ASSERT_EQ(r.misses, 0) << msgs;
    ASSERT_EQ(r.invariant_failures, 0) << msgs;
  }
  int Map(Mm& mm, uint64_t page, uint64_t len, const std::string& prot = "rw") {
    MmapArgs a;
    a.addr = Pg(page);
    a.len = len;
    a.read = prot.find('r') != std::string::npos;
    a.write = prot.find('w') != std::string::npos;
    a.exec = prot.find('x') != std::string::npos;
    int r = model_.Mmap(mm, a);
    Check();
    return r;
  }
  int Mprotect(Mm& mm, uint64_t page, uint64_t len, const std::string& prot) {
    int r = model_.Mprotect(mm, Pg(page), len, prot.find('r') != std::string::npos,
                            prot.find('w') != std::string::npos,
                            prot.find('x') != std::string::npos);
    Check();
    return r;
  }
  void Write(Mm& mm, uint64_t page, uint64_t len = 1) {
    for (uint64_t i = 0; i < len; ++i)
      ASSERT_EQ(model_.Access(mm, Pg(page + i), true), Touch::kOk);
    Check();
  }
  Mm* Fork(Mm& parent, const std::string& name) {
    Mm* c = model_.Fork(parent, name);
    Check();
    return c;
  }
  const Vma* At(const Mm& mm, uint64_t page) const { return mm.vmas.Find(Pg(page)); }
  const Folio& FolioAt(const Mm& mm, uint64_t page) const {
    return model_.folios().Get(mm.pt.Get(Pg(page)));
  }
  WalkResult WalkAt(const Mm& mm, uint64_t page) const {
    return Oracle::Walk(model_, FolioAt(mm, page));
  }
  ObjectStats Obj(const std::string& kind) const { return scheme_->Objects()[kind]; }
  int64_t Counter(const std::string& name) const {
    auto c = scheme_->Counters();
    return c.count(name) ? c[name] : 0;
  }
  size_t ListLen(const Mm& mm, uint64_t page) const {
    return AnonVma2004Scheme::ListLength(*At(mm, page));
  }

  std::unique_ptr<Scheme> scheme_;
  Model model_;
};

TEST_F(AnonVma2004Test, FirstWriteAllocatesOneAnonVmaOfTwentyFourBytes) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 16), 0);
  EXPECT_EQ(Obj("anon_vma").alloc, 0);
  Write(a, 0, 4);
  EXPECT_EQ(Obj("anon_vma").alloc, 1);
  EXPECT_EQ(Obj("anon_vma").object_bytes, 24);
  EXPECT_EQ(Obj("anon_vma_node").live, 1);
  EXPECT_EQ(Obj("anon_vma_node").object_bytes, 24);
  EXPECT_EQ(FolioAt(a, 2).mapping, At(a, 0)->anon_vma);
  EXPECT_EQ(FolioAt(a, 2).index, Pg(2));  // anon vm_pgoff = vm_start
  WalkResult w = WalkAt(a, 2);
  EXPECT_EQ(w.candidates, 1);
  EXPECT_EQ(w.cost.objects_visited, 1);
  EXPECT_EQ(w.cost.locks["anon_vma->lock"], 1);
}

TEST_F(AnonVma2004Test, ForkChainSharesOneAnonVmaAndAllocatesNothing) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 16), 0);
  Write(p, 0, 16);
  Mm* c = &p;
  for (int depth = 1; depth <= 3; ++depth) c = Fork(*c, "C" + std::to_string(depth));
  EXPECT_EQ(Obj("anon_vma").alloc, 1);  // no anon_vma per fork, unlike 2.6.34+
  EXPECT_EQ(Obj("anon_vma_node").live, 4);
  EXPECT_EQ(ListLen(p, 0), 4u);
  EXPECT_EQ(At(*c, 0)->anon_vma, At(p, 0)->anon_vma);
  EXPECT_EQ(Counter("lock.anon_vma->lock.fork"), 3);
  EXPECT_EQ(Counter("fork.pages_touched"), 0);
  // The deepest child COWs a page: the copy is filed under the same family anon_vma,
  // so its walk visits all four VMAs and probes all four (all cover the index).
  Write(*c, 5);
  WalkResult w = WalkAt(*c, 5);
  EXPECT_EQ(FolioAt(*c, 5).mapping, At(p, 0)->anon_vma);
  EXPECT_EQ(w.cost.objects_visited, 4);
  EXPECT_EQ(w.candidates, 4);
  EXPECT_EQ(w.found.size(), 1u);
  EXPECT_EQ(w.false_positives, 3);
}

TEST_F(AnonVma2004Test, AnonVmaFreedWhenItsListEmpties) {
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 8), 0);
  Write(p, 0, 8);
  Mm* c = Fork(p, "C");
  model_.Exit(p);
  Check();
  EXPECT_EQ(Obj("anon_vma").live, 1);  // the child still lists its VMA
  EXPECT_EQ(ListLen(*c, 0), 1u);
  model_.Exit(*c);
  Check();
  EXPECT_EQ(Obj("anon_vma").live, 0);
  EXPECT_EQ(Obj("anon_vma").free, 1);
  EXPECT_EQ(Obj("anon_vma_node").live, 0);
}

TEST_F(AnonVma2004Test, SplitJoinsTheListAndSkippedVmasAreVisitedNotProbed) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 12), 0);
  Write(a, 0, 12);
  ASSERT_EQ(Mprotect(a, 4, 4, "r"), 0);  // three VMAs, one anon_vma
  EXPECT_EQ(a.map_count(), 3);
  EXPECT_EQ(Obj("anon_vma").alloc, 1);
  EXPECT_EQ(ListLen(a, 0), 3u);
  WalkResult w = WalkAt(a, 9);
  EXPECT_EQ(w.cost.objects_visited, 3);  // the whole list
  EXPECT_EQ(w.candidates, 1);            // vma_address() skips the two others
  EXPECT_EQ(w.false_positives, 0);
  ASSERT_EQ(Mprotect(a, 4, 4, "rw"), 0);  // same anon_vma: merges back
  EXPECT_EQ(a.map_count(), 1);
  EXPECT_EQ(ListLen(a, 0), 1u);
  EXPECT_EQ(Obj("anon_vma_node").live, 1);
}

TEST_F(AnonVma2004Test, MremapKeepsPgoffAndTheAnonVma) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 8), 0);
  Write(a, 0, 8);
  const Folio& f = FolioAt(a, 3);
  Pgoff index = f.index;
  ASSERT_EQ(model_.Mremap(a, Pg(0), 8, 8, kMove, Pg(100)), 0);
  Check();
  EXPECT_EQ(At(a, 100)->vm_pgoff, Pg(0));  // the old linear offset moves along
  EXPECT_EQ(FolioAt(a, 103).index, index);
  EXPECT_EQ(Obj("anon_vma").alloc, 1);
  EXPECT_EQ(Counter("mremap.pages_touched"), 0);
  WalkResult w = WalkAt(a, 103);
  ASSERT_EQ(w.found.size(), 1u);
  EXPECT_EQ(w.found[0].second, Pg(103));
}

TEST_F(AnonVma2004Test, NeighbourWithOtherProtectionsSharesItsAnonVma) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 4, "rw"), 0);
  ASSERT_EQ(Map(a, 4, 4, "rwx"), 0);
  ASSERT_EQ(Map(a, 10, 4, "rw"), 0);  // not adjacent
  Write(a, 0);
  Write(a, 5);
  Write(a, 10);
  EXPECT_EQ(At(a, 5)->anon_vma, At(a, 0)->anon_vma);
  EXPECT_NE(At(a, 10)->anon_vma, At(a, 0)->anon_vma);
  EXPECT_EQ(Obj("anon_vma").alloc, 2);
  EXPECT_EQ(Counter("find_mergeable_anon_vma.shared_prev"), 1);
  EXPECT_EQ(Counter("find_mergeable_anon_vma.calls"), 3);
  ASSERT_EQ(Mprotect(a, 4, 4, "rw"), 0);  // "good insight": they can now merge
  EXPECT_EQ(a.map_count(), 2);
}

TEST_F(AnonVma2004Test, FamilyWideSharingLetsAChildsSplitPiecesRemerge) {
  // 6.18 gives each child VMA its own anon_vma at fork, so two pieces of one parent
  // VMA cannot re-merge in the child; in 2004 they share the family's anon_vma.
  Mm& p = *model_.NewMm("P");
  ASSERT_EQ(Map(p, 0, 8), 0);
  Write(p, 0, 8);
  ASSERT_EQ(Mprotect(p, 4, 4, "r"), 0);
  Mm* c = Fork(p, "C");
  ASSERT_EQ(Mprotect(*c, 4, 4, "rw"), 0);
  EXPECT_EQ(c->map_count(), 1);
  EXPECT_EQ(ListLen(p, 0), 3u);  // P's two pieces and C's merged VMA
}

class LinuxForComparison : public AnonVma2004Test {
 public:
  LinuxForComparison() : AnonVma2004Test("linux") {}
};

// The 2.6.7 merge rule has none of 6.16's fork-child conditions: a faulted VMA a child
// inherited merges with a new unfaulted neighbour (the kernel keeps two VMAs).
void ForkChildMergesWithUnfaultedNeighbour(AnonVma2004Test* t, int want_child_vmas) {
  Mm& p = *t->model_.NewMm("P");
  ASSERT_EQ(t->Map(p, 0, 4), 0);
  t->Write(p, 0, 4);
  Mm* c = t->Fork(p, "C");
  ASSERT_EQ(t->Map(*c, 4, 4), 0);
  EXPECT_EQ(c->map_count(), want_child_vmas);
}
TEST_F(AnonVma2004Test, ForkChildMergesWithUnfaultedNeighbour) {
  ForkChildMergesWithUnfaultedNeighbour(this, 1);
}
TEST_F(LinuxForComparison, ForkChildKeepsUnfaultedNeighbourApart) {
  ForkChildMergesWithUnfaultedNeighbour(this, 2);
}

// The multi-process-server pathology: F children each COW their copy of every page.
// 2004: a walk of one child's private page visits every VMA of the family; 6.18
// visits the child's own VMA (and the parent's, whose tree the child's AVC is in).
int64_t WideForkVisited(AnonVma2004Test* t, int children, int64_t* false_positives) {
  Mm& p = *t->model_.NewMm("P");
  EXPECT_EQ(t->Map(p, 0, 4), 0);
  t->Write(p, 0, 4);
  std::vector<Mm*> kids;
  for (int i = 0; i < children; ++i) kids.push_back(t->Fork(p, "C" + std::to_string(i)));
  for (Mm* k : kids) t->Write(*k, 0, 4);
  WalkResult w = t->WalkAt(*kids.back(), 1);
  EXPECT_EQ(w.found.size(), 1u);
  *false_positives = w.false_positives;
  return w.cost.objects_visited;
}
TEST_F(AnonVma2004Test, WideForkWalkVisitsTheWholeFamily) {
  int64_t fp = 0;
  EXPECT_EQ(WideForkVisited(this, 8, &fp), 9);
  EXPECT_EQ(fp, 8);
  EXPECT_EQ(Obj("anon_vma").alloc, 1);
}
TEST_F(LinuxForComparison, WideForkWalkVisitsOnlyTheOwnersSubtree) {
  int64_t fp = 0;
  EXPECT_LE(WideForkVisited(this, 8, &fp), 2);
  EXPECT_EQ(fp, 0);
}

TEST_F(AnonVma2004Test, MergeRuleIsTheTwoThousandFourOne) {
  Mm& a = *model_.NewMm("A");
  ASSERT_EQ(Map(a, 0, 4), 0);
  ASSERT_EQ(Map(a, 8, 4), 0);
  Write(a, 0);
  Write(a, 8);
  const Vma& v0 = *At(a, 0);
  const Vma& v8 = *At(a, 8);
  ASSERT_NE(v0.anon_vma, v8.anon_vma);
  EXPECT_FALSE(scheme_->is_mergeable_anon_vma(v0, v8.anon_vma, &v8, nullptr));
  EXPECT_TRUE(scheme_->is_mergeable_anon_vma(v0, v0.anon_vma, &v8, nullptr));
  EXPECT_TRUE(scheme_->is_mergeable_anon_vma(v0, nullptr, nullptr, nullptr));
  Vma unfaulted;
  EXPECT_TRUE(scheme_->is_mergeable_anon_vma(unfaulted, v8.anon_vma, &v8, &v8));
}

}  // namespace
}  // namespace rmaplab::anon_vma_2004
