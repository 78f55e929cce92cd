// Named benchmark workloads (rmaplab bench): generated scenarios that stress one cost each
// (faults, forks, VMA churn, mremap, walks), parameterised by size, run under every scheme.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rmaplab::bench {

struct Workload {
  std::string name;
  std::string description;
  std::string text;  // the scenario
};

// The workloads at a size factor (1 = the default; tests use smaller).
std::vector<Workload> Workloads(int scale);

// A data-centre fleet (issue 8's scale target at the defaults: 10,000 processes,
// 1,000,000 VMAs, 50,000,000 resident pages): `families` fork families, each a parent
// that maps `vmas` private anonymous VMAs of `vma_pages` pages separated by one-page
// gaps (so none merges or shares an anon_vma with a neighbour), writes every page and
// forks `procs - 1` children that each write every page again (a COW copy each), all
// alive at the end.
struct DataCentreShape {
  int families = 100, procs = 100, vmas = 100, vma_pages = 50;
  int64_t processes() const { return int64_t{families} * procs; }
  int64_t total_vmas() const { return processes() * vmas; }
  int64_t resident_pages() const { return total_vmas() * vma_pages; }  // = anon folios
};
Workload DataCentre(const DataCentreShape& shape);

}  // namespace rmaplab::bench
