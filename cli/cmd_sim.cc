#include <cstdio>
#include <memory>

#include "commands.h"
#include "rmaplab/observation.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::cli {

Runner AddSim(CLI::App& app) {
  struct Opts {
    std::string file, scheme = "linux", out, zero_page = "yes";
  };
  auto o = std::make_shared<Opts>();
  app.add_option("FILE", o->file, "Scenario file (.rmap)")->required();
  app.add_option("--scheme", o->scheme, "rmap scheme (see 'rmaplab schemes')");
  app.add_option("-o,--output", o->out, "Write the observation here instead of stdout");
  AddZeroPageOption(app, &o->zero_page);
  return [o] {
    ScriptError err;
    auto sc = ParseScenarioFile(o->file, &err);
    if (!sc) {
      std::fprintf(stderr, "%s\n", err.str().c_str());
      return 2;
    }
    SimOptions opt;
    opt.scheme = o->scheme;
    opt.zero_page = ResolveZeroPage(o->zero_page);
    SimResult res;
    std::string error;
    if (!RunSim(*sc, opt, &res, &error)) {
      std::fprintf(stderr, "rmaplab sim: %s\n", error.c_str());
      return 2;
    }
    std::string json = ObservationToJson(res.observation);
    if (o->out.empty()) {
      std::fputs(json.c_str(), stdout);
      return 0;
    }
    if (!WriteFileAtomic(o->out, json, &error)) {
      std::fprintf(stderr, "rmaplab sim: %s\n", error.c_str());
      return 2;
    }
    return 0;
  };
}

}  // namespace rmaplab::cli
