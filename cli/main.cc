// rmaplab: one binary, perf-style subcommands.
#include <CLI/CLI.hpp>

#include <malloc.h>

#include <cstdio>
#include <map>

#include "commands.h"

int main(int argc, char** argv) {
  // The model allocates and frees large arrays (folios, page-table leaves, observations)
  // over and over; glibc would hand each back to the kernel and fault it in again
  // (measured: most of a large sim's time). Keep freed memory in the process instead.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  CLI::App app{"rmaplab: a laboratory for Linux anonymous-memory reverse mapping"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  std::map<CLI::App*, rmaplab::cli::Runner> runners;
  auto add = [&](const char* name, const char* what,
                 rmaplab::cli::Runner (*fn)(CLI::App&)) {
    CLI::App* sub = app.add_subcommand(name, what);
    runners[sub] = fn(*sub);
  };
  add("sim", "Run a scenario in the model and print its observation (JSON)", rmaplab::cli::AddSim);
  add("check", "Check schemes' rmap walks against the oracle after every statement",
      rmaplab::cli::AddCheck);
  add("diff", "Compare two observations under the spec's equality rule", rmaplab::cli::AddDiff);
  add("schemes", "List the rmap schemes", rmaplab::cli::AddSchemes);
  add("compare", "Run scenarios under several schemes and compare their costs side by side",
      rmaplab::cli::AddCompare);
  add("record", "Run a command and record what it does to its memory (a trace)",
      rmaplab::cli::AddRecord);
  add("replay", "Replay a recorded trace in the model under one or more schemes",
      rmaplab::cli::AddReplay);
  add("fuzz", "Generate random scenarios, check them (oracle or kernel), shrink failures",
      rmaplab::cli::AddFuzz);
  add("graph", "Draw the rmap state at an observation point (DOT, or SVG with Graphviz)",
      rmaplab::cli::AddGraph);
  add("report", "Write one self-contained HTML report from compare/replay/conform results",
      rmaplab::cli::AddReport);
  add("bench", "Measure the model's speed on named workloads and traces, and against the kernel",
      rmaplab::cli::AddBench);
  add("native", "Run a scenario on the running kernel and print its observation (JSON)",
      rmaplab::cli::AddNative);
  add("conform", "Run scenarios natively and in the model and compare them",
      rmaplab::cli::AddConform);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  for (auto& [sub, run] : runners)
    if (sub->parsed()) return run();
  return 2;
}
