#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

#include "bench/workloads.h"
#include "commands.h"
#include "native/executor.h"
#include "native/procfs.h"
#include "rmaplab/observation.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"
#include "trace/replay.h"
#include "trace/trace.h"

namespace rmaplab::cli {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The best (least) wall time of `repeat` runs of fn, in seconds.
template <class F>
double Best(int repeat, F&& fn) {
  double best = 1e300;
  for (int i = 0; i < repeat; ++i) {
    double t0 = Now();
    fn();
    best = std::min(best, Now() - t0);
  }
  return best;
}

}  // namespace

Runner AddBench(CLI::App& app) {
  struct Opts {
    std::string benchmarks, schemes = "all", vs_native, json, traces = "traces";
    int scale = 1, repeat = 3;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--benchmarks", o->benchmarks, "Comma-separated workload names (default: all)");
  app.add_option("--schemes", o->schemes, "Schemes (comma-separated or 'all')")->capture_default_str();
  app.add_option("--scale", o->scale, "Size factor of the generated workloads")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--repeat", o->repeat, "Runs per measurement (the best is kept)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--traces", o->traces, "Also replay the traces in this folder")->capture_default_str();
  app.add_option("--vs-native", o->vs_native,
                 "Run this scenario natively once and in sim, and print the speed ratio");
  app.add_option("--json", o->json, "Write the measurements here");
  app.footer("Times are wall-clock, best of --repeat, on this machine; the oracle is off "
             "unless a column says otherwise. Exit status: 0, 2 bad input, 1 a run failed.");
  return [o] {
    nlohmann::json out = nlohmann::json::object();
    if (!o->vs_native.empty()) {  // rmaplab bench --vs-native FILE.rmap
      ScriptError err;
      auto sc = ParseScenarioFile(o->vs_native, &err);
      if (!sc) {
        std::fprintf(stderr, "%s\n", err.str().c_str());
        return 2;
      }
      std::string why;
      if (!native::NativeAvailable(&why)) {
        std::fprintf(stderr, "rmaplab bench: cannot run natively here: %s\n", why.c_str());
        return 1;
      }
      native::NativeResult nat;
      double t_native = Best(o->repeat, [&] { nat = native::RunNative(*sc, native::NativeOptions{}); });
      if (nat.status != native::NativeStatus::kOk) {
        std::fprintf(stderr, "rmaplab bench: native run failed: %s\n", nat.error.c_str());
        return 1;
      }
      SimResult sim;
      std::string error;
      // Sim is fast: repeat it until it has run at least 0.2 s, time per run.
      int n = 0;
      double t0 = Now();
      do {
        sim = SimResult();
        SimOptions opt;
        opt.zero_page = native::KernelHasZeroPage();  // compared with this kernel
        RunSim(*sc, opt, &sim, &error);
        ++n;
      } while (Now() - t0 < 0.2);
      double t_sim = (Now() - t0) / n;
      bool equal = !FirstDifference(nat.observation, sim.observation, "native", "sim");
      std::printf("%s: native %.3f ms (best of %d), sim %.4f ms (mean of %d), observations %s\n",
                  o->vs_native.c_str(), t_native * 1e3, o->repeat, t_sim * 1e3, n,
                  equal ? "equal" : "DIFFER");
      std::printf("sim/native speed ratio: %.1f\n", t_native / t_sim);
      out["vs_native"] = {{"scenario", o->vs_native}, {"native_seconds", t_native},
                          {"sim_seconds", t_sim}, {"ratio", t_native / t_sim}, {"equal", equal}};
      if (!o->json.empty()) {
        std::string error2;
        if (!WriteFileAtomic(o->json, out.dump(2) + "\n", &error2)) return 1;
      }
      return equal ? 0 : 1;
    }
    bool ok = true;
    auto schemes = ResolveSchemes(o->schemes, &ok);
    if (!ok) return 2;
    std::set<std::string> want;
    for (size_t p = 0; p < o->benchmarks.size();) {
      size_t q = o->benchmarks.find(',', p);
      if (q == std::string::npos) q = o->benchmarks.size();
      want.insert(o->benchmarks.substr(p, q - p));
      p = q + 1;
    }
    auto workloads = bench::Workloads(o->scale);
    std::set<std::string> known;
    for (const auto& w : workloads) known.insert(w.name);
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<std::string> traces;
    if (fs::is_directory(o->traces, ec))
      for (const auto& e : fs::directory_iterator(o->traces, ec))
        if (e.path().extension() == ".rmt") traces.push_back(e.path().string());
    std::sort(traces.begin(), traces.end());
    for (const auto& t : traces) known.insert("replay:" + fs::path(t).stem().string());
    for (const auto& n : want)
      if (!known.count(n)) {
        std::string list;
        for (const auto& k : known) list += " " + k;
        std::fprintf(stderr, "rmaplab bench: unknown benchmark '%s' (there are:%s)\n", n.c_str(),
                     list.c_str());
        return 2;
      }
    std::printf("%-22s %-14s %9s %10s %10s %12s %12s %14s %14s\n", "workload", "scheme", "stmts",
                "faults", "sim ms", "stmts/s", "events/s", "ev/s+oracle", "ev/s+inc.oracle");
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& w : workloads) {
      if (!want.empty() && !want.count(w.name)) continue;
      ScriptError err;
      auto sc = ParseScenario(w.name + ".rmap", w.text, &err);
      if (!sc) {
        std::fprintf(stderr, "rmaplab bench: %s: %s\n", w.name.c_str(), err.str().c_str());
        return 1;
      }
      for (const auto& scheme : schemes) {
        SimResult r;
        std::string error;
        SimOptions opt;
        opt.scheme = scheme;
        double t = Best(o->repeat, [&] { r = SimResult(); RunSim(*sc, opt, &r, &error); });
        SimOptions chk = opt;
        chk.check_each_statement = true;
        SimResult rc;
        double tc = Best(1, [&] { RunSim(*sc, chk, &rc, &error); });
        SimOptions inc = chk;
        inc.incremental_oracle = true;
        SimResult ri;
        double ti = Best(1, [&] { RunSim(*sc, inc, &ri, &error); });
        if (rc.oracle.misses || ri.oracle.misses != rc.oracle.misses)
          std::fprintf(stderr, "rmaplab bench: %s under %s: the oracle found %lld misses (incremental: %lld)\n",
                       w.name.c_str(), scheme.c_str(), (long long)rc.oracle.misses,
                       (long long)ri.oracle.misses);
        // An event: one statement, or one page fault a touch statement made.
        double events = static_cast<double>(r.statements + r.core.faults);
        std::printf("%-22s %-14s %9lld %10lld %10.2f %12.0f %12.0f %14.0f %14.0f\n", w.name.c_str(),
                    scheme.c_str(), (long long)r.statements, (long long)r.core.faults, t * 1e3,
                    r.statements / t, events / t, events / tc, events / ti);
        rows.push_back({{"workload", w.name}, {"scheme", scheme}, {"statements", r.statements},
                        {"faults", r.core.faults}, {"seconds", t}, {"events_per_second", events / t},
                        {"events_per_second_oracle", events / tc},
                        {"events_per_second_oracle_incremental", events / ti},
                        {"peak_bytes", r.peak_bytes}});
      }
    }
    for (const auto& path : traces) {
      std::string name = "replay:" + fs::path(path).stem().string();
      if (!want.empty() && !want.count(name)) continue;
      std::string error;
      auto t = trace::ReadTrace(path, &error);
      if (!t) {
        std::fprintf(stderr, "rmaplab bench: %s\n", error.c_str());
        return 1;
      }
      for (const auto& scheme : schemes) {
        trace::ReplayOptions opt;
        opt.scheme = scheme;
        opt.reclaim_points = 0;
        opt.reclaim_at_end = false;
        trace::ReplayResult r;
        double secs = Best(o->repeat, [&] { r = trace::Replay(*t, opt); });
        double events = static_cast<double>(r.events);
        std::printf("%-22s %-14s %9s %10lld %10.2f %12s %12.0f %14s %14s\n", name.c_str(),
                    scheme.c_str(), "-", (long long)r.faults, secs * 1e3, "-", events / secs, "-", "-");
        rows.push_back({{"workload", name}, {"scheme", scheme}, {"events", r.events},
                        {"faults", r.faults}, {"seconds", secs}, {"events_per_second", events / secs},
                        {"peak_bytes", r.peak_bytes}});
      }
    }
    out["runs"] = rows;
    if (!o->json.empty()) {
      std::string error;
      if (!WriteFileAtomic(o->json, out.dump(2) + "\n", &error)) {
        std::fprintf(stderr, "rmaplab bench: %s\n", error.c_str());
        return 1;
      }
    }
    return 0;
  };
}

}  // namespace rmaplab::cli
