#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "report/graph.h"
#include "report/html.h"
#include "rmaplab/observation.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::cli {
namespace {

// "FILE.rmap[@LABEL][:SCHEME]" -> the picture of that point.
bool Picture(const std::string& spec, ReportPicture* out, std::string* error) {
  std::string file = spec, label = "end", scheme = "linux";
  if (auto c = file.rfind(':'); c != std::string::npos && file.find(".rmap", c) == std::string::npos) {
    scheme = file.substr(c + 1);
    file.resize(c);
  }
  if (auto a = file.rfind('@'); a != std::string::npos) {
    label = file.substr(a + 1);
    file.resize(a);
  }
  ScriptError err;
  auto sc = ParseScenarioFile(file, &err);
  if (!sc) {
    *error = err.str();
    return false;
  }
  std::string name = std::filesystem::path(file).filename().string();
  std::string dot;
  SimOptions opt;
  opt.scheme = scheme;
  opt.on_observe = [&](const Model& m, const ObsPoint& p) {
    if (!dot.empty() || (p.label ? *p.label : "") != label) return;
    GraphOptions g;
    g.title = fmt::format("{} at {}, scheme {}", name, label, scheme);
    dot = GraphDot(m, g);
  };
  SimResult r;
  if (!RunSim(*sc, opt, &r, error)) return false;
  if (dot.empty()) {
    *error = fmt::format("{}: no observation point '{}'", file, label);
    return false;
  }
  out->title = fmt::format("{} at {} (scheme {})", name, label, scheme);
  out->dot_text = dot;
  std::string why;
  if (auto svg = RenderSvg(dot, &why)) out->svg = *svg;
  return true;
}

}  // namespace

Runner AddReport(CLI::App& app) {
  struct Opts {
    std::vector<std::string> inputs, pictures;
    std::string out = "report.html", title = "rmaplab report";
  };
  auto o = std::make_shared<Opts>();
  app.add_option("INPUT", o->inputs,
                 "JSON results: compare --format json, replay --json, conform --json")
      ->required();
  app.add_option("--picture", o->pictures,
                 "FILE.rmap[@LABEL][:SCHEME]: draw that observation point (repeatable)");
  app.add_option("-o,--output", o->out, "The HTML file")->capture_default_str();
  app.add_option("--title", o->title, "The page title")->capture_default_str();
  app.footer("Exit status: 0, 2 bad input (unreadable or unrecognised JSON, bad picture), "
             "1 cannot write.");
  return [o] {
    std::vector<ReportInput> inputs;
    for (const auto& path : o->inputs) {
      std::string text, error;
      if (!ReadFile(path, &text, &error)) {
        std::fprintf(stderr, "rmaplab report: %s\n", error.c_str());
        return 2;
      }
      ReportInput in;
      in.name = std::filesystem::path(path).filename().string();
      try {
        in.data = nlohmann::json::parse(text);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "rmaplab report: %s: invalid JSON: %s\n", path.c_str(), e.what());
        return 2;
      }
      if (ReportInputKind(in.data).empty()) {
        std::fprintf(stderr, "rmaplab report: %s: not a compare, replay or conform result\n",
                     path.c_str());
        return 2;
      }
      inputs.push_back(std::move(in));
    }
    std::vector<ReportPicture> pictures;
    for (const auto& spec : o->pictures) {
      ReportPicture p;
      std::string error;
      if (!Picture(spec, &p, &error)) {
        std::fprintf(stderr, "rmaplab report: --picture %s: %s\n", spec.c_str(), error.c_str());
        return 2;
      }
      pictures.push_back(std::move(p));
    }
    std::string html;
    try {
      html = RenderReport(inputs, pictures, o->title);
    } catch (const std::exception& e) {  // a recognised file with fields of the wrong type
      std::fprintf(stderr, "rmaplab report: malformed input: %s\n", e.what());
      return 2;
    }
    std::string error;
    if (!WriteFileAtomic(o->out, html, &error)) {
      std::fprintf(stderr, "rmaplab report: %s\n", error.c_str());
      return 1;
    }
    std::fprintf(stderr, "rmaplab report: wrote %s (%zu inputs, %zu pictures)\n", o->out.c_str(),
                 inputs.size(), pictures.size());
    return 0;
  };
}

}  // namespace rmaplab::cli
