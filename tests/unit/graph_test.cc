// Golden tests of `rmaplab graph`'s DOT output (src/report/graph.cc) for the classic
// cases in docs/pictures: the text is deterministic, so it is compared whole with
// tests/golden/*.dot (RMAPLAB_UPDATE_GOLDEN=1 rewrites them), and the structure is
// checked on its own: how many anon_vmas, parent links and anon_vma_chain edges.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "report/graph.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab {
namespace {

const std::string kSrc = RMAPLAB_SOURCE_DIR;

std::string DotAt(const std::string& scenario, const std::string& scheme, const std::string& at,
                  bool folios) {
  ScriptError err;
  auto sc = ParseScenarioFile(kSrc + "/docs/pictures/" + scenario, &err);
  EXPECT_TRUE(sc) << err.str();
  if (!sc) return "";
  std::string dot;
  SimOptions opt;
  opt.scheme = scheme;
  opt.on_observe = [&](const Model& m, const ObsPoint& p) {
    if ((p.label ? *p.label : "") == at && dot.empty()) {
      GraphOptions g;
      g.folios = folios;
      g.title = scenario + " " + at;
      dot = GraphDot(m, g);
    }
  };
  SimResult r;
  std::string error;
  EXPECT_TRUE(RunSim(*sc, opt, &r, &error)) << error;
  return dot;
}

int Count(const std::string& text, const std::string& re) {
  std::regex r(re);
  return static_cast<int>(std::distance(std::sregex_iterator(text.begin(), text.end(), r),
                                        std::sregex_iterator()));
}

void ExpectGolden(const std::string& dot, const std::string& name) {
  std::string path = kSrc + "/tests/golden/" + name;
  if (getenv("RMAPLAB_UPDATE_GOLDEN")) std::ofstream(path) << dot;
  std::ifstream in(path);
  ASSERT_TRUE(in) << path << " missing (RMAPLAB_UPDATE_GOLDEN=1 writes it)";
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(dot, want.str()) << "the picture of " << name << " changed";
}

TEST(GraphDot, ForkChain) {
  std::string dot = DotAt("fork-chain.rmap", "linux", "chain", false);
  EXPECT_EQ(Count(dot, "anon_vma av\\d"), 4);          // one per generation
  EXPECT_EQ(Count(dot, "\\(root\\)"), 1);
  EXPECT_EQ(Count(dot, "label=\"parent\""), 3);        // a chain, not a star
  EXPECT_EQ(Count(dot, "label=\"avc \\(own\\)\""), 4);  // each VMA's own anon_vma
  EXPECT_EQ(Count(dot, "label=\"avc"), 1 + 2 + 3 + 4);  // generation n links n anon_vmas
  EXPECT_EQ(Count(dot, "subgraph cluster_"), 4);
  ExpectGolden(dot, "fork-chain.linux.dot");
}

TEST(GraphDot, MultiProcessServer) {
  std::string dot = DotAt("server.rmap", "linux", "workers", true);
  EXPECT_EQ(Count(dot, "anon_vma av\\d"), 4);   // the server's and one per worker
  EXPECT_EQ(Count(dot, "label=\"parent\""), 3);  // a star around the server's
  EXPECT_EQ(Count(dot, "label=\"avc"), 1 + 3 * 2);
  EXPECT_EQ(Count(dot, "folio_\\d+ \\[shape=note"), 8 + 3 * 2);  // 8 shared + 2 COW each
  ExpectGolden(dot, "server.linux.dot");
}

TEST(GraphDot, LazyUpgrade) {
  std::string before = DotAt("lazy-upgrade.rmap", "lazy", "before-fork", false);
  std::string after = DotAt("lazy-upgrade.rmap", "lazy", "after-fork", false);
  EXPECT_EQ(Count(before, "anon_vma av\\d"), 0);  // lazy: no anon_vma before a fork
  EXPECT_EQ(Count(before, "lazy root \\d+\\\\nTREE_VMA"), 2);
  EXPECT_EQ(Count(after, "anon_vma av\\d"), 2);   // the parent's VMAs were upgraded
  EXPECT_EQ(Count(after, "TREE_PARENT"), 2 + 2);  // the child's two VMAs (roots and labels)
  ExpectGolden(before, "lazy-upgrade.before-fork.dot");
  ExpectGolden(after, "lazy-upgrade.after-fork.dot");
}

// Every scheme draws its own objects for the server: the historical designs too.
TEST(GraphDot, EverySchemeDrawsItsObjects) {
  struct Want { const char* scheme; const char* object; int count; };
  for (const Want& w : {Want{"linux", "anon_vma av\\d", 4}, Want{"avc-2010", "anon_vma av\\d", 4},
                        Want{"anon-vma-2004", "anon_vma av\\d", 1},
                        Want{"anonmm", "anonmm \\d+( \\(head\\))?\\\\n", 4},
                        Want{"lazy", "anon_vma av\\d", 1},  // only the server's is upgraded
                        Want{"lazy", "lazy root \\d+\\\\nTREE_PARENT", 3}}) {
    std::string dot = DotAt("server.rmap", w.scheme, "workers", false);
    EXPECT_EQ(Count(dot, w.object), w.count) << w.scheme << "\n" << dot;
  }
}

}  // namespace
}  // namespace rmaplab
