// The oracle: the true reverse map, built by brute force from every page table, and
// the check of a scheme's rmap walks against it.
//
// A walk misses when a PTE that maps the folio is not among its candidates; candidates
// that do not map the folio are false positives (the walk's wasted work, not an error).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/model.h"
#include "rmap/scheme.h"

namespace rmaplab {

struct WalkResult {
  std::vector<std::pair<const Mm*, Vpn>> found;   // candidates that map the folio
  std::vector<std::pair<const Mm*, Vpn>> missed;  // true mappings the walk did not find
  int64_t candidates = 0;
  int64_t false_positives = 0;
  int64_t bad_candidates = 0;  // candidates naming a VMA that does not exist
  WalkCost cost;
};

struct OracleReport {
  int64_t checks = 0;            // oracle passes (one per statement under `check`)
  int64_t walks = 0;
  int64_t candidates = 0;
  int64_t misses = 0;
  int64_t false_positives = 0;
  int64_t invariant_failures = 0;
  // Walks by number of candidates (candidates -> walks): distributions without a
  // number per walk, so that 50 million walks cost a few map nodes.
  std::map<int64_t, int64_t> visited_histogram;
  // The i-th smallest number of candidates over all walks (0 if i is out of range);
  // Percentile(q) is the one at round(q * (walks - 1)).
  int64_t VisitedAt(int64_t i) const;
  int64_t VisitedPercentile(double q) const;
  int64_t VisitedMax() const { return visited_histogram.empty() ? 0 : visited_histogram.rbegin()->first; }
  int64_t objects_visited = 0;            // the schemes' own cost (WalkCost)
  std::map<std::string, int64_t> locks;   // lock class -> acquisitions
  std::vector<std::string> messages;      // the first few failures, in plain words
  void Note(std::string msg);
};

class Oracle {
 public:
  // Walks one folio with the model's scheme and compares with the page tables.
  static WalkResult Walk(const Model& model, const Folio& folio);
  // Walks every live anon folio and checks every invariant (core and scheme).
  // `where` prefixes messages (e.g. "line 7").
  static void CheckAll(const Model& model, const std::string& where, OracleReport* report);
  // Walks every live anon folio once, as page reclaim would, and checks each walk
  // against the truth (no invariant checks).
  static void WalkAll(const Model& model, const std::string& where, OracleReport* report);
};

// The oracle after every statement at the cost of what the statement changed. The truth
// (pfn -> every PTE mapping it) is kept up to date from the model's log of PTE changes
// instead of a scan of all page tables. After a statement that only touched pages and
// changed no VMA and no scheme object (`full` false), the folios whose PTEs or rmap state
// changed are walked and checked (mapcount, mapping, anon_vma of each mapping VMA); after
// any other statement, or when asked, everything is (Oracle::CheckAll). A folio no PTE
// change touched keeps the truth it had, and the scheme state its walk reads did not
// change (no object allocated or freed, no VMA changed), so its last check still holds.
class IncrementalOracle {
 public:
  explicit IncrementalOracle(Model& model);  // enables the model's change log
  void Check(const std::string& where, bool full, OracleReport* report);
  int64_t full_checks() const { return full_checks_; }
  int64_t incremental_checks() const { return incremental_checks_; }

 private:
  void Absorb(std::vector<Pfn>* dirty);
  Model& m_;
  std::unordered_map<Pfn, std::vector<std::pair<const Mm*, Vpn>>> truth_;
  int64_t full_checks_ = 0, incremental_checks_ = 0;
};

}  // namespace rmaplab
