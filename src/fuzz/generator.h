// Random valid scenarios for differential fuzzing (rmaplab fuzz), in the scenario language
// of ../shared/spec/scenario-language.md, weighted towards the corners where the kernel's
// code is subtle: merges next to fork children's VMAs, faulted vs unfaulted neighbours,
// pgoff linearity after mremap, VM_ACCOUNT (noreserve), multi-VMA mremap moves.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rmaplab::fuzz {

struct GenOptions {
  int statements = 40;     // statements after the declarations
  int max_processes = 6;   // alive at once
  int window_pages = 48;   // addresses fall in [kWindowBase, kWindowBase + window_pages)
  bool sim_only = false;   // may use `rmap` walks (natively no-ops, harmless either way)
};

inline constexpr int kWindowBase = 16;  // arena page of the window's start

// The scenario's lines (declarations first). The same seed gives the same lines.
std::vector<std::string> Generate(uint64_t seed, const GenOptions& options);

// Lines joined into a scenario text with a header comment.
std::string ScenarioText(const std::vector<std::string>& lines, const std::string& header);

}  // namespace rmaplab::fuzz
