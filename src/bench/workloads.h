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

}  // namespace rmaplab::bench
