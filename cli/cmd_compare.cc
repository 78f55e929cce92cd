// rmaplab compare: every scenario under every scheme, side by side.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "rmap/registry.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::cli {
namespace {

struct Row {
  std::string scenario, scheme;
  SimResult res;
  int64_t p50 = 0, p99 = 0, max = 0;
  bool known_flaw = false;
};



std::string Bytes(int64_t b) {
  if (b < 10 * 1024) return fmt::format("{} B", b);
  if (b < 10 * 1024 * 1024) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{:.1f} MiB", b / 1048576.0);
}

std::string ObjectList(const std::map<std::string, ObjectStats>& objs) {
  std::string s;
  for (const auto& [name, o] : objs)
    s += fmt::format("{}{} {}/{}", s.empty() ? "" : ", ", name, o.live, o.peak);
  return s.empty() ? "-" : s;
}

nlohmann::json ToJson(const Row& r) {
  nlohmann::json objs = nlohmann::json::object();
  for (const auto& [name, o] : r.res.objects)
    objs[name] = {{"alloc", o.alloc}, {"free", o.free}, {"live", o.live}, {"peak", o.peak},
                  {"object_bytes", o.object_bytes}};
  nlohmann::json locks = nlohmann::json::object();
  for (const auto& [name, n] : r.res.reclaim.locks) locks[name] = n;
  return {{"scenario", r.scenario},
          {"scheme", r.scheme},
          {"statements", r.res.statements},
          {"objects", objs},
          {"live_bytes", r.res.live_bytes},
          {"peak_bytes", r.res.peak_bytes},
          {"reclaim_walks",
           {{"walks", r.res.reclaim.walks},
            {"visited_p50", r.p50},
            {"visited_p99", r.p99},
            {"visited_max", r.max},
            {"visited_total", r.res.reclaim.candidates},
            {"visited_histogram", Histogram(r.res.reclaim.visited_histogram)},
            {"false_positives", r.res.reclaim.false_positives},
            {"objects_visited", r.res.reclaim.objects_visited},
            {"locks", locks}}},
          {"counters", r.res.counters},
          {"oracle", {{"misses", r.res.oracle.misses + r.res.reclaim.misses},
                      {"invariant_failures", r.res.oracle.invariant_failures},
                      {"known_flaw", r.known_flaw}}}};
}

}  // namespace

Runner AddCompare(CLI::App& app) {
  struct Opts {
    std::vector<std::string> inputs;
    std::string schemes = "all", format = "table", reclaim = "end";
    bool no_check = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("FILE_OR_DIR", o->inputs, "Scenario files or folders of *.rmap")->required();
  app.add_option("--schemes", o->schemes, "Comma-separated scheme names, or 'all'");
  app.add_option("--format", o->format, "table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  app.add_option("--reclaim", o->reclaim,
                 "When to walk every anon folio once, as reclaim would: end, observe "
                 "(at every observe and at the end) or none")
      ->check(CLI::IsMember({"end", "observe", "none"}));
  app.add_flag("--no-check", o->no_check,
               "Skip the oracle check after every statement (faster; walks are still checked)");
  app.footer("Walk costs are those of the reclaim-style walks. Exit status: 0, or 1 if a "
             "scheme missed a mapping outside its known design flaws.");
  return [o] {
    bool ok = true;
    auto files = CollectScenarios(o->inputs, &ok);
    bool schemes_ok = true;  // separately: ResolveSchemes resets its flag
    auto schemes = ResolveSchemes(o->schemes, &schemes_ok);
    if (!ok || !schemes_ok) return 2;
    std::vector<Row> rows;
    bool failed = false;
    size_t runs_done = 0;
    for (const auto& f : files) {
      ScriptError err;
      auto sc = ParseScenarioFile(f, &err);
      if (!sc) {
        std::fprintf(stderr, "%s\n", err.str().c_str());
        return 2;
      }
      for (const auto& scheme : schemes) {
        Row r;
        r.scenario = std::filesystem::path(f).stem().string();
        r.scheme = scheme;
        SimOptions opt;
        opt.scheme = scheme;
        opt.check_each_statement = !o->no_check;
        opt.reclaim_at_end = o->reclaim != "none";
        opt.reclaim_at_observe = o->reclaim == "observe";
        opt.observation_state = false;  // compare reports costs, never the page snapshots
        std::string error;
        if (!RunSim(*sc, opt, &r.res, &error)) {
          std::fprintf(stderr, "rmaplab compare: %s\n", error.c_str());
          return 2;
        }
        for (const auto& flaw : CreateScheme(scheme)->KnownFlaws())
          r.known_flaw |= flaw.scenario == r.scenario;
        ProgressBar("compare " + r.scenario, ++runs_done, files.size() * schemes.size());
        r.p50 = r.res.reclaim.VisitedPercentile(0.50);
        r.p99 = r.res.reclaim.VisitedPercentile(0.99);
        r.max = r.res.reclaim.VisitedMax();
        int64_t misses = r.res.oracle.misses + r.res.reclaim.misses;
        if ((misses && !r.known_flaw) || r.res.oracle.invariant_failures) failed = true;
        rows.push_back(std::move(r));
      }
    }
    if (o->format == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : rows) out.push_back(ToJson(r));
      std::printf("%s\n", out.dump(2).c_str());
    } else if (o->format == "csv") {
      std::printf("scenario,scheme,live_bytes,peak_bytes,walks,visited_p50,visited_p99,"
                  "visited_max,false_positives,misses,invariant_failures,known_flaw\n");
      for (const auto& r : rows)
        std::printf("%s,%s,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%d\n", r.scenario.c_str(),
                    r.scheme.c_str(), (long long)r.res.live_bytes, (long long)r.res.peak_bytes,
                    (long long)r.res.reclaim.walks, (long long)r.p50, (long long)r.p99,
                    (long long)r.max, (long long)r.res.reclaim.false_positives,
                    (long long)(r.res.oracle.misses + r.res.reclaim.misses),
                    (long long)r.res.oracle.invariant_failures, r.known_flaw ? 1 : 0);
    } else {
      std::string last;
      for (const auto& r : rows) {
        if (r.scenario != last) {
          std::printf("%s%s\n", last.empty() ? "" : "\n", r.scenario.c_str());
          std::printf("  %-14s %10s %10s %6s %13s %7s %7s  %s\n", "scheme", "live", "peak",
                      "walks", "visited p50/99/max", "false+", "misses", "objects live/peak");
          last = r.scenario;
        }
        int64_t misses = r.res.oracle.misses + r.res.reclaim.misses;
        std::printf("  %-14s %10s %10s %6lld %5lld/%3lld/%3lld %7lld %7s  %s\n", r.scheme.c_str(),
                    Bytes(r.res.live_bytes).c_str(), Bytes(r.res.peak_bytes).c_str(),
                    (long long)r.res.reclaim.walks, (long long)r.p50, (long long)r.p99,
                    (long long)r.max, (long long)r.res.reclaim.false_positives,
                    misses ? fmt::format("{}{}", misses, r.known_flaw ? "*" : "!").c_str() : "0",
                    ObjectList(r.res.objects).c_str());
      }
      // Totals per scheme.
      std::printf("\ntotal over %zu scenarios\n", files.size());
      std::printf("  %-14s %12s %10s %12s %8s\n", "scheme", "sum of peaks", "walks",
                  "visited", "false+");
      for (const auto& scheme : schemes) {
        int64_t peak = 0, walks = 0, visited = 0, fp = 0;
        for (const auto& r : rows)
          if (r.scheme == scheme) {
            peak += r.res.peak_bytes;
            walks += r.res.reclaim.walks;
            visited += r.res.reclaim.candidates;
            fp += r.res.reclaim.false_positives;
          }
        std::printf("  %-14s %12s %10lld %12lld %8lld\n", scheme.c_str(), Bytes(peak).c_str(),
                    (long long)walks, (long long)visited, (long long)fp);
      }
      std::printf("(misses: * known design flaw, ! unexpected)\n");
    }
    return failed ? 1 : 0;
  };
}

}  // namespace rmaplab::cli
