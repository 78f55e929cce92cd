#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/workloads.h"
#include "commands.h"
#include "native/executor.h"
#include "native/procfs.h"
#include "rmaplab/observation.h"
#include "rmap/oracle.h"
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

// Resident set size of this process now, in bytes (/proc/self/statm).
int64_t RssNow() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long long size = 0, rss = 0;
  int n = std::fscanf(f, "%lld %lld", &size, &rss);
  std::fclose(f);
  return n == 2 ? rss * sysconf(_SC_PAGESIZE) : -1;
}

// One scheme's run of the data-centre fleet, measured in a child process of its own so
// that its peak RSS (getrusage ru_maxrss) is that run's alone.
struct FleetRun {
  bool ok = false;
  std::string error;
  double seconds = 0, reclaim_seconds = 0;
  int64_t statements = 0, faults = 0, folios = 0;
  int64_t rss_before = 0, rss_peak = 0;  // bytes
  int64_t scheme_peak_bytes = 0, scheme_live_bytes = 0;
  CoreBytes core;
  int64_t reclaim_walks = 0, reclaim_visited = 0, reclaim_misses = 0;
  std::map<std::string, ObjectStats> objects;
};

FleetRun RunFleet(const Scenario& sc, const std::string& scheme, bool reclaim) {
  FleetRun run;
  int fds[2];
  if (pipe(fds) != 0) {
    run.error = "pipe failed";
    return run;
  }
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    run.error = "fork failed";
    return run;
  }
  if (pid == 0) {  // the measured child
    close(fds[0]);
    nlohmann::json j;
    j["rss_before"] = RssNow();
    SimOptions opt;
    opt.scheme = scheme;
    opt.observation_state = false;
    SimResult r;
    std::string error;
    OracleReport walks;
    double t_end = 0, t_walk = 0;
    int64_t rss_peak = 0;
    opt.on_observe = [&](const Model& model, const ObsPoint& point) {
      if (!point.label || *point.label != "end") return;
      t_end = Now();
      rusage ru{};
      getrusage(RUSAGE_SELF, &ru);
      rss_peak = static_cast<int64_t>(ru.ru_maxrss) * 1024;  // before the walks' own memory
      if (!reclaim) return;
      Oracle::WalkAll(model, "end reclaim", &walks);  // what reclaim would do, every folio
      t_walk = Now() - t_end;
    };
    double t0 = Now();
    bool ok = RunSim(sc, opt, &r, &error);
    j["seconds"] = (t_end ? t_end : Now()) - t0;
    j["ok"] = ok;
    j["error"] = error;
    j["statements"] = r.statements;
    j["faults"] = r.core.faults;
    j["folios"] = r.core.folio_alloc - r.core.folio_free;
    j["scheme_peak_bytes"] = r.peak_bytes;
    j["scheme_live_bytes"] = r.live_bytes;
    j["core"] = {r.core_bytes.folios, r.core_bytes.page_tables, r.core_bytes.vmas, r.core_bytes.mms};
    for (const auto& [name, o] : r.objects)
      j["objects"][name] = {o.alloc, o.free, o.live, o.peak, o.object_bytes};
    j["rss_peak"] = rss_peak;
    j["reclaim_seconds"] = t_walk;
    j["reclaim_walks"] = walks.walks;
    j["reclaim_visited"] = walks.candidates;
    j["reclaim_misses"] = walks.misses;
    std::string text = j.dump();
    const char* p = text.data();
    size_t left = text.size();
    while (left > 0) {
      ssize_t n = write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<size_t>(n);
    }
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.empty()) {
    run.error = WIFSIGNALED(status) ? fmt::format("the run died of signal {}", WTERMSIG(status))
                                    : "the run reported nothing";
    return run;
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    run.error = "unreadable report from the run";
    return run;
  }
  run.ok = j.value("ok", false);
  run.error = j.value("error", "");
  run.seconds = j.value("seconds", 0.0);
  run.statements = j.value("statements", int64_t{0});
  run.faults = j.value("faults", int64_t{0});
  run.folios = j.value("folios", int64_t{0});
  run.rss_before = j.value("rss_before", int64_t{0});
  run.rss_peak = j.value("rss_peak", int64_t{0});
  run.scheme_peak_bytes = j.value("scheme_peak_bytes", int64_t{0});
  run.scheme_live_bytes = j.value("scheme_live_bytes", int64_t{0});
  const auto& c = j["core"];
  run.core = {c[0].get<uint64_t>(), c[1].get<uint64_t>(), c[2].get<uint64_t>(), c[3].get<uint64_t>()};
  if (j.contains("objects"))
    for (const auto& [name, o] : j["objects"].items())
      run.objects[name] = ObjectStats{o[0].get<int64_t>(), o[1].get<int64_t>(), o[2].get<int64_t>(),
                                      o[3].get<int64_t>(), o[4].get<int64_t>()};
  run.reclaim_seconds = j.value("reclaim_seconds", 0.0);
  run.reclaim_walks = j.value("reclaim_walks", int64_t{0});
  run.reclaim_visited = j.value("reclaim_visited", int64_t{0});
  run.reclaim_misses = j.value("reclaim_misses", int64_t{0});
  return run;
}

std::string GiB(int64_t b) { return fmt::format("{:.2f}", b / 1073741824.0); }

// rmaplab bench --datacentre: issue 8's scale target.
int RunDataCentre(const bench::DataCentreShape& shape, const std::vector<std::string>& schemes,
                  bool reclaim, const std::string& emit, const std::string& json_path) {
  bench::Workload w = bench::DataCentre(shape);
  if (!emit.empty()) {
    std::string error;
    if (!WriteFileAtomic(emit, w.text, &error)) {
      std::fprintf(stderr, "rmaplab bench: %s\n", error.c_str());
      return 1;
    }
    std::printf("%s: %s (%zu bytes)\n", emit.c_str(), w.description.c_str(), w.text.size());
    return 0;
  }
  double t0 = Now();
  ScriptError err;
  auto sc = ParseScenario("datacentre.rmap", w.text, &err);
  if (!sc) {
    std::fprintf(stderr, "rmaplab bench: datacentre: %s\n", err.str().c_str());
    return 1;
  }
  std::string().swap(w.text);
  double t_parse = Now() - t0;
  std::printf("data-centre fleet: %s; %zu statements parsed in %.2f s, RSS %s GiB before the runs\n",
              w.description.c_str(), sc->statements.size(), t_parse, GiB(RssNow()).c_str());
  std::printf("%-14s %8s %12s %9s %9s %10s %10s %9s %9s %s\n", "scheme", "sim s", "events/s",
              "peak GiB", "model GiB", "scheme MiB", "core B/pg", "ovh B/pg", "under 8G",
              reclaim ? "reclaim walk" : "");
  nlohmann::json rows = nlohmann::json::array();
  bool all_ok = true;
  for (const auto& scheme : schemes) {
    FleetRun r = RunFleet(*sc, scheme, reclaim);
    if (!r.ok) {
      std::printf("%-14s failed: %s\n", scheme.c_str(), r.error.c_str());
      all_ok = false;
      rows.push_back({{"scheme", scheme}, {"error", r.error}});
      continue;
    }
    double pages = static_cast<double>(std::max<int64_t>(1, shape.resident_pages()));
    int64_t growth = r.rss_peak - r.rss_before;  // what the run added to the process
    // Model overhead: all the run's memory beyond the scheme's own objects (at their
    // nominal sizes, so allocator slack counts against the model).
    double overhead = (growth - r.scheme_peak_bytes) / pages;
    double events = static_cast<double>(r.statements + r.faults);
    std::string walk;
    if (reclaim)
      walk = fmt::format("{} walks, {} visited, {} misses, {:.1f} s", r.reclaim_walks,
                         r.reclaim_visited, r.reclaim_misses, r.reclaim_seconds);
    std::printf("%-14s %8.2f %12.0f %9s %9s %10.1f %10.1f %9.1f %9s %s\n", scheme.c_str(),
                r.seconds, events / r.seconds, GiB(r.rss_peak).c_str(), GiB(growth).c_str(),
                r.scheme_peak_bytes / 1048576.0, r.core.total() / pages, overhead,
                r.rss_peak < (int64_t{8} << 30) ? "yes" : "NO", walk.c_str());
    if (r.reclaim_misses) all_ok = false;
    nlohmann::json objs = nlohmann::json::object();
    for (const auto& [name, o] : r.objects)
      objs[name] = {{"alloc", o.alloc}, {"free", o.free}, {"live", o.live}, {"peak", o.peak},
                    {"object_bytes", o.object_bytes}};
    rows.push_back({{"scheme", scheme}, {"seconds", r.seconds}, {"statements", r.statements},
                    {"faults", r.faults}, {"folios", r.folios}, {"events_per_second", events / r.seconds},
                    {"rss_before_bytes", r.rss_before}, {"rss_peak_bytes", r.rss_peak},
                    {"scheme_peak_bytes", r.scheme_peak_bytes},
                    {"core_bytes", {{"folios", r.core.folios}, {"page_tables", r.core.page_tables},
                                    {"vmas", r.core.vmas}, {"mms", r.core.mms}}},
                    {"overhead_bytes_per_page", overhead}, {"objects", objs},
                    {"reclaim", {{"seconds", r.reclaim_seconds}, {"walks", r.reclaim_walks},
                                 {"visited", r.reclaim_visited}, {"misses", r.reclaim_misses}}}});
  }
  std::printf("(peak: the run's peak RSS; model: its growth over the %s GiB before; core B/pg: "
              "folios + page tables + VMAs + mms per resident page; ovh B/pg: growth minus the "
              "scheme's objects, per resident page)\n",
              GiB(RssNow()).c_str());
  if (!json_path.empty()) {
    nlohmann::json out = {{"datacentre", {{"families", shape.families}, {"procs", shape.procs},
                                          {"vmas", shape.vmas}, {"vma_pages", shape.vma_pages},
                                          {"processes", shape.processes()},
                                          {"total_vmas", shape.total_vmas()},
                                          {"resident_pages", shape.resident_pages()}}},
                          {"runs", rows}};
    std::string error;
    if (!WriteFileAtomic(json_path, out.dump(2) + "\n", &error)) {
      std::fprintf(stderr, "rmaplab bench: %s\n", error.c_str());
      return 1;
    }
  }
  return all_ok ? 0 : 1;
}

}  // namespace

Runner AddBench(CLI::App& app) {
  struct Opts {
    std::string benchmarks, schemes = "all", vs_native, json, traces = "traces";
    int scale = 1, repeat = 3;
    bool datacentre = false, reclaim = false, no_oracle = false;
    bench::DataCentreShape dc;
    std::string emit;
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
  app.add_flag("--no-oracle", o->no_oracle,
               "Skip the runs with the oracle (full and incremental) on; their columns show -");
  app.add_flag("--datacentre", o->datacentre,
               "Run the generated data-centre fleet under each scheme (one child process "
               "each, oracle off) and print time, peak RSS and bytes per resident page");
  app.add_option("--families", o->dc.families, "--datacentre: fork families")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--procs", o->dc.procs, "--datacentre: processes per family (parent included)")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--vmas", o->dc.vmas, "--datacentre: VMAs per process")
      ->check(CLI::Range(1, 60000))->capture_default_str();
  app.add_option("--vma-pages", o->dc.vma_pages, "--datacentre: pages per VMA")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  app.add_flag("--reclaim", o->reclaim,
               "--datacentre: at the end, walk every anon folio once as reclaim would, timed");
  app.add_option("--emit", o->emit,
                 "--datacentre: write the fleet's scenario to this file and stop (for "
                 "'rmaplab compare FILE --no-check --reclaim none')");
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
    if (o->datacentre) return RunDataCentre(o->dc, schemes, o->reclaim, o->emit, o->json);
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
        opt.observation_state = false;  // costs only: no page snapshots at observe points
        double t = Best(o->repeat, [&] { r = SimResult(); RunSim(*sc, opt, &r, &error); });
        SimOptions chk = opt;
        chk.check_each_statement = true;
        SimResult rc, ri;
        double tc = 0, ti = 0;
        if (!o->no_oracle) {
          tc = Best(1, [&] { RunSim(*sc, chk, &rc, &error); });
          SimOptions inc = chk;
          inc.incremental_oracle = true;
          ti = Best(1, [&] { RunSim(*sc, inc, &ri, &error); });
          if (rc.oracle.misses || ri.oracle.misses != rc.oracle.misses)
            std::fprintf(stderr, "rmaplab bench: %s under %s: the oracle found %lld misses (incremental: %lld)\n",
                         w.name.c_str(), scheme.c_str(), (long long)rc.oracle.misses,
                         (long long)ri.oracle.misses);
        }
        // An event: one statement, or one page fault a touch statement made.
        double events = static_cast<double>(r.statements + r.core.faults);
        auto rate = [&](double secs) { return secs > 0 ? fmt::format("{:.0f}", events / secs) : std::string("-"); };
        std::printf("%-22s %-14s %9lld %10lld %10.2f %12.0f %12.0f %14s %14s\n", w.name.c_str(),
                    scheme.c_str(), (long long)r.statements, (long long)r.core.faults, t * 1e3,
                    r.statements / t, events / t, rate(tc).c_str(), rate(ti).c_str());
        nlohmann::json row = {{"workload", w.name}, {"scheme", scheme}, {"statements", r.statements},
                              {"faults", r.core.faults}, {"seconds", t},
                              {"events_per_second", events / t}, {"peak_bytes", r.peak_bytes}};
        if (tc > 0) row["events_per_second_oracle"] = events / tc;
        if (ti > 0) row["events_per_second_oracle_incremental"] = events / ti;
        rows.push_back(row);
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
