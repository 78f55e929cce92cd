// Differential fuzzing (rmaplab fuzz): random scenarios run under a scheme with the oracle
// checking every statement, or natively and in sim with the observations compared; a
// failing scenario is shrunk to a small one that fails the same way and written out as a
// .rmap file with its seed, ready to become a regression test.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fuzz/generator.h"

namespace rmaplab::fuzz {

enum class Against { kOracle, kNative };

// Why a scenario fails. Shrinking keeps `kind` (a different failure is another bug).
struct Failure {
  std::string kind;     // "miss", "invariant", "crash", "difference", "native"
  std::string message;  // the first message, in plain words
};

// Runs one scenario (its lines); nullopt when it passes.
std::optional<Failure> CheckAgainstOracle(const std::vector<std::string>& lines,
                                          const std::string& scheme);
std::optional<Failure> CheckAgainstNative(const std::vector<std::string>& lines,
                                          double timeout_seconds);

// Delta debugging over statements, then over optional words: the smallest scenario (by
// this greedy search) for which `fails` still holds. At most `budget` calls of `fails`.
std::vector<std::string> Shrink(std::vector<std::string> lines,
                                const std::function<bool(const std::vector<std::string>&)>& fails,
                                int budget);

struct Finding {
  std::string scheme;
  uint64_t seed = 0;
  Failure failure;
  std::vector<std::string> original, shrunk;
  std::string path;          // where the shrunk scenario was written ("" if not)
  bool design_flaw = false;  // a miss of a scheme whose README documents flaws; linux passes
};

struct FuzzProgress {
  int64_t iterations = 0, statements = 0, findings = 0;
  double seconds = 0;
};

struct FuzzOptions {
  std::vector<std::string> schemes = {"linux"};
  Against against = Against::kOracle;
  int64_t iterations = 0;  // stop after this many scenarios (0: no limit)
  double seconds = 0;      // ... or after this long (0: no limit); neither: 1000 scenarios
  uint64_t seed = 1;       // scenario i uses seed + i
  std::string out_dir;     // shrunk findings go here ("" : not written)
  int jobs = 1;
  int max_findings = 5;    // stop after this many
  double native_timeout = 30;
  GenOptions gen;
  std::function<void(const FuzzProgress&)> progress;  // about twice a second
};

struct FuzzResult {
  FuzzProgress totals;
  std::vector<Finding> findings;
  std::string error;  // a setup error (unknown scheme, native unavailable)
};

FuzzResult Fuzz(const FuzzOptions& options);

}  // namespace rmaplab::fuzz
