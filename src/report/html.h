// rmaplab report: one self-contained HTML page (inline SVG charts, no network) from the
// JSON results of `compare --format json`, `replay --json` and `conform --json`, with
// pictures of chosen points (rendered by graph.cc). A kernel developer can attach it to
// a mailing-list reply.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace rmaplab {

struct ReportInput {
  std::string name;     // the file it came from
  nlohmann::json data;  // compare (array of rows), replay (object) or conform (object)
};

struct ReportPicture {
  std::string title;
  std::string svg;  // rendered by Graphviz; empty: `dot_text` is shown instead
  std::string dot_text;
};

// The kind of an input: "compare", "replay", "conform", or "" (not recognised).
std::string ReportInputKind(const nlohmann::json& data);

std::string RenderReport(const std::vector<ReportInput>& inputs,
                         const std::vector<ReportPicture>& pictures, const std::string& title);

}  // namespace rmaplab
