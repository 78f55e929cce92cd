// Tests of the `anonmm` scheme: every scenario under the oracle, then the design's own
// numbers (one anonmm per mm, nothing per VMA, walk candidates = family members probed,
// rmap_chain blocks after mremap of shared pages, anonmm lifetimes across exits), its
// free merges, and the misses of the March 2004 repost that had no address chains.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rmap/scheme_test_util.h"
#include "core/model.h"
#include "rmap/oracle.h"
#include "rmap/registry.h"
#include "rmap/schemes/anonmm/anonmm_scheme.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::anonmm {
namespace {

namespace fs = std::filesystem;

Vpn Pg(uint64_t n) { return kArenaBaseVpn + n; }

const auto AllScenarios = rmaplab::testing::ScenarioFiles;

// With its address chains the design reaches every mapping the model can make: no
// scenario misses, so no known flaw is declared.
TEST(AnonmmScenarioTest, EveryScenarioWalksCompletely) {
  auto files = AllScenarios();
  ASSERT_GE(files.size(), 40u) << "scenario folders not found";
  EXPECT_TRUE(CreateScheme("anonmm")->KnownFlaws().empty());
  for (const auto& f : files) {
    ScriptError err;
    auto sc = ParseScenarioFile(f, &err);
    ASSERT_TRUE(sc) << err.str();
    SimOptions opt;
    opt.scheme = "anonmm";
    opt.check_each_statement = true;
    SimResult res;
    std::string error;
    ASSERT_TRUE(RunSim(*sc, opt, &res, &error)) << error;
    std::string msgs;
    for (const auto& m : res.oracle.messages) msgs += "\n  " + m;
    EXPECT_GT(res.oracle.checks, 0) << f;
    EXPECT_EQ(res.oracle.misses, 0) << f << msgs;
    EXPECT_EQ(res.oracle.invariant_failures, 0) << f << msgs;
  }
}

// A model under an AnonmmScheme; Check() runs the oracle and the invariants.
class Lab {
 public:
  explicit Lab(bool chains = true) : scheme_(chains), model_(&scheme_) {}
  Mm& Proc(const char* name) { return *model_.NewMm(name); }
  void Map(Mm& mm, uint64_t page, uint64_t len) {
    MmapArgs a;
    a.addr = Pg(page);
    a.len = len;
    a.read = a.write = true;
    ASSERT_EQ(model_.Mmap(mm, a), 0);
  }
  void Write(Mm& mm, uint64_t page, uint64_t len = 1) {
    for (uint64_t i = 0; i < len; ++i) ASSERT_EQ(model_.Access(mm, Pg(page + i), true), Touch::kOk);
  }
  void Move(Mm& mm, uint64_t from, uint64_t len, uint64_t to) {
    ASSERT_EQ(model_.Mremap(mm, Pg(from), len, len, Model::kMremapMaymove | Model::kMremapFixed,
                            Pg(to)),
              0);
  }
  const Folio& FolioAt(const Mm& mm, uint64_t page) {
    Pfn pfn = mm.pt.Get(Pg(page));
    EXPECT_NE(pfn, kNoPfn);
    return model_.folios().Get(pfn);
  }
  WalkResult Walk(const Mm& mm, uint64_t page) { return Oracle::Walk(model_, FolioAt(mm, page)); }
  int64_t Misses() {
    OracleReport r;
    Oracle::WalkAll(model_, "step", &r);
    return r.misses;
  }
  void Check() {
    OracleReport r;
    Oracle::CheckAll(model_, "step", &r);
    std::string msgs;
    for (const auto& m : r.messages) msgs += "\n  " + m;
    EXPECT_EQ(r.misses, 0) << msgs;
    EXPECT_EQ(r.invariant_failures, 0) << msgs;
  }
  ObjectStats Obj(const char* kind) { return scheme_.Objects().at(kind); }
  int64_t Counter(const char* c) { return scheme_.Counters().at(c); }

  AnonmmScheme scheme_;
  Model model_;
};

TEST(AnonmmTest, ChainBlocksHoldSixThenSevenAddresses) {
  EXPECT_EQ(AnonmmScheme::ChainBlocks(0), 0);
  EXPECT_EQ(AnonmmScheme::ChainBlocks(1), 1);
  EXPECT_EQ(AnonmmScheme::ChainBlocks(6), 1);
  EXPECT_EQ(AnonmmScheme::ChainBlocks(7), 2);
  EXPECT_EQ(AnonmmScheme::ChainBlocks(13), 2);
  EXPECT_EQ(AnonmmScheme::ChainBlocks(14), 3);
}

// One anonmm per mm, 40 bytes each, whatever the number of VMAs and pages; fork costs
// one allocation and touches no page's rmap state.
TEST(AnonmmTest, ForkChainCostsOneAnonmmPerMm) {
  Lab lab;
  Mm& a = lab.Proc("A");
  lab.Map(a, 0, 8);
  lab.Map(a, 16, 8);
  lab.Write(a, 0, 8);
  lab.Write(a, 16, 8);
  Mm& b = *lab.model_.Fork(a, "B");
  Mm& c = *lab.model_.Fork(b, "C");
  lab.Check();
  EXPECT_EQ(lab.Obj("anonmm").alloc, 3);
  EXPECT_EQ(lab.Obj("anonmm").live, 3);
  EXPECT_EQ(lab.Obj("anonmm").object_bytes, 40);
  EXPECT_EQ(lab.Obj("rmap_chain").alloc, 0);
  EXPECT_EQ(lab.Counter("fork.anonmm_alloc"), 2);
  EXPECT_EQ(lab.Counter("fork.pages_touched"), 0);
  // All three on the head's list, head first, in fork order.
  Anonmm* hd = AnonmmScheme::MmAnonmm(a);
  EXPECT_EQ(hd->head, hd);
  EXPECT_EQ(AnonmmScheme::MmAnonmm(c)->head, hd);
  EXPECT_EQ(std::vector<Anonmm*>(hd->family.begin(), hd->family.end()),
            (std::vector<Anonmm*>{hd, AnonmmScheme::MmAnonmm(b), AnonmmScheme::MmAnonmm(c)}));
  // count: head = mm + self + 2 members + 16 pages; members = mm only.
  EXPECT_EQ(hd->count, 1 + 1 + 2 + 16);
  EXPECT_EQ(AnonmmScheme::MmAnonmm(b)->count, 1);
}

// A split or a merge allocates nothing; every faulted VMA of an mm carries the mm's
// anonmm as its marker.
TEST(AnonmmTest, SplitAllocatesNothing) {
  Lab lab;
  Mm& a = lab.Proc("A");
  lab.Map(a, 0, 8);
  lab.Write(a, 0, 8);
  ASSERT_EQ(lab.model_.Mprotect(a, Pg(2), 2, true, false, false), 0);
  ASSERT_EQ(lab.model_.Mprotect(a, Pg(5), 1, true, false, false), 0);
  lab.Check();
  EXPECT_EQ(a.map_count(), 5);
  for (const auto& [start, v] : a.vmas) EXPECT_EQ(v->anon_vma, AnonmmScheme::MmAnonmm(a));
  EXPECT_EQ(lab.Obj("anonmm").alloc, 1);
  EXPECT_EQ(lab.Obj("rmap_chain").alloc, 0);
}

// Walk candidates: the tagged mm first, then round the family list; the walk stops once
// mapcount PTEs were found. Each member that does not map the page is a false positive.
TEST(AnonmmTest, WalkProbesTheFamilyFromTheTaggedMm) {
  Lab lab;
  Mm& a = lab.Proc("A");
  lab.Map(a, 0, 4);
  lab.Write(a, 0, 4);
  Mm& b = *lab.model_.Fork(a, "B");
  Mm& c = *lab.model_.Fork(a, "C");
  Mm& d = *lab.model_.Fork(a, "D");
  // Shared by all four, tagged A: four probes, four hits.
  WalkResult r = lab.Walk(a, 0);
  EXPECT_EQ(r.candidates, 4);
  EXPECT_EQ(r.false_positives, 0);
  // C's private copy is tagged C and found by the first probe.
  lab.Write(c, 1);
  r = lab.Walk(c, 1);
  EXPECT_EQ(r.candidates, 1);
  // Page 2 left only in D: probes A, B, C (false positives), then D.
  for (Mm* m : {&a, &b, &c}) ASSERT_EQ(lab.model_.Munmap(*m, Pg(2), 1), 0);
  r = lab.Walk(d, 2);
  EXPECT_EQ(r.candidates, 4);
  EXPECT_EQ(r.false_positives, 3);
  EXPECT_EQ(r.cost.locks.at("anonhd->lock"), 1);
  EXPECT_EQ(r.cost.locks.at("mm->page_table_lock(trylock)"), 4);
  // D reuses it on a write (mapcount 1): re-tagged to D, one probe from then on.
  lab.Write(d, 2);
  EXPECT_EQ(lab.Counter("cow_reuse.retagged"), 1);
  r = lab.Walk(d, 2);
  EXPECT_EQ(r.candidates, 1);
  lab.Check();
}

// An exclusive page moved by mremap just takes the new address as its index.
TEST(AnonmmTest, MremapOfExclusivePagesRewritesIndex) {
  Lab lab;
  Mm& a = lab.Proc("A");
  lab.Map(a, 0, 4);
  lab.Write(a, 0, 4);
  lab.Move(a, 0, 4, 0x100);
  lab.Check();
  EXPECT_EQ(lab.FolioAt(a, 0x102).index, Pg(0x102));
  EXPECT_EQ(lab.Counter("mremap.pages_touched"), 4);
  EXPECT_EQ(lab.Counter("mremap.pages_chained"), 0);
  EXPECT_EQ(lab.Obj("rmap_chain").alloc, 0);
  EXPECT_EQ(lab.Walk(a, 0x102).candidates, 1);
}

// A shared page moved by mremap keeps its index and chains the new address (one
// 64-byte rmap_chain per page); walks then probe both addresses in every mm.
TEST(AnonmmTest, MremapOfSharedPagesFallsBackToChains) {
  Lab lab;
  Mm& a = lab.Proc("A");
  lab.Map(a, 0, 4);
  lab.Write(a, 0, 4);
  Mm& b = *lab.model_.Fork(a, "B");
  lab.Move(b, 0, 4, 0x100);
  lab.Check();
  const Folio& f = lab.FolioAt(b, 0x101);
  EXPECT_EQ(f.index, Pg(1));
  EXPECT_EQ(lab.scheme_.Chain(f), std::vector<Vpn>{Pg(0x101)});
  EXPECT_EQ(lab.Counter("mremap.pages_touched"), 4);
  EXPECT_EQ(lab.Counter("mremap.pages_chained"), 4);
  EXPECT_EQ(lab.Obj("rmap_chain").live, 4);
  // Tagged A: A at index (hit), A at the chained address, B at index, B chained (hit).
  WalkResult r = lab.Walk(b, 0x101);
  EXPECT_EQ(r.candidates, 4);
  EXPECT_EQ(r.false_positives, 2);
  // A fork copies chained pages at chained addresses: the count lives in the chain.
  Mm& c = *lab.model_.Fork(b, "C");
  EXPECT_EQ(lab.Counter("fork.pages_touched"), 4);
  EXPECT_EQ(lab.Walk(c, 0x101).found.size(), 3u);
  lab.Check();
  // The chain goes only with the last PTE; stale addresses stay until then.
  for (Mm* m : {&a, &b, &c}) lab.model_.Exit(*m);
  EXPECT_EQ(lab.Obj("rmap_chain").live, 0);
  EXPECT_EQ(lab.Obj("anonmm").live, 0);
}

// Every distinct address a shared page is moved to is chained: the seventh needs a
// second block.
TEST(AnonmmTest, RepeatedMovesGrowTheChain) {
  Lab lab;
  Mm& a = lab.Proc("A");
  lab.Map(a, 0, 1);
  lab.Write(a, 0);
  Mm& b = *lab.model_.Fork(a, "B");
  uint64_t at = 0;
  for (uint64_t i = 1; i <= 7; ++i) {
    lab.Move(b, at, 1, 0x100 * i);
    at = 0x100 * i;
  }
  lab.Check();
  EXPECT_EQ(lab.scheme_.Chain(lab.FolioAt(b, at)).size(), 7u);
  EXPECT_EQ(lab.Obj("rmap_chain").live, 2);
  // Moving back to the index adds nothing.
  lab.Move(b, at, 1, 0);
  EXPECT_EQ(lab.scheme_.Chain(lab.FolioAt(b, 0)).size(), 7u);
  // A: the index (hit) and 7 stale chained addresses; B: its index (hit), then stop.
  EXPECT_EQ(lab.Walk(b, 0).candidates, 8 + 1);
  lab.Check();
}

// The head's mm exits first: its anonmm stays (pages and members point at it) and goes
// with the last exit of the family; a member's anonmm goes with its last page.
TEST(AnonmmTest, AnonmmsOutliveTheirMms) {
  Lab lab;
  Mm& a = lab.Proc("A");
  lab.Map(a, 0, 2);
  lab.Write(a, 0, 2);
  Anonmm* hd = AnonmmScheme::MmAnonmm(a);
  Mm& b = *lab.model_.Fork(a, "B");
  lab.Write(b, 1);  // B's copy, tagged B
  Mm& c = *lab.model_.Fork(b, "C");
  lab.model_.Exit(a);
  lab.Check();
  EXPECT_EQ(lab.Obj("anonmm").live, 3);
  EXPECT_EQ(lab.Counter("exit.anonmm_kept"), 1);
  lab.model_.Exit(b);
  EXPECT_EQ(lab.Obj("anonmm").live, 3);  // B's page 1 lives on in C
  lab.Check();
  ASSERT_EQ(lab.model_.Munmap(c, Pg(1), 1), 0);
  EXPECT_EQ(lab.Obj("anonmm").live, 2);  // free_anonmm(B)
  lab.Check();
  Mm& d = *lab.model_.Fork(c, "D");  // joins the list of the exited head
  EXPECT_EQ(AnonmmScheme::MmAnonmm(d)->head, hd);
  EXPECT_EQ(hd->mm, nullptr);
  lab.Check();
  lab.model_.Exit(c);
  lab.model_.Exit(d);
  EXPECT_EQ(lab.Obj("anonmm").live, 0);
  EXPECT_EQ(lab.Obj("anonmm").alloc, 4);
}

// anonmm put no constraint on merges: a fork child's faulted VMA merges with an
// unfaulted neighbour, which Linux 6.18 refuses (vma_is_fork_child).
TEST(AnonmmTest, ForkChildMergesFreely) {
  for (const char* scheme : {"anonmm", "linux"}) {
    auto s = CreateScheme(scheme);
    Model m(s.get());
    Mm& p = *m.NewMm("P");
    MmapArgs args;
    args.addr = Pg(0);
    args.len = 4;
    args.read = args.write = true;
    ASSERT_EQ(m.Mmap(p, args), 0);
    ASSERT_EQ(m.Access(p, Pg(0), true), Touch::kOk);
    Mm& c = *m.Fork(p, "C");
    args.addr = Pg(4);
    ASSERT_EQ(m.Mmap(c, args), 0);
    ASSERT_EQ(m.Access(c, Pg(4), true), Touch::kOk);
    EXPECT_EQ(c.map_count(), std::string(scheme) == "anonmm" ? 1 : 2) << scheme;
  }
}

// Without the chains (March 2004, page_update_anon_rmap() only) the walks of shared
// pages moved by mremap miss the moved PTEs: Hugh's "grossly inadequate" case.
TEST(AnonmmTest, March2004RepostMissesMovedSharedPages) {
  for (bool chains : {true, false}) {
    Lab lab(chains);
    Mm& a = lab.Proc("A");
    lab.Map(a, 0, 4);
    lab.Write(a, 0, 4);
    Mm& b = *lab.model_.Fork(a, "B");
    lab.Move(b, 0, 4, 0x100);
    WalkResult r = lab.Walk(a, 1);
    EXPECT_EQ(r.missed.size(), chains ? 0u : 1u);
    EXPECT_EQ(lab.Misses(), chains ? 0 : 4);
    // An exclusive page still moves correctly in both.
    lab.Write(b, 0x102);  // B's copy at 0x102, tagged B
    lab.Move(b, 0x102, 1, 0x200);
    EXPECT_EQ(lab.Walk(b, 0x200).missed.size(), 0u);
    if (!chains) {
      EXPECT_EQ(lab.Counter("mremap.pages_untracked"), 4);
    }
  }
}

}  // namespace
}  // namespace rmaplab::anonmm

