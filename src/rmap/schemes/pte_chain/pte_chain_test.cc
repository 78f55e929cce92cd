// Tests of the pte-chain scheme: every scenario of the three folders under the oracle
// (exact walks: no miss, no false positive), then the design's own numbers: chain blocks
// of seven entries at fork, the list policy's walk order and removal, mremap and COW
// updates, free splits, and the merges that differ from Linux 6.18.
#include "rmap/scheme_test_util.h"
#include "rmap/schemes/pte_chain/pte_chain_scheme.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/model.h"
#include "rmap/oracle.h"
#include "rmap/registry.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::pte_chain {
namespace {

namespace fs = std::filesystem;

using rmaplab::testing::ScenarioFiles;

TEST(PteChainScenarios, EveryWalkIsExactOnEveryScenario) {
  std::set<std::string> flaws;
  for (const auto& f : PteChainScheme().KnownFlaws()) flaws.insert(f.scenario);
  auto files = ScenarioFiles();
  ASSERT_GE(files.size(), 40u);
  for (const auto& file : files) {
    ScriptError err;
    auto sc = ParseScenarioFile(file, &err);
    ASSERT_TRUE(sc) << err.str();
    SimOptions opt;
    opt.scheme = "pte-chain";
    opt.check_each_statement = true;
    opt.reclaim_at_end = true;
    SimResult res;
    std::string error;
    ASSERT_TRUE(RunSim(*sc, opt, &res, &error)) << error;
    std::string msgs;
    for (const auto& m : res.oracle.messages) msgs += "\n  " + m;
    EXPECT_EQ(res.oracle.invariant_failures, 0) << file << msgs;
    if (flaws.count(fs::path(file).stem().string()))
      EXPECT_GT(res.oracle.misses, 0) << file;
    else
      EXPECT_EQ(res.oracle.misses, 0) << file << msgs;
    // The design is exact: every chain entry is a mapping.
    EXPECT_EQ(res.oracle.false_positives, 0) << file;
    EXPECT_EQ(res.reclaim.misses + res.reclaim.false_positives, 0) << file;
  }
}

constexpr Vpn kBase = 0x100000000ULL;  // arena page 0
Vpn Pg(uint64_t n) { return kBase + n; }
constexpr int kMove = Model::kMremapMaymove | Model::kMremapFixed;

class PteChainTest : public ::testing::Test {
 protected:
  PteChainTest() : model_(&scheme_) {}

  void Check() {
    OracleReport r;
    Oracle::CheckAll(model_, "test", &r);
    std::string msgs;
    for (const auto& m : r.messages) msgs += "\n  " + m;
    ASSERT_EQ(r.misses + r.invariant_failures + r.false_positives, 0) << msgs;
  }
  void Map(Mm& mm, uint64_t page, uint64_t len) {
    MmapArgs a;
    a.addr = Pg(page);
    a.len = len;
    a.read = a.write = true;
    ASSERT_EQ(model_.Mmap(mm, a), 0);
    Check();
  }
  void Write(Mm& mm, uint64_t page, uint64_t n = 1) {
    for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(model_.Access(mm, Pg(page + i), true), Touch::kOk);
    Check();
  }
  Mm& Fork(Mm& parent, const std::string& name) {
    Mm* c = model_.Fork(parent, name);
    Check();
    return *c;
  }
  const Folio& FolioAt(const Mm& mm, uint64_t page) {
    return model_.folios().Get(mm.pt.Get(Pg(page)));
  }
  const PageRmap& PageAt(const Mm& mm, uint64_t page) {
    const PageRmap* p = scheme_.Page(FolioAt(mm, page));
    EXPECT_NE(p, nullptr);
    return *p;
  }
  int64_t Live(const std::string& kind) { return scheme_.Objects()[kind].live; }
  int64_t Alloc(const std::string& kind) { return scheme_.Objects()[kind].alloc; }
  int64_t Counter(const std::string& name) { return scheme_.Counters()[name]; }

  PteChainScheme scheme_;
  Model model_;
};

// Fork adds one entry per resident anon page; blocks hold seven entries.
TEST_F(PteChainTest, ForkFillsCacheLineBlocksOfSeven) {
  Mm& p = *model_.NewMm("P");
  Map(p, 0, 4);
  Write(p, 0, 4);
  EXPECT_EQ(Live("page.pte"), 4);
  EXPECT_EQ(Live("pte_chain"), 0);  // PG_direct: no block
  EXPECT_TRUE(PageAt(p, 0).direct);
  std::vector<Mm*> kids;
  for (int i = 1; i <= 6; ++i) kids.push_back(&Fork(p, "C" + std::to_string(i)));
  EXPECT_EQ(Counter("fork.pages_touched"), 4 * 6);
  EXPECT_EQ(Live("pte_chain"), 4);  // 7 entries per page: one full block
  EXPECT_EQ(PteChainScheme::ChainBlocks(PageAt(p, 0)), 1);
  kids.push_back(&Fork(p, "C7"));
  EXPECT_EQ(Counter("fork.pages_touched"), 4 * 7);
  EXPECT_EQ(Live("pte_chain"), 8);  // 8 entries: a new head block per page
  EXPECT_EQ(PteChainScheme::ChainBlocks(PageAt(p, 0)), 2);

  // A walk visits exactly the 8 mappings under one PG_chainlock.
  WalkResult w = Oracle::Walk(model_, FolioAt(p, 0));
  EXPECT_EQ(w.candidates, 8);
  EXPECT_EQ(w.false_positives, 0);
  EXPECT_EQ(w.cost.objects_visited, 8);
  EXPECT_EQ(w.cost.locks["PG_chainlock"], 1);

  // The first exit empties each page's one-entry head block, which is freed.
  model_.Exit(*kids[0]);
  Check();
  EXPECT_EQ(Live("pte_chain"), 4);
  EXPECT_EQ(Alloc("pte_chain"), 8);
  EXPECT_EQ(Counter("zap.pages_touched"), 4);
  // Bytes: 8 per resident anon page plus 64 per block.
  EXPECT_EQ(Live("page.pte") * 8 + Live("pte_chain") * 64, 4 * 8 + 4 * 64);
}

// Insertion fills the head block from its end; removal moves the head's first used
// entry onto the victim.
TEST_F(PteChainTest, WalkOrderFollowsTheListPolicy) {
  Mm& p = *model_.NewMm("P");
  Map(p, 0, 1);
  Write(p, 0);
  Mm& c1 = Fork(p, "C1");
  Mm& c2 = Fork(p, "C2");
  auto mms = [&] {
    std::vector<const Mm*> out;
    for (const PteAddr& e : PteChainScheme::Entries(PageAt(p, 0))) out.push_back(e.mm);
    return out;
  };
  EXPECT_EQ(mms(), (std::vector<const Mm*>{&c2, &c1, &p}));
  std::vector<WalkCandidate> cands;
  scheme_.rmap_walk(FolioAt(p, 0), &cands, nullptr);
  ASSERT_EQ(cands.size(), 3u);
  EXPECT_EQ(cands[0].vma->vm_mm, &c2);
  EXPECT_EQ(cands[2].vma->vm_mm, &p);
  model_.Exit(c1);
  Check();
  EXPECT_EQ(mms(), (std::vector<const Mm*>{&c2, &p}));
  // Searching for C1 compared C2's entry, then found C1's.
  EXPECT_EQ(Counter("zap.chain_entries_scanned"), 2);
}

// A COW break removes the writer's entry from the old page; the new page is direct.
// A chain left with one entry stays a chain (the collapse was reclaim's job); an mremap
// that removes and re-adds its only entry makes it direct again.
TEST_F(PteChainTest, CowBreakAndOneEntryChain) {
  Mm& p = *model_.NewMm("P");
  Map(p, 0, 1);
  Write(p, 0);
  Mm& c = Fork(p, "C");
  Write(c, 0);
  EXPECT_TRUE(PageAt(c, 0).direct);
  EXPECT_FALSE(PageAt(p, 0).direct);
  EXPECT_EQ(PteChainScheme::Entries(PageAt(p, 0)).size(), 1u);
  EXPECT_EQ(Live("pte_chain"), 1);
  ASSERT_EQ(model_.Mremap(p, Pg(0), 1, 1, kMove, Pg(50)), 0);
  Check();
  EXPECT_TRUE(PageAt(p, 50).direct);
  EXPECT_EQ(Live("pte_chain"), 0);
  EXPECT_EQ(Counter("mremap.pages_touched"), 1);
}

// mremap updates one entry per moved PTE and allocates nothing.
TEST_F(PteChainTest, MremapUpdatesEachMovedEntry) {
  Mm& p = *model_.NewMm("P");
  Map(p, 0, 4);
  Write(p, 0, 3);
  Mm& c = Fork(p, "C");
  int64_t allocs = Alloc("pte_chain");
  ASSERT_EQ(model_.Mremap(p, Pg(0), 4, 4, kMove, Pg(100)), 0);
  Check();
  EXPECT_EQ(Counter("mremap.pages_touched"), 3);
  EXPECT_EQ(Alloc("pte_chain"), allocs);
  std::vector<WalkCandidate> cands;
  scheme_.rmap_walk(FolioAt(c, 1), &cands, nullptr);
  ASSERT_EQ(cands.size(), 2u);
  EXPECT_EQ(cands[0].vma->vm_mm, &p);  // re-added at the head
  EXPECT_EQ(cands[0].addr, Pg(101));
}

// Splits and merges touch no rmap object: only the VMA structs change.
TEST_F(PteChainTest, SplitAndMergeCostNothing) {
  Mm& p = *model_.NewMm("P");
  Map(p, 0, 8);
  Write(p, 0, 8);
  Fork(p, "C");
  auto before = scheme_.Objects();
  auto counters = scheme_.Counters();
  ASSERT_EQ(model_.Mprotect(p, Pg(2), 2, true, false, false), 0);
  EXPECT_EQ(p.map_count(), 3);
  ASSERT_EQ(model_.Mprotect(p, Pg(2), 2, true, true, false), 0);
  Check();
  EXPECT_EQ(p.map_count(), 1);
  EXPECT_EQ(scheme_.Objects()["pte_chain"].alloc, before["pte_chain"].alloc);
  EXPECT_EQ(scheme_.Counters(), counters);
}

// A fork child's faulted VMA merges with a new neighbour: 6.18 refuses (a fork child
// never lends its anon_vma), 2.5 had no such rule.
TEST(PteChainMerge, ForkChildMergesWhereLinuxRefuses) {
  for (const std::string name : {"linux", "pte-chain"}) {
    auto scheme = CreateScheme(name);
    Model model(scheme.get());
    Mm& p = *model.NewMm("P");
    MmapArgs a;
    a.addr = Pg(0);
    a.len = 4;
    a.read = a.write = true;
    ASSERT_EQ(model.Mmap(p, a), 0);
    for (int i = 0; i < 4; ++i) model.Access(p, Pg(i), true);
    Mm& c = *model.Fork(p, "C");
    a.addr = Pg(4);
    ASSERT_EQ(model.Mmap(c, a), 0);
    EXPECT_EQ(c.map_count(), name == "linux" ? 2 : 1) << name;
    OracleReport r;
    Oracle::CheckAll(model, name, &r);
    EXPECT_EQ(r.misses + r.invariant_failures, 0) << name;
  }
}

}  // namespace
}  // namespace rmaplab::pte_chain
