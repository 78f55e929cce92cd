// The data-centre generator builds the fleet its shape says, every scheme runs it with
// the oracle after every statement, and cost-only observations keep the kernel counts.
#include "bench/workloads.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>

#include "core/model.h"
#include "rmap/registry.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab {
namespace {

std::optional<Scenario> Parse(const bench::Workload& w) {
  ScriptError err;
  auto sc = ParseScenario(w.name + ".rmap", w.text, &err);
  EXPECT_TRUE(sc) << err.str();
  return sc;
}

TEST(DataCentre, BuildsTheShapeItNames) {
  bench::DataCentreShape d{3, 4, 5, 6};
  EXPECT_EQ(d.processes(), 12);
  EXPECT_EQ(d.total_vmas(), 60);
  EXPECT_EQ(d.resident_pages(), 360);
  auto sc = Parse(bench::DataCentre(d));
  ASSERT_TRUE(sc);
  SimResult r;
  std::string error;
  ASSERT_TRUE(RunSim(*sc, SimOptions{}, &r, &error)) << error;
  const ObsPoint& end = r.observation.observations.back();
  ASSERT_EQ(end.processes.size(), 12u);
  int64_t vmas = 0, pages = 0;
  std::set<int64_t> frames;
  for (const auto& p : end.processes) {
    EXPECT_TRUE(p.alive);
    vmas += static_cast<int64_t>(p.vmas.size());  // the gaps keep every VMA apart
    for (const auto& pg : p.pages) {
      ++pages;
      EXPECT_EQ(pg.type, "anon");
      EXPECT_EQ(pg.mapcount, 1);  // every child COW-copied every page
      frames.insert(pg.frame);
    }
  }
  EXPECT_EQ(vmas, d.total_vmas());
  EXPECT_EQ(pages, d.resident_pages());
  EXPECT_EQ(static_cast<int64_t>(frames.size()), d.resident_pages());
  EXPECT_TRUE(r.observation.errors.empty());
  EXPECT_EQ(r.core.folio_alloc - r.core.folio_free, d.resident_pages());
  // linux: one anon_vma per VMA, and a child VMA has two AVCs (its own and its parent's).
  EXPECT_EQ(r.objects.at("anon_vma").live, d.total_vmas());
  EXPECT_EQ(r.objects.at("anon_vma_chain").live,
            d.families * d.vmas * (1 + 2 * (d.procs - 1)));
}

TEST(DataCentre, EverySchemeRunsItUnderTheOracle) {
  auto sc = Parse(bench::DataCentre({2, 3, 4, 5}));
  ASSERT_TRUE(sc);
  for (const auto& info : ListSchemes()) {
    const std::string& scheme = info.name;
    SimOptions opt;
    opt.scheme = scheme;
    opt.check_each_statement = true;
    opt.reclaim_at_end = true;
    SimResult r;
    std::string error;
    ASSERT_TRUE(RunSim(*sc, opt, &r, &error)) << error;
    EXPECT_EQ(r.oracle.misses, 0) << scheme;
    EXPECT_EQ(r.oracle.invariant_failures, 0) << scheme;
    EXPECT_EQ(r.reclaim.misses, 0) << scheme;
    EXPECT_EQ(r.reclaim.walks, 2 * 3 * 4 * 5) << scheme;
  }
}

TEST(DataCentre, CostOnlyObservationsKeepCountsAndDropTheSnapshot) {
  const char* text =
      "process A\nA mmap 0 8 rw-\nA write 0 8\nA fork B\nobserve mid\nB write 0 4\n";
  ScriptError err;
  auto sc = ParseScenario("t.rmap", text, &err);
  ASSERT_TRUE(sc) << err.str();
  SimResult full, cost;
  std::string error;
  SimOptions opt;
  ASSERT_TRUE(RunSim(*sc, opt, &full, &error));
  opt.observation_state = false;
  int calls = 0;
  opt.on_observe = [&](const Model& m, const ObsPoint&) {
    ++calls;
    EXPECT_EQ(m.mms().size(), 2u);  // the model is still there to look at
  };
  ASSERT_TRUE(RunSim(*sc, opt, &cost, &error));
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(cost.observation.observations.size(), full.observation.observations.size());
  for (size_t i = 0; i < full.observation.observations.size(); ++i) {
    const ObsPoint& f = full.observation.observations[i];
    const ObsPoint& c = cost.observation.observations[i];
    EXPECT_FALSE(f.processes.empty());
    EXPECT_TRUE(c.processes.empty());
    EXPECT_EQ(c.label, f.label);
    EXPECT_EQ(c.line, f.line);
    ASSERT_TRUE(c.kernel && f.kernel);
    EXPECT_EQ(c.kernel->size(), f.kernel->size());
    for (const auto& [name, count] : *f.kernel) {
      EXPECT_EQ(c.kernel->at(name).alloc, count.alloc) << name;
      EXPECT_EQ(c.kernel->at(name).free, count.free) << name;
    }
  }
  EXPECT_EQ(cost.peak_bytes, full.peak_bytes);
  EXPECT_GT(cost.core_bytes.folios, 0u);
  EXPECT_GT(cost.core_bytes.page_tables, 0u);
  EXPECT_GT(cost.core_bytes.vmas, 0u);
}

}  // namespace
}  // namespace rmaplab
