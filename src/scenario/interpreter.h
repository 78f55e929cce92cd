// The sim executor: runs a parsed scenario in the model under one scheme and produces
// the observation of the spec; optionally checks the oracle after every statement.
#pragma once

#include <string>

#include "rmap/oracle.h"
#include "rmaplab/observation.h"
#include "rmaplab/scenario.h"

namespace rmaplab {

struct SimOptions {
  std::string scheme = "linux";
  bool check_each_statement = false;  // run the oracle after every statement
};

struct SimResult {
  Observation observation;
  OracleReport oracle;
  int64_t statements = 0;
  std::map<std::string, ObjectStats> objects;  // the scheme's objects at the end
  CoreStats core;
};

// Runs the scenario. Returns false (with *error) only for an unknown scheme.
bool RunSim(const Scenario& scenario, const SimOptions& options, SimResult* result,
            std::string* error);

// Arena page N <-> virtual page number.
inline constexpr Vpn kArenaBaseVpn = kArenaBase / kPageSize;

}  // namespace rmaplab
