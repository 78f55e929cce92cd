// The sim executor: runs a parsed scenario in the model under one scheme and produces
// the observation of the spec; optionally checks the oracle after every statement.
#pragma once

#include <functional>
#include <string>

#include "core/model.h"
#include "rmap/oracle.h"
#include "rmaplab/observation.h"
#include "rmaplab/scenario.h"

namespace rmaplab {

class Model;

struct SimOptions {
  std::string scheme = "linux";
  bool check_each_statement = false;  // run the oracle after every statement
  // ... as rmap/oracle.h's IncrementalOracle: touch-only statements check what they
  // changed; every other statement, every observe and the end check everything.
  bool incremental_oracle = false;
  // Read faults on private anon memory map the zero page (false: allocate a folio, as
  // a kernel booted without a zero page does; native::KernelHasZeroPage() tells).
  bool zero_page = true;
  // Walk every anon folio once, as page reclaim would, at these points; the walk costs
  // go to SimResult::reclaim.
  bool reclaim_at_observe = false;
  bool reclaim_at_end = false;
  // false: observation points record only their label, line and the kernel object
  // counts, no processes, VMAs or pages (cost-only runs: compare, bench at scale, where
  // the end snapshot of 50M pages would cost more than the run).
  bool observation_state = true;
  // Called at every observation point (each `observe`, then "end") with the model's
  // state there: pictures (rmaplab graph) and reports look at it.
  std::function<void(const Model& model, const ObsPoint& point)> on_observe;
};

struct SimResult {
  Observation observation;
  OracleReport oracle;
  int64_t statements = 0;
  OracleReport reclaim;                         // the reclaim-style walks
  std::map<std::string, ObjectStats> objects;  // the scheme's objects at the end
  std::map<std::string, int64_t> counters;     // the scheme's counters at the end
  int64_t live_bytes = 0;  // the scheme's metadata bytes at the end
  int64_t peak_bytes = 0;  // the most metadata bytes live after any statement
  CoreStats core;
  CoreBytes core_bytes;  // the model core's memory at the end (Model::MemoryBytes)
};

// Runs the scenario. Returns false (with *error) only for an unknown scheme.
bool RunSim(const Scenario& scenario, const SimOptions& options, SimResult* result,
            std::string* error);

// Arena page N <-> virtual page number.
inline constexpr Vpn kArenaBaseVpn = kArenaBase / kPageSize;

}  // namespace rmaplab
