// Tests of IncrementalOracle (rmap/oracle.h): it must find every miss the full oracle
// finds, at the same statement. A scheme with a planted bug shows that a touch-only
// statement (no VMA change, no object allocated) is checked where it matters, and every
// scenario under every scheme gives the same verdict under both oracles.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "core/model.h"
#include "rmap/oracle.h"
#include "rmap/registry.h"
#include "rmap/scheme_test_util.h"
#include "rmap/schemes/linux/linux_scheme.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab {
namespace {

constexpr Vpn kBase = kArenaBaseVpn;

// linux, except that the walk forgets folios it was told to forget: the miss a broken
// scheme would have, planted where only a page fault (a touch-only statement) reveals it.
class ForgetfulLinux : public linux_rmap::LinuxScheme {
 public:
  enum class Bug { kNone, kForgetChildCowCopies, kForgetCowSourceInParent };
  Bug bug = Bug::kNone;

  void folio_add_new_anon_rmap(Folio& folio, Vma& vma, Vpn addr) override {
    LinuxScheme::folio_add_new_anon_rmap(folio, vma, addr);
    if (bug == Bug::kForgetChildCowCopies && vma.vm_mm->name == "child")
      forgotten_.insert(folio.pfn);
  }
  // A PTE of `folio` went away (the child's COW fault replaced it): forget the folio.
  void pte_unmapped(Folio& folio, const Vma& vma, Vpn addr) override {
    LinuxScheme::pte_unmapped(folio, vma, addr);
    if (bug == Bug::kForgetCowSourceInParent && vma.vm_mm->name == "child")
      forgotten_.insert(folio.pfn);
  }
  void rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                 WalkCost* cost) const override {
    LinuxScheme::rmap_walk(folio, out, cost);
    if (forgotten_.count(folio.pfn)) out->clear();
  }

 private:
  std::set<Pfn> forgotten_;
};

struct Step {
  OracleReport full, incremental;
};

// parent maps and writes 4 pages, forks `child`; the child then writes page 2 (a COW
// fault: a new folio for the child, the old one loses a PTE). Each step is checked by
// both oracles; the COW fault is a touch-only statement (full = false).
std::vector<Step> RunCowStory(ForgetfulLinux::Bug bug) {
  ForgetfulLinux scheme;
  Model model(&scheme);
  IncrementalOracle inc(model);
  std::vector<Step> steps;
  auto check = [&](const std::string& where, bool full) {
    Step s;
    Oracle::CheckAll(model, where, &s.full);
    inc.Check(where, full, &s.incremental);
    steps.push_back(s);
  };
  Mm* parent = model.NewMm("parent");
  MmapArgs a;
  a.addr = kBase;
  a.len = 4;
  a.read = a.write = true;
  EXPECT_EQ(model.Mmap(*parent, a), 0);
  check("mmap", true);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(model.Access(*parent, kBase + i, true), Touch::kOk);
    check("parent write", false);
  }
  Mm* child = model.Fork(*parent, "child");
  check("fork", true);
  scheme.bug = bug;  // the bug strikes from here on
  EXPECT_EQ(model.Access(*child, kBase + 2, true), Touch::kOk);
  check("child write", false);
  EXPECT_EQ(model.Access(*parent, kBase + 0, false), Touch::kOk);
  check("parent read", false);
  return steps;
}

TEST(IncrementalOracleTest, CorrectSchemeHasNoFindings) {
  auto steps = RunCowStory(ForgetfulLinux::Bug::kNone);
  ASSERT_EQ(steps.size(), 8u);
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    EXPECT_EQ(s.full.misses, 0);
    EXPECT_EQ(s.incremental.misses, 0);
    EXPECT_EQ(s.incremental.invariant_failures, 0);
    // Each write fault walks what it changed; the fork walks everything; the mmap (no
    // folio yet) and the read of a mapped page (nothing changed) walk nothing.
    if (i == 0 || i == 7) EXPECT_EQ(s.incremental.walks, 0) << i;
    else EXPECT_GT(s.incremental.walks, 0) << i;
  }
  EXPECT_EQ(steps[6].incremental.walks, 2);  // the child's new folio and the old one
  EXPECT_EQ(steps[5].incremental.walks, 4);  // fork: everything
}

// The new folio of the child's COW fault is forgotten: the fault itself (touch-only)
// must be caught by the incremental oracle, at that very statement.
TEST(IncrementalOracleTest, CatchesMissOfNewFolioAtTheFault) {
  auto steps = RunCowStory(ForgetfulLinux::Bug::kForgetChildCowCopies);
  ASSERT_EQ(steps.size(), 8u);
  for (size_t i = 0; i + 2 < steps.size(); ++i) EXPECT_EQ(steps[i].incremental.misses, 0) << i;
  EXPECT_EQ(steps[6].full.misses, 1);
  EXPECT_EQ(steps[6].incremental.misses, 1);
  ASSERT_FALSE(steps[6].incremental.messages.empty());
  EXPECT_NE(steps[6].incremental.messages[0].find("child write"), std::string::npos)
      << steps[6].incremental.messages[0];
}

// The old folio, which the fault only unmapped from the child, is forgotten: the
// oracle must walk folios that lost a PTE, not only the ones that gained one.
TEST(IncrementalOracleTest, CatchesMissOfFolioThatOnlyLostAPte) {
  auto steps = RunCowStory(ForgetfulLinux::Bug::kForgetCowSourceInParent);
  ASSERT_EQ(steps.size(), 8u);
  EXPECT_EQ(steps[5].incremental.misses, 0);
  EXPECT_EQ(steps[6].full.misses, 1);  // the parent's PTE of the old folio
  EXPECT_EQ(steps[6].incremental.misses, 1);
}

// Every scenario under every scheme: the same verdict (misses, invariant failures, the
// first message) from the incremental oracle as from the full one, which checks after the same statements.
TEST(IncrementalOracleTest, SameVerdictAsFullOracleOnEveryScenario) {
  auto files = testing::ScenarioFiles();
  ASSERT_GE(files.size(), 40u) << "scenario folders not found";
  for (const SchemeInfo& info : ListSchemes()) {
    const std::string& scheme = info.name;
    for (const auto& f : files) {
      ScriptError err;
      auto sc = ParseScenarioFile(f, &err);
      ASSERT_TRUE(sc) << err.str();
      SimResult full, inc;
      SimOptions opt;
      opt.scheme = scheme;
      opt.check_each_statement = true;
      std::string error;
      ASSERT_TRUE(RunSim(*sc, opt, &full, &error)) << error;
      opt.incremental_oracle = true;
      ASSERT_TRUE(RunSim(*sc, opt, &inc, &error)) << error;
      EXPECT_EQ(full.oracle.misses > 0, inc.oracle.misses > 0) << scheme << " " << f;
      EXPECT_EQ(full.oracle.invariant_failures, inc.oracle.invariant_failures)
          << scheme << " " << f;
      if (!full.oracle.messages.empty()) {
        ASSERT_FALSE(inc.oracle.messages.empty()) << scheme << " " << f;
        EXPECT_EQ(full.oracle.messages[0], inc.oracle.messages[0]) << scheme << " " << f;
      }
      // ... plus one full pass at the end.
      EXPECT_EQ(full.oracle.checks + 1, inc.oracle.checks) << scheme << " " << f;
      if (full.oracle.walks > 0) EXPECT_GT(inc.oracle.walks, 0) << scheme << " " << f;
    }
  }
}

}  // namespace
}  // namespace rmaplab
