#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "commands.h"
#include "fuzz/fuzzer.h"

namespace rmaplab::cli {

Runner AddFuzz(CLI::App& app) {
  struct Opts {
    std::string schemes = "linux", against = "oracle", out = "fuzz-findings";
    double seconds = 0;
    int64_t iterations = 0;
    uint64_t seed = 0;
    bool print = false;
    int jobs = 1, statements = 40, max_findings = 5;
    double timeout = 30;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--scheme,--schemes", o->schemes, "A scheme, a comma-separated list, or 'all'")
      ->capture_default_str();
  app.add_option("--against", o->against,
                 "oracle: every walk complete, every invariant true after every statement; "
                 "native: the model's observation equals the running kernel's (root)")
      ->check(CLI::IsMember({"oracle", "native"}))
      ->capture_default_str();
  app.add_option("--seconds", o->seconds, "Run this long");
  app.add_option("--iterations", o->iterations, "Run this many scenarios (default 1000)");
  app.add_option("--seed", o->seed, "Scenario i uses seed + i (default: from the clock)");
  app.add_option("--out", o->out, "Write shrunk failing scenarios here")->capture_default_str();
  app.add_option("--jobs,-j", o->jobs, "Workers")->check(CLI::Range(1, 64));
  app.add_option("--statements", o->statements, "Statements per scenario")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--max-findings", o->max_findings, "Stop after this many findings")
      ->capture_default_str();
  app.add_flag("--print", o->print, "Print the scenario of --seed and exit");
  app.add_option("--timeout", o->timeout, "Wall-clock limit per native run (s)");
  app.footer("Exit status: 0 nothing found (or only documented design flaws), 1 findings, "
             "2 bad usage or setup.");
  return [o, &app] {
    bool ok = true;
    fuzz::FuzzOptions opt;
    opt.schemes = ResolveSchemes(o->schemes, &ok);
    if (!ok) return 2;
    opt.against = o->against == "native" ? fuzz::Against::kNative : fuzz::Against::kOracle;
    if (opt.against == fuzz::Against::kNative && opt.schemes != std::vector<std::string>{"linux"}) {
      std::fprintf(stderr, "rmaplab fuzz: --against native compares the linux model with the "
                           "kernel; other schemes are checked --against oracle\n");
      return 2;
    }
    opt.iterations = o->iterations;
    opt.seconds = o->seconds;
    opt.seed = app.count("--seed") ? o->seed : static_cast<uint64_t>(time(nullptr)) * 1000;
    opt.out_dir = o->out;
    opt.jobs = o->jobs;
    opt.max_findings = o->max_findings;
    opt.native_timeout = o->timeout;
    opt.gen.statements = o->statements;
    if (o->print) {
      std::printf("%s", fuzz::ScenarioText(fuzz::Generate(opt.seed, opt.gen),
                                           fmt::format("rmaplab fuzz --seed {}", opt.seed))
                            .c_str());
      return 0;
    }
    bool tty = isatty(1) && isatty(2);  // a progress bar only for a person watching
    std::printf("fuzzing %s against %s from seed %llu (%d job%s)\n", o->schemes.c_str(),
                o->against.c_str(), static_cast<unsigned long long>(opt.seed), opt.jobs,
                opt.jobs == 1 ? "" : "s");
    std::fflush(stdout);
    double last_line = 0;
    opt.progress = [&](const fuzz::FuzzProgress& p) {
      double rate = p.seconds > 0 ? p.iterations / p.seconds : 0;
      std::string line = fmt::format("{} scenarios ({:.0f}/s, {:.0f} statements/s), {} finding{}, {:.0f} s",
                                     p.iterations, rate, p.seconds > 0 ? p.statements / p.seconds : 0,
                                     p.findings, p.findings == 1 ? "" : "s", p.seconds);
      if (tty) {
        std::fprintf(stderr, "\r%-78s", line.c_str());
      } else if (p.seconds - last_line >= 10) {  // plain lines, every 10 s
        std::fprintf(stderr, "%s\n", line.c_str());
        last_line = p.seconds;
      }
    };
    fuzz::FuzzResult r = fuzz::Fuzz(opt);
    if (tty) std::fprintf(stderr, "\r%78s\r", "");
    if (!r.error.empty()) {
      std::fprintf(stderr, "rmaplab fuzz: %s\n", r.error.c_str());
      return 2;
    }
    int bugs = 0;
    for (const auto& f : r.findings) {
      bugs += !f.design_flaw;
      std::printf("%s %s seed %llu: %s: %s\n  shrunk from %zu to %zu lines%s%s\n",
                  f.design_flaw ? "design flaw" : "FINDING", f.scheme.c_str(),
                  static_cast<unsigned long long>(f.seed), f.failure.kind.c_str(),
                  f.failure.message.c_str(), f.original.size(), f.shrunk.size(),
                  f.path.empty() ? "" : ", written to ", f.path.c_str());
    }
    const auto& t = r.totals;
    std::printf("%lld scenarios, %lld statements in %.1f s (%.0f scenarios/s, %.0f statements/s); "
                "%d finding%s, %zu documented design flaw%s\n",
                (long long)t.iterations, (long long)t.statements, t.seconds,
                t.seconds > 0 ? t.iterations / t.seconds : 0.0,
                t.seconds > 0 ? t.statements / t.seconds : 0.0, bugs, bugs == 1 ? "" : "s",
                r.findings.size() - bugs, r.findings.size() - bugs == 1 ? "" : "s");
    return bugs ? 1 : 0;
  };
}

}  // namespace rmaplab::cli
