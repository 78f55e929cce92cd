#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "report/graph.h"
#include "rmaplab/observation.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::cli {

Runner AddGraph(CLI::App& app) {
  struct Opts {
    std::string scenario, at, scheme = "linux", out;
    bool folios = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("SCENARIO", o->scenario, "A scenario (.rmap)")->required();
  app.add_option("--at", o->at, "The observation point: an `observe` label, or 'end' (default)");
  app.add_option("--scheme", o->scheme, "Whose objects to draw")->capture_default_str();
  app.add_flag("--folios", o->folios, "Also draw the anon folios and their mapping");
  app.add_option("-o,--output", o->out, "OUT.svg (rendered with Graphviz dot) or OUT.dot")
      ->required();
  app.footer("Exit status: 0, 2 bad input (scenario, scheme, label), 1 rendering failed.");
  return [o] {
    ScriptError err;
    auto sc = ParseScenarioFile(o->scenario, &err);
    if (!sc) {
      std::fprintf(stderr, "%s\n", err.str().c_str());
      return 2;
    }
    std::string want = o->at.empty() ? "end" : o->at;
    std::string dot;
    std::vector<std::string> labels;
    SimOptions opt;
    opt.scheme = o->scheme;
    opt.on_observe = [&](const Model& model, const ObsPoint& p) {
      std::string label = p.label ? *p.label : fmt::format("line {}", p.line);
      labels.push_back(label);
      if (!dot.empty() || label != want) return;
      GraphOptions g;
      g.folios = o->folios;
      g.title = fmt::format("{} at {} (line {}), scheme {}",
                            std::filesystem::path(sc->path).filename().string(), label, p.line,
                            o->scheme);
      dot = GraphDot(model, g);
    };
    SimResult res;
    std::string error;
    if (!RunSim(*sc, opt, &res, &error)) {
      std::fprintf(stderr, "rmaplab graph: %s\n", error.c_str());
      return 2;
    }
    if (dot.empty()) {
      std::string have;
      for (const auto& l : labels) have += (have.empty() ? "" : ", ") + l;
      std::fprintf(stderr, "rmaplab graph: no observation point '%s' (there are: %s)\n",
                   want.c_str(), have.c_str());
      return 2;
    }
    std::string content = dot;
    bool svg = o->out.size() > 4 && o->out.substr(o->out.size() - 4) == ".svg";
    std::string out = o->out;
    if (svg) {
      if (auto rendered = RenderSvg(dot, &error)) {
        content = *rendered;
      } else {  // no Graphviz: the DOT text, under a name that says what it is
        out = out.substr(0, out.size() - 4) + ".dot";
        std::fprintf(stderr, "rmaplab graph: %s; wrote the DOT text to %s instead\n",
                     error.c_str(), out.c_str());
      }
    }
    if (!WriteFileAtomic(out, content, &error)) {
      std::fprintf(stderr, "rmaplab graph: %s\n", error.c_str());
      return 1;
    }
    return 0;
  };
}

}  // namespace rmaplab::cli
