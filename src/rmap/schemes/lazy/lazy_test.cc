// Tests of the `lazy` scheme (ANON_VMA_LAZY): every scenario folder under the oracle,
// the regression scenarios' own claims, and the design's numbers on small cases
// (objects for a fork chain, a split, an mremap; walk candidates and locks).
#include "rmap/schemes/lazy/lazy_scheme.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/model.h"
#include "rmap/oracle.h"
#include "rmap/registry.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::lazy_rmap {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> ScenarioFiles() {
  std::vector<fs::path> out;
  for (const fs::path& dir : {fs::path(RMAPLAB_SHARED_DIR) / "scenarios",
                             fs::path(RMAPLAB_SOURCE_DIR) / "tests" / "scenarios",
                             fs::path(RMAPLAB_SOURCE_DIR) / "tests" / "regress"}) {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".rmap") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

SimResult RunScenario(const fs::path& file, const std::string& scheme = "lazy") {
  ScriptError err;
  auto sc = ParseScenarioFile(file.string(), &err);
  EXPECT_TRUE(sc) << err.str();
  SimResult res;
  if (!sc) return res;
  SimOptions opt;
  opt.scheme = scheme;
  opt.check_each_statement = true;
  std::string error;
  EXPECT_TRUE(RunSim(*sc, opt, &res, &error)) << error;
  return res;
}

TEST(LazyScenarios, EveryFolderHasNoMissAndNoInvariantFailure) {
  std::set<std::string> flaws;
  for (const auto& f : LazyScheme().KnownFlaws()) flaws.insert(f.scenario);
  int64_t lazy_walks = 0;
  size_t files = 0;
  for (const auto& file : ScenarioFiles()) {
    SimResult res = RunScenario(file);
    ++files;
    std::string name = file.stem().string();
    std::string msgs;
    for (const auto& m : res.oracle.messages) msgs += "\n  " + m;
    EXPECT_EQ(res.oracle.invariant_failures, 0) << name << msgs;
    if (flaws.count(name))
      EXPECT_GT(res.oracle.misses, 0) << name << ": a known flaw that no longer shows";
    else
      EXPECT_EQ(res.oracle.misses, 0) << name << msgs;
    lazy_walks += res.counters["walk.lazy"];
  }
  EXPECT_GT(files, 40u);
  EXPECT_GT(lazy_walks, 1000);  // the lazy path is what most walks take
}

fs::path Regress(const std::string& name) {
  return fs::path(RMAPLAB_SOURCE_DIR) / "tests" / "regress" / (name + ".rmap");
}

// Each regression scenario takes the path its comment claims.
TEST(LazyScenarios, RegressionsTakeTheirPaths) {
  SimResult split = RunScenario(Regress("lazy-split-merge-unmap-root"));
  EXPECT_EQ(split.objects["anon_vma"].alloc, 0);
  EXPECT_EQ(split.objects["anon_vma_chain"].alloc, 0);
  EXPECT_EQ(split.objects["vm_area_struct(pinned root)"].alloc, 1);
  EXPECT_EQ(split.counters["walk.anon_vma"], 0);

  SimResult file = RunScenario(Regress("lazy-file-cow-pgoff"));
  EXPECT_EQ(file.counters["upgrade.mremap"], 1);
  EXPECT_GT(file.counters["walk.lazy"], 0);

  SimResult part = RunScenario(Regress("lazy-mremap-part"));
  EXPECT_EQ(part.counters["upgrade.mremap"], 2);
  EXPECT_EQ(part.counters["upgrade.adopted"], 1);  // the sibling joins the anon_vma
  EXPECT_EQ(part.counters["mremap.pages_touched"], 16);
  EXPECT_EQ(part.objects["anon_vma"].alloc, 1);

  SimResult sib = RunScenario(Regress("lazy-fork-sibling-dontfork"));
  EXPECT_EQ(sib.counters["upgrade.fork"], 2);
  EXPECT_EQ(sib.counters["fork.pages_touched"], 8);  // the DONTFORK piece stays lazy

  SimResult chain = RunScenario(Regress("lazy-tree-parent-chain"));
  EXPECT_GE(chain.counters["upgrade.reused"], 1);
  EXPECT_EQ(chain.counters["upgrade.mremap"], 1);
}

// ---- the design's numbers on small cases, driven through the model ---------------

constexpr Vpn kBase = 0x100000000ULL;
Vpn Pg(uint64_t n) { return kBase + n; }
constexpr int kMove = Model::kMremapMaymove | Model::kMremapFixed;

class LazyModelTest : public ::testing::Test {
 protected:
  explicit LazyModelTest(const char* scheme = "lazy")
      : scheme_(CreateScheme(scheme)), model_(scheme_.get()) {}

  LazyScheme& lazy() { return *static_cast<LazyScheme*>(scheme_.get()); }
  void Check(const std::string& what) {
    OracleReport r;
    Oracle::CheckAll(model_, what, &r);
    std::string msgs;
    for (const auto& m : r.messages) msgs += "\n  " + m;
    EXPECT_EQ(r.misses, 0) << msgs;
    EXPECT_EQ(r.invariant_failures, 0) << msgs;
  }
  void Map(Mm& mm, uint64_t page, uint64_t len, bool exec = false) {
    MmapArgs a;
    a.addr = Pg(page);
    a.len = len;
    a.read = a.write = true;
    a.exec = exec;
    ASSERT_EQ(model_.Mmap(mm, a), 0);
    Check("mmap");
  }
  void Write(Mm& mm, uint64_t page, uint64_t len = 1) {
    for (uint64_t i = 0; i < len; ++i) ASSERT_EQ(model_.Access(mm, Pg(page + i), true), Touch::kOk);
    Check("write");
  }
  int64_t Alloc(const std::string& kind) { return scheme_->Objects()[kind].alloc; }
  int64_t Live(const std::string& kind) { return scheme_->Objects()[kind].live; }
  int64_t Counter(const std::string& c) { return scheme_->Counters()[c]; }
  Vma* VmaAt(Mm& mm, uint64_t page) { return mm.vmas.Find(Pg(page)); }
  const Folio& FolioAt(Mm& mm, uint64_t page) {
    return model_.folios().Get(mm.pt.Get(Pg(page)));
  }
  WalkResult Walk(Mm& mm, uint64_t page) { return Oracle::Walk(model_, FolioAt(mm, page)); }

  std::unique_ptr<Scheme> scheme_;
  Model model_;
};

// A never-forked VMA, split, merged and partly unmapped: no anon_vma, no AVC; a walk
// is one VMA lookup under a VMA reference, without the anon_vma lock.
TEST_F(LazyModelTest, NeverForkedVmaAllocatesNothing) {
  Mm& a = *model_.NewMm("A");
  Map(a, 0, 16);
  Write(a, 0, 16);
  ASSERT_EQ(model_.Mprotect(a, Pg(4), 4, true, false, false), 0);
  Check("split");
  EXPECT_EQ(VmaAt(a, 0)->anon_vma, VmaAt(a, 4)->anon_vma);  // one lazy root, one word
  EXPECT_TRUE(LazyScheme::IsLazy(*VmaAt(a, 4)));
  ASSERT_EQ(model_.Munmap(a, Pg(0), 2), 0);
  ASSERT_EQ(model_.Mprotect(a, Pg(4), 4, true, true, false), 0);
  Check("merged");
  EXPECT_EQ(a.map_count(), 1);
  EXPECT_EQ(Alloc("anon_vma"), 0);
  EXPECT_EQ(Alloc("anon_vma_chain"), 0);
  WalkResult w = Walk(a, 5);
  EXPECT_EQ(w.candidates, 1);
  EXPECT_EQ(w.found.size(), 1u);
  EXPECT_EQ(w.cost.locks.count("anon_vma->root->rwsem(read)"), 0u);
  EXPECT_EQ(w.cost.locks["root_vma->vm_refcnt(get)"], 1);
}

// The root VMA's struct outlives its range while other pieces name it (CONFIG_VMA_REF).
TEST_F(LazyModelTest, UnmappedRootVmaStaysPinnedUntilTheLastPiece) {
  Mm& a = *model_.NewMm("A");
  Map(a, 0, 8);
  Write(a, 0, 8);
  uint64_t root_id = VmaAt(a, 0)->id;
  ASSERT_EQ(model_.Mprotect(a, Pg(4), 4, true, false, false), 0);
  Vma* root_piece = VmaAt(a, 0)->id == root_id ? VmaAt(a, 0) : VmaAt(a, 4);
  uint64_t start = root_piece->vm_start - kBase;
  ASSERT_EQ(model_.Munmap(a, Pg(start), 4), 0);
  Check("root unmapped");
  EXPECT_EQ(Live("vm_area_struct(pinned root)"), 1);
  ASSERT_EQ(model_.Munmap(a, Pg(0), 8), 0);
  EXPECT_EQ(Live("vm_area_struct(pinned root)"), 0);
  EXPECT_EQ(Alloc("vm_area_struct(pinned root)"), 1);
}

// Fork: the parent's VMA is upgraded (1 anon_vma + 1 AVC), the child's is TREE_PARENT
// (1 AVC, no anon_vma); Linux makes 2 anon_vmas and 3 AVCs. Every shared folio is
// re-pointed once as its PTE is copied.
TEST_F(LazyModelTest, ForkUpgradesTheParentOnly) {
  Mm& p = *model_.NewMm("P");
  Map(p, 0, 4);
  Write(p, 0, 4);
  Mm& c = *model_.Fork(p, "C");
  Check("fork");
  EXPECT_EQ(Alloc("anon_vma"), 1);
  EXPECT_EQ(Alloc("anon_vma_chain"), 2);
  EXPECT_EQ(Counter("fork.pages_touched"), 4);
  EXPECT_FALSE(LazyScheme::IsLazy(*VmaAt(p, 0)));
  EXPECT_TRUE(LazyScheme::IsTreeParent(*VmaAt(c, 0)));
  EXPECT_EQ(Walk(p, 1).found.size(), 2u);  // parent and child, through the anon_vma
  // The child's COW copy is lazy in the child: one candidate, the child's VMA.
  Write(c, 1);
  WalkResult w = Walk(c, 1);
  EXPECT_EQ(w.candidates, 1);
  EXPECT_EQ(w.found[0].first, &c);
  // The child forks: its TREE_PARENT VMA gets its own anon_vma (as anon_vma_fork()
  // would have given it) and its lazy copy is re-pointed; the grandchild is TREE_PARENT.
  Mm& g = *model_.Fork(c, "G");
  Check("fork 2");
  EXPECT_EQ(Alloc("anon_vma"), 2);
  EXPECT_EQ(Alloc("anon_vma_chain"), 2 + 1 + 2);
  EXPECT_EQ(Counter("fork.pages_touched"), 4 + 1);
  EXPECT_EQ(Walk(g, 1).found.size(), 2u);  // child and grandchild
  EXPECT_EQ(Walk(g, 2).found.size(), 3u);  // all three
}

// The same fork under `linux`, for the numbers the test above compares with.
class LazyLinuxBaselineTest : public LazyModelTest {
 protected:
  LazyLinuxBaselineTest() : LazyModelTest("linux") {}
};
TEST_F(LazyLinuxBaselineTest, ForkForComparison) {
  Mm& p = *model_.NewMm("P");
  Map(p, 0, 4);
  Write(p, 0, 4);
  Mm& c = *model_.Fork(p, "C");
  EXPECT_EQ(Alloc("anon_vma"), 2);
  EXPECT_EQ(Alloc("anon_vma_chain"), 3);
  Write(c, 1);
  model_.Fork(c, "G");
  EXPECT_EQ(Alloc("anon_vma"), 3);
  EXPECT_EQ(Alloc("anon_vma_chain"), 3 + 3);
}

// mremap of part of a lazy VMA: the source is upgraded and every lazy folio it maps is
// re-pointed (counted), before the PTEs move.
TEST_F(LazyModelTest, MremapUpgradesTheSourceAndRepointsItsFolios) {
  Mm& a = *model_.NewMm("A");
  Map(a, 0, 8);
  Write(a, 0, 6);
  ASSERT_EQ(model_.Mremap(a, Pg(2), 4, 4, kMove, Pg(0x100)), 0);
  Check("mremap");
  EXPECT_EQ(Counter("upgrade.mremap"), 1);
  EXPECT_EQ(Counter("mremap.pages_touched"), 6);
  EXPECT_EQ(Alloc("anon_vma"), 1);
  EXPECT_FALSE(LazyScheme::IsLazy(*VmaAt(a, 0x100)));
  EXPECT_EQ(VmaAt(a, 0)->anon_vma, VmaAt(a, 0x100)->anon_vma);
  WalkResult w = Walk(a, 0x101);
  EXPECT_EQ(w.found.size(), 1u);
  EXPECT_EQ(w.cost.locks["anon_vma->root->rwsem(read)"], 1);
}

// A MAP_PRIVATE file VMA: folio->index is a file offset, vma_mapping_base != 0.
TEST_F(LazyModelTest, FilePrivateCowUsesTheMappingBase) {
  Mm& a = *model_.NewMm("A");
  File* f = model_.NewFile("F", 16);
  MmapArgs args;
  args.addr = Pg(0x40);
  args.len = 8;
  args.read = args.write = true;
  args.file = f;
  args.pgoff = 5;
  ASSERT_EQ(model_.Mmap(a, args), 0);
  Write(a, 0x40, 8);
  EXPECT_EQ(FolioAt(a, 0x42).index, 7u);
  EXPECT_EQ(LazyScheme::vma_mapping_base(*VmaAt(a, 0x40)), Pg(0x40) - 5);
  ASSERT_EQ(model_.Mprotect(a, Pg(0x42), 2, true, false, false), 0);
  ASSERT_EQ(model_.Munmap(a, Pg(0x40), 1), 0);
  Check("split file");
  EXPECT_EQ(Walk(a, 0x43).found.size(), 1u);
  EXPECT_EQ(Alloc("anon_vma"), 0);
}

// Documented divergence: separately faulted neighbours do not share a lazy root, so
// they do not merge when their flags become equal (Linux shares the anon_vma found by
// find_mergeable_anon_vma() and merges them).
TEST_F(LazyModelTest, SeparatelyFaultedNeighboursDoNotMerge) {
  Mm& a = *model_.NewMm("A");
  Map(a, 0, 4);
  Map(a, 4, 4, /*exec=*/true);
  Write(a, 0);
  Write(a, 5);
  ASSERT_EQ(model_.Mprotect(a, Pg(4), 4, true, true, false), 0);
  Check("mprotect");
  EXPECT_EQ(a.map_count(), 2);
}
TEST_F(LazyLinuxBaselineTest, SeparatelyFaultedNeighboursMerge) {
  Mm& a = *model_.NewMm("A");
  Map(a, 0, 4);
  Map(a, 4, 4, /*exec=*/true);
  Write(a, 0);
  Write(a, 5);
  ASSERT_EQ(model_.Mprotect(a, Pg(4), 4, true, true, false), 0);
  EXPECT_EQ(a.map_count(), 1);
}

// A daemon that re-forks and exits, generation after generation: the deferred
// anon_vma_fork() reuses the idle anon_vma, so objects and chains stay bounded.
TEST_F(LazyModelTest, DaemonChainStaysBounded) {
  Mm* cur = model_.NewMm("G0");
  Map(*cur, 0, 4);
  Write(*cur, 0, 4);
  for (int gen = 1; gen <= 8; ++gen) {
    Mm* child = model_.Fork(*cur, "G" + std::to_string(gen));
    model_.Exit(*cur);
    Check("generation");
    Write(*child, 0);
    cur = child;
  }
  EXPECT_LE(Live("anon_vma"), 1);
  EXPECT_LE(LazyScheme::State(*VmaAt(*cur, 0))->chain.size(), 1u);
  EXPECT_GE(Counter("upgrade.reused"), 6);
}

}  // namespace
}  // namespace rmaplab::lazy_rmap
