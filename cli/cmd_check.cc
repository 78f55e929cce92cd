#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "commands.h"
#include "rmaplab/scenario.h"
#include "rmap/registry.h"
#include "scenario/interpreter.h"

namespace rmaplab::cli {

Runner AddCheck(CLI::App& app) {
  struct Opts {
    std::vector<std::string> inputs;
    std::string scheme = "linux", zero_page = "yes", oracle = "full";
    bool verbose = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("FILE_OR_DIR", o->inputs, "Scenario files or folders of *.rmap")->required();
  app.add_option("--scheme", o->scheme, "A scheme, a comma-separated list, or 'all'");
  app.add_flag("-v,--verbose", o->verbose, "Print every failure message");
  AddZeroPageOption(app, &o->zero_page);
  app.add_option("--oracle", o->oracle,
                 "full: everything after every statement; incremental: what each statement "
                 "changed (everything after structural ones, observe and the end)")
      ->check(CLI::IsMember({"full", "incremental"}))
      ->capture_default_str();
  app.footer("Exit status: 0 clean, 1 a walk missed a mapping or an invariant failed, "
             "2 bad input.");
  return [o] {
    bool ok = true;
    auto files = CollectScenarios(o->inputs, &ok);
    bool schemes_ok = true;  // separately: ResolveSchemes resets its flag
    auto schemes = ResolveSchemes(o->scheme, &schemes_ok);
    if (!ok || !schemes_ok) return 2;
    std::vector<Scenario> scenarios;
    for (const auto& f : files) {
      ScriptError err;
      auto sc = ParseScenarioFile(f, &err);
      if (!sc) {
        std::fprintf(stderr, "%s\n", err.str().c_str());
        return 2;
      }
      scenarios.push_back(std::move(*sc));
    }
    bool failed = false;
    std::vector<std::string> summary;
    for (const auto& scheme : schemes) {
      std::map<std::string, std::string> flaws;  // scenario stem -> description
      for (const auto& f : CreateScheme(scheme)->KnownFlaws()) flaws[f.scenario] = f.description;
      int64_t known_flaw_misses = 0;
      std::printf("scheme %s\n", scheme.c_str());
      std::printf("  %-36s %6s %7s %9s %7s %9s %9s\n", "scenario", "stmts", "walks",
                  "visited", "misses", "false+", "inv.fail");
      OracleReport total;
      int64_t stmts = 0;
      for (const auto& sc : scenarios) {
        SimOptions opt;
        opt.scheme = scheme;
        opt.check_each_statement = true;
        opt.zero_page = ResolveZeroPage(o->zero_page);
        opt.incremental_oracle = o->oracle == "incremental";
        SimResult res;
        std::string error;
        if (!RunSim(sc, opt, &res, &error)) {
          std::fprintf(stderr, "rmaplab check: %s\n", error.c_str());
          return 2;
        }
        const OracleReport& r = res.oracle;
        std::string name = std::filesystem::path(sc.path).stem().string();
        std::printf("  %-36s %6lld %7lld %9lld %7lld %9lld %9lld%s\n", name.c_str(),
                    (long long)res.statements, (long long)r.walks, (long long)r.candidates,
                    (long long)r.misses, (long long)r.false_positives,
                    (long long)r.invariant_failures,
                    r.invariant_failures || (r.misses && !flaws.count(name)) ? "  FAIL"
                    : r.misses                                            ? "  known flaw"
                                                                          : "");
        if (r.misses && flaws.count(name) && !r.invariant_failures) {
          known_flaw_misses += r.misses;
          std::printf("      known flaw of the design: %s\n", flaws[name].c_str());
        } else if (r.misses || r.invariant_failures) {
          failed = true;
          size_t shown = 0;
          for (const auto& m : r.messages) {
            if (!o->verbose && shown++ >= 3) break;
            std::printf("      %s\n", m.c_str());
          }
        }
        stmts += res.statements;
        total.walks += r.walks;
        total.candidates += r.candidates;
        total.misses += r.misses;
        total.false_positives += r.false_positives;
        total.invariant_failures += r.invariant_failures;
      }
      std::printf("  %-36s %6lld %7lld %9lld %7lld %9lld %9lld\n\n", "total", (long long)stmts,
                  (long long)total.walks, (long long)total.candidates, (long long)total.misses,
                  (long long)total.false_positives, (long long)total.invariant_failures);
      summary.push_back(fmt::format(
          "{}: {} scenarios, {} walks, {} misses{}, {} invariant failures", scheme,
          scenarios.size(), total.walks, total.misses,
          known_flaw_misses ? fmt::format(" ({} from known design flaws)", known_flaw_misses) : "",
          total.invariant_failures));
    }
    for (const auto& s : summary) std::printf("check %s\n", s.c_str());
    return failed ? 1 : 0;
  };
}

}  // namespace rmaplab::cli
