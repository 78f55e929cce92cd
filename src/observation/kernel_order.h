// The order in which kernel object counts are written and compared: `anon_vma` and
// `anon_vma_chain` first (the names of the spec's example and of the `linux` scheme),
// then every other name in sorted order. Internal to src/observation/.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rmaplab/observation.h"

namespace rmaplab::observation_internal {

inline std::vector<std::string> KernelNamesInOrder(const std::map<std::string, ObsCount>& kernel) {
  static const char* const kFirst[] = {"anon_vma", "anon_vma_chain"};
  std::vector<std::string> names;
  for (const char* first : kFirst) {
    if (kernel.count(first)) names.push_back(first);
  }
  for (const auto& [name, count] : kernel) {
    if (name != kFirst[0] && name != kFirst[1]) names.push_back(name);
  }
  return names;
}

}  // namespace rmaplab::observation_internal
