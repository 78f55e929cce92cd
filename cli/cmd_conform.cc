#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <sys/utsname.h>

#include "commands.h"
#include "native/executor.h"
#include "native/procfs.h"
#include "rmaplab/observation.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::cli {

namespace fs = std::filesystem;

namespace {
std::string KernelRelease() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}
}  // namespace

Runner AddConform(CLI::App& app) {
  struct Opts {
    std::vector<std::string> inputs;
    std::string scheme = "linux", save, json;
    int jobs = 1;
    double timeout = 60;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("FILE_OR_DIR", o->inputs, "Scenario files or folders of *.rmap")->required();
  app.add_option("--scheme", o->scheme, "The model's rmap scheme");
  app.add_option("--jobs,-j", o->jobs, "Scenarios run in parallel")->check(CLI::Range(1, 64));
  app.add_option("--save", o->save, "Keep both observations of each differing scenario here");
  app.add_option("--timeout", o->timeout, "Wall-clock limit per native run (s)");
  app.add_option("--json", o->json, "Also write the results here (for rmaplab report)");
  app.footer("Exit status: 0 all equal, 1 some differ or failed, 2 bad input.");
  return [o] {
    bool ok = true;
    auto files = CollectScenarios(o->inputs, &ok);
    if (!ok) return 2;
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
    std::string why;
    if (!native::NativeAvailable(&why)) {
      std::fprintf(stderr, "rmaplab conform: cannot run natively here: %s\n", why.c_str());
      return 1;
    }
    // The model follows the running kernel's zero-page behaviour (docs/zero-page.md).
    const bool zero_page = native::KernelHasZeroPage();
    if (!zero_page)
      std::printf("note: this kernel maps no zero page on read faults; the model follows it\n");
    std::vector<std::string> lines(scenarios.size());
    std::vector<char> equal(scenarios.size(), 0);
    std::atomic<size_t> next{0};
    std::mutex print_mu;
    size_t finished = 0;
    auto work = [&] {
      for (size_t i; (i = next++) < scenarios.size();) {
        const Scenario& sc = scenarios[i];
        std::string name = fs::path(sc.path).filename().string();
        native::NativeOptions nopt;
        nopt.timeout_seconds = o->timeout;
        native::NativeResult nat = native::RunNative(sc, nopt);
        SimOptions sopt;
        sopt.scheme = o->scheme;
        sopt.zero_page = zero_page;
        SimResult sim;
        std::string error;
        std::string line;
        if (nat.status != native::NativeStatus::kOk) {
          line = fmt::format("{}: native run failed: {}", name, nat.error);
        } else if (!RunSim(sc, sopt, &sim, &error)) {
          line = fmt::format("{}: {}", name, error);
        } else {
          auto diff = FirstDifference(nat.observation, sim.observation, "native",
                                      "sim:" + o->scheme);
          if (!diff) {
            equal[i] = 1;
            line = fmt::format("{}: equal{}", name,
                               nat.no_kernel.empty() ? "" : " (kernel counts not compared: " + nat.no_kernel + ")");
          } else {
            line = fmt::format("{}: {}", name, *diff);
            if (!o->save.empty()) {
              fs::create_directories(o->save);
              std::string base = (fs::path(o->save) / fs::path(sc.path).stem()).string();
              WriteFileAtomic(base + ".native.json", ObservationToJson(nat.observation), &error);
              WriteFileAtomic(base + ".sim.json", ObservationToJson(sim.observation), &error);
            }
          }
        }
        std::lock_guard<std::mutex> lock(print_mu);
        lines[i] = line;
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        ProgressBar("conform", ++finished, scenarios.size());
      }
    };
    std::vector<std::thread> pool;
    for (int j = 0; j < o->jobs; ++j) pool.emplace_back(work);
    for (auto& t : pool) t.join();
    size_t n_equal = 0;
    for (char e : equal) n_equal += e;
    std::printf("conformance: %zu/%zu scenarios equal\n", n_equal, scenarios.size());
    if (!o->json.empty()) {
      nlohmann::json rows = nlohmann::json::array();
      for (size_t i = 0; i < scenarios.size(); ++i)
        rows.push_back({{"scenario", fs::path(scenarios[i].path).filename().string()},
                        {"equal", equal[i] != 0},
                        {"result", lines[i]}});
      nlohmann::json out = {{"conform", {{"scheme", o->scheme},
                                         {"kernel", KernelRelease()},
                                         {"zero_page", zero_page},
                                         {"equal", n_equal},
                                         {"total", scenarios.size()},
                                         {"scenarios", rows}}}};
      std::string error;
      if (!WriteFileAtomic(o->json, out.dump(2) + "\n", &error)) {
        std::fprintf(stderr, "rmaplab conform: %s\n", error.c_str());
        return 1;
      }
    }
    return n_equal == scenarios.size() ? 0 : 1;
  };
}

}  // namespace rmaplab::cli
