#include <cstdio>

#include "commands.h"
#include "rmap/registry.h"

namespace rmaplab::cli {

Runner AddSchemes(CLI::App& app) {
  return [] {
    for (const auto& s : ListSchemes())
      std::printf("%-14s %s\n", s.name.c_str(), s.description.c_str());
    return 0;
  };
}

}  // namespace rmaplab::cli
