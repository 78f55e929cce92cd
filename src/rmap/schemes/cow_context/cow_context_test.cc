// Tests of the `cow-context` scheme: every scenario under the oracle, the design's own
// numbers (one context per mm, no object per VMA, remap records only for moved faulted
// VMAs, walk candidates with the PageAnonExclusive stop), reparenting of dead contexts,
// and the two flaws of the PoC snapshot's walk that the design as specified avoids.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "rmap/scheme_test_util.h"
#include "core/model.h"
#include "rmap/oracle.h"
#include "rmap/registry.h"
#include "rmap/schemes/cow_context/cow_context_scheme.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::cow_context {
namespace {

namespace fs = std::filesystem;

Vpn Pg(uint64_t n) { return kArenaBaseVpn + n; }

using rmaplab::testing::ScenarioFiles;

std::string Regress(const std::string& stem) {
  return (fs::path(RMAPLAB_SOURCE_DIR) / "tests" / "regress" / (stem + ".rmap")).string();
}

// The PoC snapshot's behaviour, registered for these tests only (never in the CLI).
const char* PocSchemeName() {
  static const bool once = RegisterScheme("cow-context-poc-snapshot", [] {
    CowContextOptions o;
    o.reparent_dead_contexts = false;
    o.poc_exclusive_shortcut = true;
    return std::unique_ptr<Scheme>(new CowContextScheme(o));
  });
  (void)once;
  return "cow-context-poc-snapshot";
}

SimResult RunScenario(const std::string& file, const std::string& scheme) {
  ScriptError err;
  auto sc = ParseScenarioFile(file, &err);
  EXPECT_TRUE(sc) << err.str();
  SimOptions opt;
  opt.scheme = scheme;
  opt.check_each_statement = true;
  opt.reclaim_at_end = true;
  SimResult res;
  std::string error;
  EXPECT_TRUE(RunSim(*sc, opt, &res, &error)) << error;
  return res;
}

// Every walk after every statement of every scenario finds every mapping, and every
// invariant holds; the design declares no known flaw.
TEST(CowContextScenarioTest, EveryScenarioWalksCompletely) {
  auto files = ScenarioFiles();
  ASSERT_GE(files.size(), 50u) << "scenario folders not found";
  EXPECT_TRUE(CreateScheme("cow-context")->KnownFlaws().empty());
  for (const auto& f : files) {
    SimResult res = RunScenario(f, "cow-context");
    std::string msgs;
    for (const auto& m : res.oracle.messages) msgs += "\n  " + m;
    EXPECT_GT(res.oracle.checks, 0) << f;
    EXPECT_EQ(res.oracle.misses + res.reclaim.misses, 0) << f << msgs;
    EXPECT_EQ(res.oracle.invariant_failures, 0) << f << msgs;
  }
}

// The PoC snapshot's walk (stop after the offset-0 lookup of the first live mm when the
// folio's mapcount is 1) misses mappings that the specified design finds.
TEST(CowContextScenarioTest, PocSnapshotShortcutMisses) {
  for (const std::string stem :
       {"cow-context-exclusive-in-descendant", "cow-context-exclusive-after-mremap"}) {
    SimResult poc = RunScenario(Regress(stem), PocSchemeName());
    SimResult ours = RunScenario(Regress(stem), "cow-context");
    EXPECT_GT(poc.oracle.misses, 0) << stem;
    EXPECT_EQ(poc.oracle.invariant_failures, 0) << stem;
    EXPECT_EQ(ours.oracle.misses, 0) << stem;
  }
}

// Without reparenting (the PoC) a re-forking daemon keeps every dead ancestor context;
// with it only those that still own a folio stay.
TEST(CowContextScenarioTest, DaemonChainReparenting) {
  SimResult ours = RunScenario(Regress("cow-context-daemon-chain-long"), "cow-context");
  SimResult poc = RunScenario(Regress("cow-context-daemon-chain-long"), PocSchemeName());
  EXPECT_EQ(poc.objects["cow_context"].live, 13);  // G0..G12
  // G12, and G11 (dead) until G12 rewrites the rest of its four folios.
  EXPECT_EQ(ours.objects["cow_context"].live, 2);
  EXPECT_EQ(ours.objects["cow_context"].alloc, 13);
  EXPECT_EQ(ours.counters["exit.contexts_spliced"], 11);
  EXPECT_EQ(ours.oracle.misses + poc.oracle.misses, 0);
}

// Random sequences of every operation over a few processes in a small window (files,
// moves, DONTUNMAP, resizes, forks and exits all interleaved): after every step every
// walk is complete and every invariant holds; after the last exit nothing is left.
TEST(CowContextStress, RandomOperationsNeverMiss) {
  constexpr uint64_t kWindow = 64;
  std::map<std::string, int64_t> seen;  // the design's paths the sequences went through
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    auto rnd = [&](uint64_t n) { return static_cast<uint64_t>(rng() % n); };
    auto scheme = CreateScheme("cow-context");
    auto model = std::make_unique<Model>(scheme.get());
    File* files[2] = {model->NewFile("F0", 40), model->NewFile("F1", 40)};
    std::vector<Mm*> alive{model->NewMm("P0")};
    int forks = 0;
    std::string log;
    bool failed = false;
    for (int step = 0; step < 120 && !failed; ++step) {
      Mm& mm = *alive[rnd(alive.size())];
      uint64_t a = rnd(kWindow - 8), len = 1 + rnd(std::min<uint64_t>(12, kWindow - a));
      uint64_t b = rnd(kWindow - 8);
      int k = static_cast<int>(rnd(100));
      log += fmt::format("\n  {} k={} a={} len={} b={}", mm.name, k, a, len, b);
      if (k < 25 || (k < 30)) {
        for (uint64_t i = 0; i < len; ++i) model->Access(mm, Pg(a + i), k < 25);
      } else if (k < 42) {
        MmapArgs m;
        m.addr = Pg(a);
        m.len = len;
        m.read = true;
        m.write = rnd(4) != 0;
        m.fixed = rnd(2) == 0;
        if (rnd(3) == 0) {
          m.file = files[rnd(2)];
          m.pgoff = rnd(32);
        }
        m.shared = rnd(8) == 0;
        model->Mmap(mm, m);
      } else if (k < 50) {
        model->Munmap(mm, Pg(a), len);
      } else if (k < 60) {
        model->Mprotect(mm, Pg(a), len, true, rnd(3) != 0, rnd(4) == 0);
      } else if (k < 75) {
        int v = static_cast<int>(rnd(3));
        int flags = Model::kMremapMaymove | Model::kMremapFixed;
        if (v == 0) model->Mremap(mm, Pg(a), len, len, flags, Pg(b));
        if (v == 1) model->Mremap(mm, Pg(a), len, len, flags | Model::kMremapDontunmap, Pg(b));
        if (v == 2) model->Mremap(mm, Pg(a), len, 1 + rnd(12), 0, 0);
      } else if (k < 82) {
        static const MadviseBehavior kAdv[] = {
            MadviseBehavior::kDontneed, MadviseBehavior::kFree, MadviseBehavior::kPageout,
            MadviseBehavior::kDontfork, MadviseBehavior::kWipeonfork, MadviseBehavior::kDofork};
        model->Madvise(mm, Pg(a), len, kAdv[rnd(6)]);
      } else if (k < 93) {
        if (alive.size() < 4 && forks < 10)
          alive.push_back(model->Fork(mm, fmt::format("C{}", ++forks)));
      } else if (alive.size() > 1) {
        model->Exit(mm);
        alive.erase(std::find(alive.begin(), alive.end(), &mm));
      }
      OracleReport r;
      Oracle::CheckAll(*model, "step", &r);
      if (r.misses || r.invariant_failures) {
        std::string msgs;
        for (const auto& m : r.messages) msgs += "\n  " + m;
        ADD_FAILURE() << "seed " << seed << msgs << "\nops:" << log;
        failed = true;
      }
    }
    for (const auto& [k, v] : scheme->Counters()) seen[k] += v;
    for (Mm* mm : alive) model->Exit(*mm);
    EXPECT_EQ(scheme->Objects()["cow_context"].live, 0) << "seed " << seed;
    EXPECT_EQ(scheme->Objects()["cow_remap"].live, 0) << "seed " << seed;
    model.reset();
  }
  for (const char* k : {"remap.records_inserted", "remap.records_rekeyed", "fork.remap_records_copied",
                        "exit.contexts_spliced", "folio.context_moves", "merge.refused_vpgoff",
                        "walk.dead_contexts_visited", "walk.unfaulted_vmas_skipped"})
    EXPECT_GT(seen[k], 0) << k << " never exercised";
}

// A model under one scheme instance; Check() runs the oracle.
class Lab {
 public:
  explicit Lab(std::unique_ptr<Scheme> s) : scheme_(std::move(s)), model_(scheme_.get()) {}
  explicit Lab(const std::string& name) : Lab(CreateScheme(name)) {}
  Mm& Proc(const std::string& name) { return *model_.NewMm(name); }
  void Map(Mm& mm, uint64_t page, uint64_t len) {
    MmapArgs a;
    a.addr = Pg(page);
    a.len = len;
    a.read = a.write = true;
    ASSERT_EQ(model_.Mmap(mm, a), 0);
  }
  void Write(Mm& mm, uint64_t page, uint64_t len = 1) {
    for (uint64_t i = 0; i < len; ++i)
      ASSERT_EQ(model_.Access(mm, Pg(page + i), true), Touch::kOk);
  }
  void Check() {
    OracleReport r;
    Oracle::CheckAll(model_, "step", &r);
    std::string msgs;
    for (const auto& m : r.messages) msgs += "\n  " + m;
    EXPECT_EQ(r.misses, 0) << msgs;
    EXPECT_EQ(r.invariant_failures, 0) << msgs;
  }
  WalkResult WalkAt(Mm& mm, uint64_t page) {
    return Oracle::Walk(model_, model_.folios().Get(mm.pt.Get(Pg(page))));
  }
  ObjectStats Obj(const std::string& kind) { return scheme_->Objects()[kind]; }
  int64_t Counter(const std::string& k) { return scheme_->Counters()[k]; }
  Model& model() { return model_; }

 private:
  std::unique_ptr<Scheme> scheme_;
  Model model_;
};

// A fork chain of depth 3 over 4 faulted VMAs: one context per mm, nothing per VMA.
// Linux allocates an anon_vma per VMA per generation and chains that grow with depth.
TEST(CowContextObjects, ForkChainIsOneContextPerMm) {
  for (const std::string name : {"cow-context", "linux"}) {
    Lab lab(name);
    Mm& a = lab.Proc("A");
    for (int v = 0; v < 4; ++v) {
      lab.Map(a, v * 16, 8);  // gaps between them: no merges
      lab.Write(a, v * 16, 8);
    }
    Mm* m = &a;
    for (const char* c : {"B", "C", "D"}) m = lab.model().Fork(*m, c);
    lab.Check();
    if (name == "cow-context") {
      EXPECT_EQ(lab.Obj("cow_context").live, 4);
      EXPECT_EQ(lab.Obj("cow_remap").alloc, 0);
      EXPECT_EQ(lab.Counter("fork.pages_touched"), 0);
    } else {
      EXPECT_EQ(lab.Obj("anon_vma").live, 16);
      EXPECT_EQ(lab.Obj("anon_vma_chain").live, 4 * (1 + 2 + 3 + 4));
    }
  }
}

// Splitting a faulted VMA into pieces and merging it back allocates nothing; the pieces
// of a fork child merge with a new neighbour, which Linux 6.18 refuses.
TEST(CowContextObjects, SplitAndMergeAreFree) {
  Lab lab("cow-context");
  Mm& a = lab.Proc("A");
  lab.Map(a, 0, 16);
  lab.Write(a, 0, 16);
  for (int i = 1; i < 16; i += 2) lab.model().Mprotect(a, Pg(i), 1, true, false, false);
  EXPECT_EQ(a.map_count(), 16);
  lab.Check();
  lab.model().Mprotect(a, Pg(0), 16, true, true, false);
  EXPECT_EQ(a.map_count(), 1);
  EXPECT_EQ(lab.Obj("cow_context").alloc, 1);
  EXPECT_EQ(lab.Obj("cow_remap").alloc, 0);
  Mm& c = *lab.model().Fork(a, "C");
  lab.Map(c, 16, 4);
  EXPECT_EQ(c.map_count(), 1);  // linux: 2 (a fork child never lends its anon_vma)
  lab.Write(c, 16, 4);
  lab.Check();
}

// MAP_PRIVATE file VMAs index their anon folios by the virtual page at first fault (the
// RFC's virtual pgoff), so two of the same file faulted apart merge only when their
// virtual pgoffs agree. X is faulted at 0x10 and moved next to Y (same file, the next
// file pages), which was faulted in place: pgoffs are contiguous, virtual pgoffs not.
TEST(CowContextMerge, FilePrivateMergeNeedsOneVirtualPgoff) {
  for (const std::string name : {"cow-context", "linux"}) {
    Lab lab(name);
    File* f = lab.model().NewFile("F", 8);
    Mm& a = lab.Proc("A");
    MmapArgs m;
    m.read = m.write = true;
    m.file = f;
    m.addr = Pg(0x10), m.len = 4, m.pgoff = 0;
    ASSERT_EQ(lab.model().Mmap(a, m), 0);
    m.addr = Pg(0x34), m.len = 4, m.pgoff = 4;
    ASSERT_EQ(lab.model().Mmap(a, m), 0);
    lab.Write(a, 0x10, 4);
    lab.Write(a, 0x34, 4);
    ASSERT_EQ(lab.model().Mremap(a, Pg(0x10), 4, 4, Model::kMremapMaymove | Model::kMremapFixed,
                                 Pg(0x30)), 0);
    EXPECT_EQ(a.map_count(), 2) << name;  // linux: two anon_vmas; here: two virtual pgoffs
    lab.Check();
    if (name == "cow-context") {
      EXPECT_EQ(lab.Obj("cow_remap").live, 1);  // X moved; Y is at its own virtual pgoff
      EXPECT_EQ(lab.Counter("merge.refused_vpgoff"), 1);
    }
  }
}

// A moved faulted VMA gets one remap record; splitting it gives each piece its own,
// merging drops them again, and moving it back to its pgoff removes the last one.
TEST(CowContextObjects, RemapRecordsFollowMovedVmas) {
  Lab lab("cow-context");
  Mm& a = lab.Proc("A");
  lab.Map(a, 0, 8);
  lab.Write(a, 0, 8);
  ASSERT_EQ(lab.model().Mremap(a, Pg(0), 8, 8, Model::kMremapMaymove | Model::kMremapFixed,
                               Pg(0x100)), 0);
  EXPECT_EQ(lab.Obj("cow_remap").live, 1);
  EXPECT_EQ(lab.Counter("mremap.pages_touched"), 0);
  EXPECT_EQ(lab.Counter("mremap.ptes_moved_checked"), 8);
  lab.model().Mprotect(a, Pg(0x102), 2, true, false, false);
  EXPECT_EQ(lab.Obj("cow_remap").live, 3);
  lab.Check();
  lab.model().Mprotect(a, Pg(0x102), 2, true, true, false);
  EXPECT_EQ(lab.Obj("cow_remap").live, 1);
  Mm& b = *lab.model().Fork(a, "B");
  EXPECT_EQ(lab.Obj("cow_remap").live, 2);  // the child's copy of the moved VMA
  ASSERT_EQ(lab.model().Mremap(a, Pg(0x100), 8, 8, Model::kMremapMaymove | Model::kMremapFixed,
                               Pg(0)), 0);
  EXPECT_EQ(lab.Obj("cow_remap").live, 1);  // A's is back at offset 0; B's stays
  auto w = lab.WalkAt(b, 0x103);
  EXPECT_EQ(w.found.size(), 2u);
  EXPECT_EQ(w.false_positives, 0);
  lab.Check();
}

// Walk candidates: a folio shared by a parent and three children is looked up in four
// mms; once a child has copied it, that child is a false positive. A folio the parent
// writes after the forks is PageAnonExclusive: one lookup, where Linux visits every
// child VMA linked to the parent's anon_vma.
TEST(CowContextWalk, CandidatesOfSharedAndExclusiveFolios) {
  for (const std::string name : {"cow-context", "linux"}) {
    Lab lab(name);
    Mm& p = lab.Proc("P");
    lab.Map(p, 0, 4);
    lab.Write(p, 0, 2);
    Mm& c1 = *lab.model().Fork(p, "C1");
    lab.model().Fork(p, "C2");
    lab.model().Fork(p, "C3");
    auto w = lab.WalkAt(p, 0);
    EXPECT_EQ(w.candidates, 4) << name;
    EXPECT_EQ(w.false_positives, 0) << name;
    lab.Write(c1, 0);
    w = lab.WalkAt(p, 0);
    EXPECT_EQ(w.found.size(), 3u) << name;
    EXPECT_EQ(w.false_positives, 1) << name;
    lab.Write(p, 3);  // a new folio after the forks
    w = lab.WalkAt(p, 3);
    EXPECT_EQ(w.found.size(), 1u) << name;
    EXPECT_EQ(w.candidates, name == "cow-context" ? 1 : 4) << name;
    lab.Check();
  }
}

// A walk from a dead context passes through it; the context goes as soon as its last
// folio does, and its children hang from its parent.
TEST(CowContextTree, DeadMiddleIsSplicedOutWithItsLastFolio) {
  auto* raw = new CowContextScheme();
  Lab lab{std::unique_ptr<Scheme>(raw)};
  Mm& a = lab.Proc("A");
  lab.Map(a, 0, 4);
  lab.Write(a, 0);
  Mm& b = *lab.model().Fork(a, "B");
  lab.Write(b, 1);  // B's own folio
  Mm& c = *lab.model().Fork(b, "C");
  lab.model().Exit(b);
  EXPECT_EQ(lab.Obj("cow_context").live, 3);  // B stays: its folio is mapped by C
  auto w = lab.WalkAt(c, 1);
  EXPECT_EQ(w.found.size(), 1u);
  lab.Check();
  lab.Write(c, 1);  // C reuses the folio: it moves to C's context, B's last folio
  EXPECT_EQ(lab.Obj("cow_context").live, 2);
  EXPECT_EQ(CowContextScheme::ContextOf(c)->parent, CowContextScheme::ContextOf(a));
  w = lab.WalkAt(a, 0);
  EXPECT_EQ(w.found.size(), 2u);  // A and C, through the re-parented link
  lab.Check();
}

}  // namespace
}  // namespace rmaplab::cow_context
