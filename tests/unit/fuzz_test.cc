// Tests of the fuzzer (src/fuzz): its scenarios are valid and reproducible from the seed,
// the shrinker finds small failing scenarios, and `Fuzz` finds a planted bug — a `linux`
// variant whose walks drop a mapping when there are three or more — and shrinks it to a
// handful of statements that fail under the variant and pass under `linux`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz/fuzzer.h"
#include "fuzz/generator.h"
#include "rmap/registry.h"
#include "rmap/schemes/linux/linux_scheme.h"
#include "rmaplab/scenario.h"

namespace rmaplab::fuzz {
namespace {

TEST(FuzzGenerator, ScenariosAreValidAndReproducible) {
  GenOptions opt;
  for (uint64_t seed = 1; seed <= 500; ++seed) {
    auto lines = Generate(seed, opt);
    ASSERT_EQ(lines, Generate(seed, opt)) << seed;
    ScriptError err;
    ASSERT_TRUE(ParseScenario("gen.rmap", ScenarioText(lines, "x"), &err)) << seed << ": " << err.str();
  }
  EXPECT_NE(Generate(1, opt), Generate(2, opt));
}

TEST(FuzzGenerator, ScenariosReachTheCorners) {
  // Over many seeds the statements the corners need all occur.
  std::string all;
  for (uint64_t seed = 1; seed <= 200; ++seed)
    for (const auto& l : Generate(seed, GenOptions{})) all += l + "\n";
  for (const char* want : {" fork ", " exit", " dontunmap", " to ", " file F0@", " shared",
                           " noreserve", " populate", " fixed", " wipeonfork", " free",
                           " mprotect ", " munmap ", " rmap ", "observe "})
    EXPECT_NE(all.find(want), std::string::npos) << want;
}

TEST(FuzzShrink, KeepsWhatTheFailureNeeds) {
  std::vector<std::string> lines;
  for (int i = 0; i < 40; ++i) lines.push_back("line " + std::to_string(i));
  lines[7] = "needle A";
  lines[29] = "needle B populate noreserve";
  auto fails = [](const std::vector<std::string>& c) {
    int n = 0;
    for (const auto& l : c) n += l.rfind("needle", 0) == 0;
    return n == 2;
  };
  auto small = Shrink(lines, fails, 1000);
  EXPECT_EQ(small, (std::vector<std::string>{"needle A", "needle B"}));
}

// The planted bug: walks lose their last candidate once there are three.
class PlantedBugScheme : public linux_rmap::LinuxScheme {
 public:
  void rmap_walk(const Folio& folio, std::vector<WalkCandidate>* out,
                 WalkCost* cost) const override {
    linux_rmap::LinuxScheme::rmap_walk(folio, out, cost);
    if (out->size() >= 3) out->pop_back();
  }
};

TEST(Fuzz, FindsAPlantedBugAndShrinksIt) {
  const std::string kName = "linux-planted-bug";
  RegisterScheme(kName, [] { return std::unique_ptr<Scheme>(new PlantedBugScheme()); });
  std::string dir = "/tmp/rmaplab-fuzz-test-" + std::to_string(getpid());
  FuzzOptions opt;
  opt.schemes = {kName};
  opt.iterations = 2000;
  opt.seed = 42;
  opt.out_dir = dir;
  opt.max_findings = 1;
  FuzzResult r = Fuzz(opt);
  UnregisterScheme(kName);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_FALSE(r.findings.empty()) << "the planted bug was not found in 2000 scenarios";
  const Finding& f = r.findings.front();
  EXPECT_EQ(f.failure.kind, "miss");
  EXPECT_FALSE(f.design_flaw);
  int statements = 0;
  for (const auto& l : f.shrunk) statements += l.rfind("file ", 0) != 0;
  EXPECT_LT(statements, 15) << ScenarioText(f.shrunk, "");
  EXPECT_LT(f.shrunk.size(), f.original.size());
  // The written file is the shrunk scenario, with its seed; it parses, fails under the
  // planted bug and passes under linux.
  ASSERT_FALSE(f.path.empty());
  std::ifstream in(f.path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("seed " + std::to_string(f.seed)), std::string::npos);
  ScriptError err;
  EXPECT_TRUE(ParseScenario(f.path, text.str(), &err)) << err.str();
  RegisterScheme(kName, [] { return std::unique_ptr<Scheme>(new PlantedBugScheme()); });
  EXPECT_TRUE(CheckAgainstOracle(f.shrunk, kName));
  UnregisterScheme(kName);
  EXPECT_FALSE(CheckAgainstOracle(f.shrunk, "linux"));
  if (!getenv("RMAPLAB_KEEP_FUZZ")) std::filesystem::remove_all(dir);
}

TEST(Fuzz, CleanSchemesRunClean) {
  FuzzOptions opt;
  opt.schemes = {"linux"};
  opt.iterations = 300;
  opt.seed = 7;
  FuzzResult r = Fuzz(opt);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().failure.message;
  EXPECT_EQ(r.totals.iterations, 300);
}

}  // namespace
}  // namespace rmaplab::fuzz
