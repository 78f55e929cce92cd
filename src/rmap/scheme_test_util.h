// Test-only helpers shared by the scheme tests (included only from *_test.cc, which are
// built with RMAPLAB_SHARED_DIR and RMAPLAB_SOURCE_DIR defined).
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace rmaplab::testing {

// Every scenario a scheme must pass: the shared conformance scenarios, ours and the
// regression scenarios, sorted.
inline std::vector<std::string> ScenarioFiles() {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const fs::path& dir : {fs::path(RMAPLAB_SHARED_DIR) / "scenarios",
                              fs::path(RMAPLAB_SOURCE_DIR) / "tests" / "scenarios",
                              fs::path(RMAPLAB_SOURCE_DIR) / "tests" / "regress"}) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file() && e.path().extension() == ".rmap") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace rmaplab::testing
