#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "native/executor.h"
#include "native/procfs.h"
#include "rmaplab/observation.h"
#include "rmaplab/scenario.h"

namespace rmaplab::cli {

namespace fs = std::filesystem;

namespace {

// Runs one scenario natively; prints why the kernel counts are absent, if they are.
int RunOne(const std::string& path, const native::NativeOptions& opt, Observation* out) {
  ScriptError err;
  auto sc = ParseScenarioFile(path, &err);
  if (!sc) {
    std::fprintf(stderr, "%s\n", err.str().c_str());
    return 2;
  }
  native::NativeResult res = native::RunNative(*sc, opt);
  if (res.status != native::NativeStatus::kOk) {
    std::fprintf(stderr, "rmaplab native: %s: %s%s\n", path.c_str(),
                 res.status == native::NativeStatus::kTimeout ? "timeout: " : "",
                 res.error.c_str());
    return 1;
  }
  if (!res.notes.empty())
    std::fprintf(stderr, "rmaplab native: %s: note: %s\n", path.c_str(), res.notes.c_str());
  if (!res.no_kernel.empty())
    std::fprintf(stderr, "rmaplab native: %s: kernel object counts absent: %s\n", path.c_str(),
                 res.no_kernel.c_str());
  *out = std::move(res.observation);
  return 0;
}

}  // namespace

Runner AddNative(CLI::App& app) {
  struct Opts {
    std::string file, out, truth_dir;
    native::NativeOptions native;
    bool no_trace = false, allow_no_zero_page = false;
    uint64_t memory_mib = 8192;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("FILE", o->file, "Scenario file (.rmap)");
  app.add_option("-o,--output", o->out, "Write the observation here instead of stdout");
  app.add_option("--record-truth", o->truth_dir,
                 "Run every DIR/*.rmap and (re)write DIR/NAME.native.json (re-baselining)");
  app.add_option("--timeout", o->native.timeout_seconds, "Wall-clock limit per scenario (s)");
  app.add_flag("--allow-no-zero-page", o->allow_no_zero_page,
               "Record truth even on a kernel without a zero page");
  app.add_flag("--no-trace", o->no_trace, "Do not count kernel objects (no tracefs)");
  app.add_flag("-v,--verbose", o->native.verbose, "Report pids, tracing instance, cgroup");
  app.add_option("--memory-limit-mib", o->memory_mib, "Resident memory limit of the run (MiB)");
  app.add_option("--inject-crash", o->native.inject_crash_line,
                 "Testing: the process acting on this line crashes")->group("");
  app.add_option("--inject-hang", o->native.inject_hang_line,
                 "Testing: the process acting on this line hangs")->group("");
  app.footer("Needs root (/proc/kpagecount, pagemap PFNs, tracefs). Exit status: 0 ok, "
             "1 the run failed (not possible here, crash, timeout), 2 bad input.");
  return [o] {
    o->native.trace = !o->no_trace;
    o->native.memory_limit = o->memory_mib << 20;
    std::string why;
    if (!native::NativeAvailable(&why)) {
      std::fprintf(stderr, "rmaplab native: cannot run natively here: %s\n", why.c_str());
      return 1;
    }
    // Observations differ where a read fault would map the zero page: say so (tests and
    // people comparing with recorded observations need to know). docs/zero-page.md.
    const bool zero_page = native::KernelHasZeroPage();
    if (!zero_page)
      std::fprintf(stderr, "rmaplab native: note: this kernel maps no zero page on read faults\n");
    if (!o->truth_dir.empty()) {
      if (!zero_page && !o->allow_no_zero_page) {
        std::fprintf(stderr, "rmaplab native: refusing to record truth on a kernel without a "
                             "zero page (the spec's observations assume one); "
                             "--allow-no-zero-page overrides\n");
        return 2;
      }
      bool ok = true;
      auto files = CollectScenarios({o->truth_dir}, &ok);
      if (!ok) return 2;
      int status = 0;
      for (const auto& f : files) {
        Observation obs;
        int rc = RunOne(f, o->native, &obs);
        if (rc) {
          status = std::max(status, rc);
          continue;
        }
        fs::path out = fs::path(f).replace_extension(".native.json");
        std::string error;
        if (!WriteFileAtomic(out.string(), ObservationToJson(obs), &error)) {
          std::fprintf(stderr, "rmaplab native: %s\n", error.c_str());
          status = 1;
          continue;
        }
        std::printf("recorded %s\n", out.c_str());
      }
      return status;
    }
    if (o->file.empty()) {
      std::fprintf(stderr, "rmaplab native: give a FILE or --record-truth DIR\n");
      return 2;
    }
    Observation obs;
    if (int rc = RunOne(o->file, o->native, &obs)) return rc;
    std::string json = ObservationToJson(obs), error;
    if (o->out.empty()) {
      std::fputs(json.c_str(), stdout);
      return 0;
    }
    if (!WriteFileAtomic(o->out, json, &error)) {
      std::fprintf(stderr, "rmaplab native: %s\n", error.c_str());
      return 1;
    }
    return 0;
  };
}

}  // namespace rmaplab::cli
