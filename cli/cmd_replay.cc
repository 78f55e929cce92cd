#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "commands.h"
#include "rmaplab/observation.h"
#include "trace/replay.h"

namespace rmaplab::cli {
namespace {

double RelErr(int64_t predicted, int64_t recorded) {
  return recorded ? std::fabs(double(predicted - recorded)) / double(recorded)
                  : (predicted ? INFINITY : 0.0);
}

std::string NotesLine(const std::map<std::string, int64_t>& notes,
                      const std::map<std::string, std::string>& examples) {
  std::string s;
  for (const auto& [why, n] : notes) {
    s += fmt::format("{}{} {}", s.empty() ? "" : "; ", n, why);
    auto ex = examples.find(why);
    if (ex != examples.end()) s += " (first: " + ex->second + ")";
  }
  return s;
}

}  // namespace

Runner AddReplay(CLI::App& app) {
  struct Opts {
    std::string trace, schemes = "linux", json;
    int64_t reclaim_every = 0, reclaim_points = 16;
    bool by_task = false;
    int32_t explain = 0;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("TRACE", o->trace, "A trace from 'rmaplab record'")->required();
  app.add_option("--scheme,--schemes", o->schemes, "A scheme, a comma-separated list, or 'all'");
  app.add_option("--json", o->json, "Write the results (with the linux fidelity) here");
  app.add_option("--reclaim-every", o->reclaim_every,
                 "Also walk every anon folio every N events (reclaim-style)");
  app.add_option("--reclaim-points", o->reclaim_points,
                 "Walk every anon folio at this many evenly spaced points of the trace, and at "
                 "the end")
      ->capture_default_str();
  app.add_flag("--by-task", o->by_task,
               "For linux: list the tasks whose predicted allocations differ from the recorded");
  app.add_option("--explain", o->explain,
                 "For linux: narrate this task's events with the model's and the kernel's "
                 "allocations (where does a divergence start?)");
  app.footer("Exit status: 0, 1 if a scheme missed a mapping, 2 bad input (e.g. a malformed "
             "trace).");
  return [o] {
    bool ok = true;
    auto schemes = ResolveSchemes(o->schemes, &ok);
    if (!ok) return 2;
    std::string error;
    auto t = trace::ReadTrace(o->trace, &error);
    if (!t) {
      std::fprintf(stderr, "rmaplab replay: %s\n", error.c_str());
      return 2;
    }
    if (!t->faithful())
      std::fprintf(stderr, "rmaplab replay: warning: the trace lost events; it is not faithful\n");
    bool tty = isatty(1) && isatty(2);  // a progress bar only for a person watching
    nlohmann::json out = {{"trace", o->trace},
                          {"command", t->command},
                          {"kernel", t->kernel},
                          {"events", t->events.size()},
                          {"schemes", nlohmann::json::object()}};
    std::printf("%-14s %8s %8s %8s %10s %10s %7s %16s %8s %7s\n", "scheme", "faults", "syscalls",
                "max VMAs", "live", "peak", "walks", "visited p50/max", "false+", "misses");
    bool failed = false;
    std::map<std::string, int64_t> notes;
    for (const auto& scheme : schemes) {
      trace::ReplayOptions opt;
      opt.scheme = scheme;
      opt.reclaim_every = o->reclaim_every;
      opt.reclaim_points = o->reclaim_points;
      opt.by_task = o->by_task && scheme == "linux";
      if (o->explain && scheme == "linux") {
        opt.explain_pid = o->explain;
        opt.explain = [](const std::string& line) { std::printf("  explain %s\n", line.c_str()); };
      }
      if (tty)
        opt.progress = [&](size_t done, size_t total) {
          int pct = total ? static_cast<int>(100 * done / total) : 100;
          std::fprintf(stderr, "\r%-14s [%-40s] %3d%%", scheme.c_str(),
                       std::string(pct * 40 / 100, '#').c_str(), pct);
          if (done == total) std::fprintf(stderr, "\r%80s\r", "");
        };
      trace::ReplayResult r = trace::Replay(*t, opt);
      int64_t p50 = r.reclaim.VisitedAt(r.reclaim.walks / 2), mx = r.reclaim.VisitedMax();
      std::printf("%-14s %8lld %8lld %8lld %10lld %10lld %7lld %10lld/%5lld %8lld %7lld\n",
                  scheme.c_str(), (long long)r.faults, (long long)r.syscalls, (long long)r.max_vmas,
                  (long long)r.live_bytes, (long long)r.peak_bytes, (long long)r.reclaim.walks,
                  (long long)p50, (long long)mx, (long long)r.reclaim.false_positives,
                  (long long)r.reclaim.misses);
      failed |= r.reclaim.misses > 0;
      nlohmann::json objs = nlohmann::json::object();
      for (const auto& [name, s] : r.objects)
        objs[name] = {{"alloc", s.alloc}, {"free", s.free}, {"live", s.live}, {"peak", s.peak},
                      {"object_bytes", s.object_bytes}};
      nlohmann::json js = {{"faults", r.faults},       {"syscalls", r.syscalls},
                           {"forks", r.forks},         {"execs", r.execs},
                           {"exits", r.exits},         {"max_vmas", r.max_vmas},
                           {"live_bytes", r.live_bytes}, {"peak_bytes", r.peak_bytes},
                           {"objects", objs},          {"counters", r.counters},
                           {"walks", {{"count", r.reclaim.walks}, {"visited_p50", p50},
                                      {"visited_max", mx}, {"false_positives", r.reclaim.false_positives},
                                      {"visited_histogram", Histogram(r.reclaim.visited_histogram)},
                                      {"misses", r.reclaim.misses}}},
                           {"unmodelled", r.unmodelled}};
      out["schemes"][scheme] = js;
      if (scheme == "linux") {
        double eav = RelErr(r.predicted_av_allocs, r.recorded_av_allocs);
        double eavc = RelErr(r.predicted_avc_allocs, r.recorded_avc_allocs);
        out["fidelity"] = {
            {"anon_vma", {{"recorded_allocs", r.recorded_av_allocs},
                          {"predicted_allocs", r.predicted_av_allocs},
                          {"relative_error", eav}}},
            {"anon_vma_chain", {{"recorded_allocs", r.recorded_avc_allocs},
                                {"predicted_allocs", r.predicted_avc_allocs},
                                {"relative_error", eavc}}}};
        std::printf("  fidelity of the linux model on this run: anon_vma %lld predicted / %lld "
                    "recorded (error %.2f%%), anon_vma_chain %lld / %lld (error %.2f%%)\n",
                    (long long)r.predicted_av_allocs, (long long)r.recorded_av_allocs, eav * 100,
                    (long long)r.predicted_avc_allocs, (long long)r.recorded_avc_allocs, eavc * 100);
      }
      for (const auto& [pid, tf] : r.tasks)
        if (tf.recorded_av != tf.predicted_av || tf.recorded_avc != tf.predicted_avc)
          std::printf("  task %d (%s): anon_vma %lld predicted / %lld recorded, anon_vma_chain "
                      "%lld / %lld\n",
                      pid, tf.programs.empty() ? "no exec" : tf.programs.c_str(),
                      (long long)tf.predicted_av, (long long)tf.recorded_av,
                      (long long)tf.predicted_avc, (long long)tf.recorded_avc);
      // What replay could not reproduce is the same under every scheme: say it once.
      if (notes.empty() || r.unmodelled != notes) {
        notes = r.unmodelled;
        if (!notes.empty())
          std::printf("  replay notes (%s): %s\n", schemes.size() > 1 && &scheme == &schemes.front()
                                                      ? "every scheme" : scheme.c_str(),
                      NotesLine(notes, r.examples).c_str());
      }
    }
    if (!o->json.empty() && !WriteFileAtomic(o->json, out.dump(2) + "\n", &error)) {
      std::fprintf(stderr, "rmaplab replay: %s\n", error.c_str());
      return 2;
    }
    return failed ? 1 : 0;
  };
}

}  // namespace rmaplab::cli
