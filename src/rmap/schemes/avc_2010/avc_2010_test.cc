// Tests of the `avc-2010` scheme (Linux 2.6.34 anon_vma_chain): every scenario under the
// oracle, the design's own numbers (objects per fork, split and mremap, walk candidates
// and false positives of the same_anon_vma list), the 2010 merge rule, and the endless
// chain growth of a re-forking daemon that the 2015 reuse heuristic bounded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rmap/scheme_test_util.h"
#include "core/model.h"
#include "rmap/oracle.h"
#include "rmap/registry.h"
#include "rmap/schemes/avc_2010/avc_2010_scheme.h"
#include "rmap/schemes/linux/linux_scheme.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::avc_2010 {
namespace {

namespace fs = std::filesystem;

constexpr Vpn kBase = kArenaBaseVpn;
Vpn Pg(uint64_t n) { return kBase + n; }

using rmaplab::testing::ScenarioFiles;

// Every walk after every statement of every scenario finds every mapping, and every
// invariant holds. The design has no known flaw that the model can reach (README).
TEST(Avc2010ScenarioTest, EveryScenarioWalksCompletely) {
  auto files = ScenarioFiles();
  ASSERT_GE(files.size(), 40u) << "scenario folders not found";
  EXPECT_TRUE(CreateScheme("avc-2010")->KnownFlaws().empty());
  for (const auto& f : files) {
    ScriptError err;
    auto sc = ParseScenarioFile(f, &err);
    ASSERT_TRUE(sc) << err.str();
    SimOptions opt;
    opt.scheme = "avc-2010";
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

// A model under one scheme; every step is followed by an oracle pass.
class Lab {
 public:
  explicit Lab(const std::string& scheme) : scheme_(CreateScheme(scheme)), model_(scheme_.get()) {
    linux_ = scheme == "linux";
  }
  void Check() {
    OracleReport r;
    Oracle::CheckAll(model_, "step", &r);
    std::string msgs;
    for (const auto& m : r.messages) msgs += "\n  " + m;
    EXPECT_EQ(r.misses, 0) << msgs;
    EXPECT_EQ(r.invariant_failures, 0) << msgs;
  }
  Mm* Proc(const std::string& name) { return model_.NewMm(name); }
  int Map(Mm& mm, uint64_t page, uint64_t len, bool exec = false) {
    MmapArgs a;
    a.addr = Pg(page);
    a.len = len;
    a.read = a.write = true;
    a.exec = exec;
    int r = model_.Mmap(mm, a);
    Check();
    return r;
  }
  void Write(Mm& mm, uint64_t page, uint64_t len = 1) {
    for (uint64_t i = 0; i < len; ++i) ASSERT_EQ(model_.Access(mm, Pg(page + i), true), Touch::kOk);
    Check();
  }
  int Mprotect(Mm& mm, uint64_t page, uint64_t len, bool w) {
    int r = model_.Mprotect(mm, Pg(page), len, true, w, false);
    Check();
    return r;
  }
  int Move(Mm& mm, uint64_t page, uint64_t len, uint64_t to) {
    int r =
        model_.Mremap(mm, Pg(page), len, len, Model::kMremapMaymove | Model::kMremapFixed, Pg(to));
    Check();
    return r;
  }
  Mm* Fork(Mm& mm, const std::string& name) {
    Mm* c = model_.Fork(mm, name);
    Check();
    return c;
  }
  void Exit(Mm& mm) {
    model_.Exit(mm);
    Check();
  }

  size_t ChainLen(const Mm& mm, uint64_t page) const {
    const Vma* v = mm.vmas.Find(Pg(page));
    if (!v) return 0;
    if (linux_) {
      const auto* c = linux_rmap::LinuxScheme::Chain(*v);
      return c ? c->size() : 0;
    }
    const auto* c = Avc2010Scheme::Chain(*v);
    return c ? c->size() : 0;
  }
  ObjectStats AnonVmas() const {
    return scheme_->Objects()[linux_ ? "anon_vma" : Avc2010Scheme::kAnonVmaName];
  }
  ObjectStats Avcs() const {
    return scheme_->Objects()[linux_ ? "anon_vma_chain" : Avc2010Scheme::kAvcName];
  }
  int64_t Counter(const std::string& name) const { return scheme_->Counters()[name]; }
  // The walk of the folio mapped at (mm, page).
  WalkResult Walk(const Mm& mm, uint64_t page) const {
    return Oracle::Walk(model_, model_.folios().Get(mm.pt.Get(Pg(page))));
  }
  const AnonVmaBase* AnonAt(const Mm& mm, uint64_t page) const {
    return mm.vmas.Find(Pg(page))->anon_vma;
  }

  std::unique_ptr<Scheme> scheme_;  // declared first: outlives the model
  Model model_;
  bool linux_ = false;
};

TEST(Avc2010Test, ObjectSizesOf2010) {
  auto objs = CreateScheme("avc-2010")->Objects();
  // spinlock_t + atomic_t ksm_refcount + list_head; vma + anon_vma + 2 list_heads.
  EXPECT_EQ(objs[Avc2010Scheme::kAnonVmaName].object_bytes, 24);
  EXPECT_EQ(objs[Avc2010Scheme::kAvcName].object_bytes, 48);
  EXPECT_EQ(objs.size(), 2u);
}

// A fork chain A -> B -> C: chain lengths 1, 2, 3; one anon_vma per process.
TEST(Avc2010Test, ForkChainObjects) {
  Lab lab("avc-2010");
  Mm* a = lab.Proc("A");
  lab.Map(*a, 0, 4);
  lab.Write(*a, 0, 4);
  Mm* b = lab.Fork(*a, "B");
  Mm* c = lab.Fork(*b, "C");
  EXPECT_EQ(lab.ChainLen(*a, 0), 1u);
  EXPECT_EQ(lab.ChainLen(*b, 0), 2u);
  EXPECT_EQ(lab.ChainLen(*c, 0), 3u);
  EXPECT_EQ(lab.AnonVmas().live, 3);
  EXPECT_EQ(lab.Avcs().live, 6);
  EXPECT_EQ(lab.Counter("fork.avc_linked"), 2 + 3);
  EXPECT_EQ(lab.Counter("fork.pages_touched"), 0);
  // A page still shared by all three: A's anon_vma lists A, B and C.
  WalkResult w = lab.Walk(*a, 1);
  EXPECT_EQ(w.found.size(), 3u);
  EXPECT_EQ(w.false_positives, 0);
  EXPECT_EQ(w.cost.objects_visited, 3);
  EXPECT_EQ(w.cost.locks["anon_vma->lock(spin)"], 1);
  // B's COW copy goes to B's own anon_vma, whose list also holds C (a false positive).
  lab.Write(*b, 0);
  w = lab.Walk(*b, 0);
  EXPECT_EQ(w.found.size(), 1u);
  EXPECT_EQ(w.candidates, 2);
  EXPECT_EQ(w.false_positives, 1);
  // Exits free each anon_vma the moment its list empties (no refcount in 2.6.34).
  lab.Exit(*c);
  EXPECT_EQ(lab.AnonVmas().live, 2);
  lab.Exit(*a);
  EXPECT_EQ(lab.AnonVmas().live, 2);  // B still links A's anon_vma
  lab.Exit(*b);
  EXPECT_EQ(lab.AnonVmas().live, 0);
  EXPECT_EQ(lab.Avcs().live, 0);
}

// A split clones the whole chain; the list is not keyed by pgoff, so a walk visits every
// piece and each piece that does not cover the page is a false positive (vma_address()
// -EFAULT), the cost Lespinasse's 2012 interval tree removed.
TEST(Avc2010Test, SplitPiecesAreWalkedByTheList) {
  for (const std::string scheme : {"avc-2010", "linux"}) {
    SCOPED_TRACE(scheme);
    Lab lab(scheme);
    Mm* a = lab.Proc("A");
    lab.Map(*a, 0, 8);
    lab.Write(*a, 0, 8);
    Mm* b = lab.Fork(*a, "B");
    int64_t avcs = lab.Avcs().live, avs = lab.AnonVmas().live;
    ASSERT_EQ(lab.Mprotect(*b, 2, 2, false), 0);  // B: [0,2) rw [2,4) r [4,8) rw
    EXPECT_EQ(b->vmas.size(), 3u);
    EXPECT_EQ(lab.Avcs().live - avcs, 4);  // two new pieces, two AVCs each
    EXPECT_EQ(lab.AnonVmas().live, avs);
    WalkResult w = lab.Walk(*a, 0);
    EXPECT_EQ(w.found.size(), 2u);
    EXPECT_EQ(w.candidates, scheme == "linux" ? 2 : 4);
    EXPECT_EQ(w.false_positives, scheme == "linux" ? 0 : 2);
  }
}

// mremap: the copy clones the chain, the source's AVCs go; the folios are untouched.
TEST(Avc2010Test, MremapClonesTheChain) {
  Lab lab("avc-2010");
  Mm* a = lab.Proc("A");
  lab.Map(*a, 0, 4);
  lab.Write(*a, 0, 4);
  Mm* b = lab.Fork(*a, "B");
  ObjectStats before = lab.Avcs();
  int64_t clones = lab.Counter("clone.avc_linked");
  ASSERT_EQ(lab.Move(*b, 0, 4, 100), 0);
  EXPECT_EQ(lab.Avcs().alloc - before.alloc, 2);
  EXPECT_EQ(lab.Avcs().free - before.free, 2);
  EXPECT_EQ(lab.Counter("clone.avc_linked") - clones, 2);
  EXPECT_EQ(lab.Counter("mremap.pages_touched"), 0);
  EXPECT_EQ(lab.ChainLen(*b, 100), 2u);
  EXPECT_EQ(lab.Walk(*a, 0).found.size(), 2u);
}

// find_mergeable_anon_vma() reuses a neighbour's anon_vma only when its chain is a single
// AVC (Linus, April 2010): yes in the original process, no in a fork child.
TEST(Avc2010Test, PrepareReusesOnlySingularNeighbours) {
  Lab lab("avc-2010");
  Mm* a = lab.Proc("A");
  lab.Map(*a, 0, 4);
  lab.Map(*a, 4, 4, /*exec=*/true);  // not mergeable (flags), but anon_vma-compatible
  lab.Write(*a, 0);
  lab.Write(*a, 4);
  EXPECT_EQ(a->vmas.size(), 2u);
  EXPECT_EQ(lab.AnonVmas().alloc, 1);
  EXPECT_EQ(lab.AnonAt(*a, 0), lab.AnonAt(*a, 4));
  Mm* b = lab.Fork(*a, "B");
  lab.Map(*b, 8, 4);  // rw next to B's rwx fork-child piece: no merge
  ObjectStats before = lab.AnonVmas();
  lab.Write(*b, 8);
  EXPECT_EQ(lab.AnonVmas().alloc - before.alloc, 1);
  EXPECT_EQ(lab.ChainLen(*b, 8), 1u);
}

// The 2004-2011 rule merges with a fork child's faulted VMA; 6.18 (and 2011's list_is_
// singular() test) refuses. Here the observation differs from the kernel on purpose.
TEST(Avc2010Test, ForkChildMergesUnderThe2010Rule) {
  for (const std::string scheme : {"avc-2010", "linux"}) {
    SCOPED_TRACE(scheme);
    Lab lab(scheme);
    Mm* a = lab.Proc("A");
    lab.Map(*a, 0, 4);
    lab.Write(*a, 0, 4);
    Mm* b = lab.Fork(*a, "B");
    lab.Map(*b, 4, 4);
    EXPECT_EQ(b->vmas.size(), scheme == "linux" ? 2u : 1u);
    lab.Write(*b, 5);
    EXPECT_EQ(lab.Walk(*b, 5).found.size(), 1u);
    // A faulted fork-child range mprotected away and back merges in both.
    ASSERT_EQ(lab.Mprotect(*b, 0, 2, false), 0);
    ASSERT_EQ(lab.Mprotect(*b, 0, 2, true), 0);
    EXPECT_EQ(b->vmas.size(), scheme == "linux" ? 2u : 1u);
  }
}

// The daemon chain (each process forks, then exits): 2.6.34 keeps every ancestor's
// anon_vma alive and adds one AVC per generation to every new VMA, without bound
// (Daniel Forrest's 2012 report); 6.18 reuses an idle anon_vma and stays at 3.
TEST(Avc2010Test, DaemonForkChainGrowsWithoutBound) {
  constexpr int kGenerations = 20;
  Lab old_lab("avc-2010"), new_lab("linux");
  Mm* cur[2] = {old_lab.Proc("P0"), new_lab.Proc("P0")};
  Lab* labs[2] = {&old_lab, &new_lab};
  for (int i = 0; i < 2; ++i) {
    labs[i]->Map(*cur[i], 0, 4);
    labs[i]->Write(*cur[i], 0, 4);
  }
  std::printf(
      "generation  avc-2010 chain/anon_vmas/AVCs/bytes  linux chain/anon_vmas/AVCs/bytes\n");
  for (int g = 1; g <= kGenerations; ++g) {
    size_t chain[2];
    int64_t avs[2], avcs[2], bytes[2];
    for (int i = 0; i < 2; ++i) {
      Mm* child = labs[i]->Fork(*cur[i], "P" + std::to_string(g));
      labs[i]->Exit(*cur[i]);
      cur[i] = child;
      chain[i] = labs[i]->ChainLen(*cur[i], 0);
      avs[i] = labs[i]->AnonVmas().live;
      avcs[i] = labs[i]->Avcs().live;
      bytes[i] = avs[i] * labs[i]->AnonVmas().object_bytes + avcs[i] * labs[i]->Avcs().object_bytes;
    }
    EXPECT_EQ(chain[0], static_cast<size_t>(g + 1));
    EXPECT_EQ(avs[0], g + 1);
    EXPECT_EQ(avcs[0], g + 1);
    EXPECT_LE(chain[1], 3u);
    EXPECT_LE(avcs[1], 3);
    if (g <= 3 || g % 5 == 0)
      std::printf("%10d  %8zu %10lld %5lld %6lld  %11zu %10lld %5lld %6lld\n", g, chain[0],
                  (long long)avs[0], (long long)avcs[0], (long long)bytes[0], chain[1],
                  (long long)avs[1], (long long)avcs[1], (long long)bytes[1]);
  }
  // Each fork linked (generation + 1) AVCs: sum over 1..N of (g + 1).
  EXPECT_EQ(old_lab.Counter("fork.avc_linked"), kGenerations * (kGenerations + 3) / 2);
  EXPECT_EQ(old_lab.Counter("chain_length.max"), kGenerations + 1);
  // The data the first process wrote is still found, through the oldest anon_vma.
  EXPECT_EQ(old_lab.Walk(*cur[0], 0).found.size(), 1u);
}

}  // namespace
}  // namespace rmaplab::avc_2010
