// Pictures of rmap state (rmaplab graph): processes and their VMAs, the scheme's own
// objects (for linux: anon_vmas with root/parent links, num_children, num_active_vmas,
// and anon_vma_chain links), and optionally the anon folios with what they point to.
// Output is Graphviz DOT; Render() turns it into SVG with `dot` when it is installed.
#pragma once

#include <optional>
#include <string>

namespace rmaplab {

class Model;

struct GraphOptions {
  bool folios = false;      // draw anon folios and their mapping
  std::string title;        // the graph's label
  bool arena_only = true;   // only VMAs in the scenario arena (addresses as arena pages)
};

// The state of `model` (and its scheme) as a DOT digraph. Deterministic: the same state
// gives the same text (golden tests compare it).
std::string GraphDot(const Model& model, const GraphOptions& options);

// DOT -> SVG through `dot -Tsvg`; nullopt (with *error) when dot is missing or fails.
std::optional<std::string> RenderSvg(const std::string& dot, std::string* error);

}  // namespace rmaplab
