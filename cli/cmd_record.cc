#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "commands.h"
#include "trace/recorder.h"

namespace rmaplab::cli {

Runner AddRecord(CLI::App& app) {
  struct Opts {
    std::string out = "rmaplab.trace";
    std::vector<std::string> command;
    size_t buffer_kb = 32768;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("-o,--output", o->out, "The trace file (zstd-compressed)");
  app.add_option("--buffer-kb", o->buffer_kb, "Ring buffer per CPU (KiB)");
  app.add_option("COMMAND", o->command, "The command to run (after --)")->required();
  app.footer("Needs root (tracefs, pagemap). Exit status: the command's, or 1 if recording "
             "failed, or 3 if the trace lost events (it is written but not faithful).");
  return [o] {
    trace::RecordOptions opt;
    opt.command = o->command;
    opt.buffer_kb_per_cpu = o->buffer_kb;
    trace::RecordResult r = trace::Record(opt);
    if (!r.ok) {
      std::fprintf(stderr, "rmaplab record: %s\n", r.error.c_str());
      return 1;
    }
    std::string error;
    if (r.trace.layouts.empty()) {  // execve never succeeded: nothing of the command ran
      std::fprintf(stderr, "rmaplab record: %s did not start; no trace written\n",
                   o->command.front().c_str());
      return 1;
    }
    if (!trace::WriteTrace(r.trace, o->out, &error)) {
      std::fprintf(stderr, "rmaplab record: %s\n", error.c_str());
      return 1;
    }
    int64_t lost = 0;
    for (auto& [cpu, n] : r.trace.lost_per_cpu) lost += n;
    std::string counts;
    for (auto& [k, n] : r.trace.event_counts) counts += fmt::format(" {} {}", k, n);
    std::fprintf(stderr, "rmaplab record: %s: %zu events (%s ), %zu exec layouts, %zu files%s\n",
                 o->out.c_str(), r.trace.events.size(), counts.c_str(), r.trace.layouts.size(),
                 r.trace.files.size(),
                 lost ? fmt::format("; LOST {} events: not faithful", lost).c_str() : "");
    if (lost) return 3;
    return r.exit_status;
  };
}

}  // namespace rmaplab::cli
