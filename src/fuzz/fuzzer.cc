#include "fuzz/fuzzer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include "native/executor.h"
#include "native/procfs.h"
#include "rmap/registry.h"
#include "rmaplab/observation.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace rmaplab::fuzz {
namespace {

std::optional<Scenario> Parse(const std::vector<std::string>& lines, std::string* error) {
  ScriptError err;
  auto sc = ParseScenario("fuzz.rmap", ScenarioText(lines, ""), &err);
  if (!sc && error) *error = err.str();
  return sc;
}

// A crash of the model inside a worker leaves the scenario that caused it on disk: the
// handler (async-signal-safe: open/write) writes the worker's current scenario.
thread_local const std::string* tl_current = nullptr;
thread_local char tl_crash_path[512] = {0};

void OnCrash(int sig) {
  if (tl_current && tl_crash_path[0]) {
    int fd = open(tl_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ssize_t ignored = write(fd, tl_current->data(), tl_current->size());
      (void)ignored;
      close(fd);
    }
    const char msg[] = "rmaplab fuzz: the model crashed; its scenario was written to ";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    ignored = write(2, tl_crash_path, strlen(tl_crash_path));
    ignored = write(2, "\n", 1);
    (void)ignored;
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

std::optional<Failure> CheckAgainstOracle(const std::vector<std::string>& lines,
                                          const std::string& scheme) {
  std::string error;
  auto sc = Parse(lines, &error);
  if (!sc) return std::nullopt;  // not a scenario: cannot fail (shrinking made it invalid)
  SimOptions opt;
  opt.scheme = scheme;
  opt.check_each_statement = true;
  SimResult r;
  try {
    if (!RunSim(*sc, opt, &r, &error)) return Failure{"crash", error};
  } catch (const std::exception& e) {
    return Failure{"crash", std::string("exception: ") + e.what()};
  }
  std::string first = r.oracle.messages.empty() ? "" : r.oracle.messages.front();
  if (r.oracle.misses) return Failure{"miss", first};
  if (r.oracle.invariant_failures) return Failure{"invariant", first};
  return std::nullopt;
}

std::optional<Failure> CheckAgainstNative(const std::vector<std::string>& lines,
                                          double timeout_seconds) {
  std::string error;
  auto sc = Parse(lines, &error);
  if (!sc) return std::nullopt;
  native::NativeOptions nopt;
  nopt.timeout_seconds = timeout_seconds;
  native::NativeResult nat = native::RunNative(*sc, nopt);
  if (nat.status != native::NativeStatus::kOk) return Failure{"native", nat.error};
  SimOptions opt;
  opt.zero_page = native::KernelHasZeroPage();  // the model follows the running kernel
  SimResult sim;
  try {
    if (!RunSim(*sc, opt, &sim, &error)) return Failure{"crash", error};
  } catch (const std::exception& e) {
    return Failure{"crash", std::string("exception: ") + e.what()};
  }
  auto diff = FirstDifference(nat.observation, sim.observation, "native", "sim:linux");
  if (diff) return Failure{"difference", *diff};
  return std::nullopt;
}

std::vector<std::string> Shrink(std::vector<std::string> lines,
                                const std::function<bool(const std::vector<std::string>&)>& fails,
                                int budget) {
  int calls = 0;
  auto attempt = [&](const std::vector<std::string>& cand) {
    if (calls >= budget) return false;
    ++calls;
    return fails(cand);
  };
  // Both passes until neither shrinks any more (dropping a word can free a statement).
  for (std::vector<std::string> before; before != lines && calls < budget;) {
  before = lines;
  // 1. Remove chunks of statements, halving the chunk size when nothing more goes.
  for (size_t chunk = std::max<size_t>(1, lines.size() / 2); chunk >= 1 && calls < budget;) {
    bool progress = false;
    for (size_t i = 0; i < lines.size() && calls < budget;) {
      std::vector<std::string> cand(lines.begin(), lines.begin() + i);
      cand.insert(cand.end(), lines.begin() + std::min(lines.size(), i + chunk), lines.end());
      if (cand.size() < lines.size() && attempt(cand)) {
        lines = std::move(cand);
        progress = true;
      } else {
        i += chunk;
      }
    }
    if (!progress) {
      if (chunk == 1) break;
      chunk /= 2;
    }
  }
  // 2. Drop optional words and shorten touches: "populate", "noreserve", "fixed",
  //    "shared", "dontunmap", "file F@N", and a read/write length down to 1.
  for (size_t i = 0; i < lines.size() && calls < budget; ++i) {
    std::vector<std::string> words;
    for (size_t p = 0; p < lines[i].size();) {
      size_t q = lines[i].find(' ', p);
      if (q == std::string::npos) q = lines[i].size();
      words.push_back(lines[i].substr(p, q - p));
      p = q + 1;
    }
    auto join = [](const std::vector<std::string>& w) {
      std::string s;
      for (const auto& x : w) s += (s.empty() ? "" : " ") + x;
      return s;
    };
    for (size_t w = 2; w < words.size() && calls < budget;) {
      static const char* kOptional[] = {"populate", "noreserve", "fixed", "shared", "dontunmap"};
      size_t drop = 0;
      for (const char* o : kOptional) drop |= words[w] == o;
      if (words[w] == "file" && w + 1 < words.size()) drop = 2;
      if (!drop) { ++w; continue; }
      std::vector<std::string> shorter = words;
      shorter.erase(shorter.begin() + w, shorter.begin() + w + drop);
      auto cand = lines;
      cand[i] = join(shorter);
      if (attempt(cand)) {
        lines = std::move(cand);
        words = std::move(shorter);
      } else {
        w += drop;
      }
    }
    if (words.size() == 4 && (words[1] == "read" || words[1] == "write") && words[3] != "1") {
      auto cand = lines;
      cand[i] = words[0] + " " + words[1] + " " + words[2];
      if (attempt(cand)) lines = std::move(cand);
    }
  }
  }
  return lines;
}

FuzzResult Fuzz(const FuzzOptions& o) {
  FuzzResult res;
  for (const auto& s : o.schemes)
    if (!CreateScheme(s)) {
      res.error = "unknown scheme " + s;
      return res;
    }
  if (o.against == Against::kNative) {
    std::string why;
    if (!native::NativeAvailable(&why)) {
      res.error = "cannot run natively here: " + why;
      return res;
    }
  }
  if (!o.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir, ec);
    if (ec) {
      res.error = "cannot create " + o.out_dir + ": " + ec.message();
      return res;
    }
  }
  int64_t limit = o.iterations > 0 ? o.iterations : (o.seconds > 0 ? INT64_MAX : 1000);
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::atomic<int64_t> next{0}, done{0}, statements{0};
  std::atomic<bool> stop{false};
  std::mutex mu;

  struct sigaction sa{}, old_segv{}, old_abrt{}, old_fpe{}, old_bus{};
  if (!o.out_dir.empty()) {
    sa.sa_handler = OnCrash;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGABRT, &sa, &old_abrt);
    sigaction(SIGFPE, &sa, &old_fpe);
    sigaction(SIGBUS, &sa, &old_bus);
  }

  auto check = [&](const std::vector<std::string>& lines, const std::string& scheme) {
    return o.against == Against::kOracle ? CheckAgainstOracle(lines, scheme)
                                         : CheckAgainstNative(lines, o.native_timeout);
  };
  auto worker = [&] {
    for (int64_t i; !stop && (i = next++) < limit;) {
      if (o.seconds > 0 && elapsed() > o.seconds) break;
      uint64_t seed = o.seed + static_cast<uint64_t>(i);
      std::vector<std::string> lines = Generate(seed, o.gen);
      std::string text = ScenarioText(lines, "");
      tl_current = &text;
      if (!o.out_dir.empty())
        snprintf(tl_crash_path, sizeof tl_crash_path, "%s/crash-seed%llu.rmap", o.out_dir.c_str(),
                 static_cast<unsigned long long>(seed));
      const std::vector<std::string> schemes =
          o.against == Against::kNative ? std::vector<std::string>{"linux"} : o.schemes;
      for (const auto& scheme : schemes) {
        auto failure = check(lines, scheme);
        if (!failure) continue;
        Finding f;
        f.scheme = scheme;
        f.seed = seed;
        f.failure = *failure;
        f.original = lines;
        f.shrunk = Shrink(
            lines,
            [&](const std::vector<std::string>& cand) {
              auto again = check(cand, scheme);
              return again && again->kind == failure->kind;
            },
            o.against == Against::kOracle ? 4000 : 400);
        if (auto again = check(f.shrunk, scheme)) f.failure = *again;
        if (o.against == Against::kOracle && scheme != "linux" && f.failure.kind == "miss" &&
            !CreateScheme(scheme)->KnownFlaws().empty() && !CheckAgainstOracle(f.shrunk, "linux"))
          f.design_flaw = true;
        if (!o.out_dir.empty()) {
          const char* against = o.against == Against::kOracle ? "oracle" : "native";
          f.path = fmt::format("{}/{}-{}-seed{}.rmap", o.out_dir, scheme, against, seed);
          std::string header = fmt::format(
              "rmaplab fuzz finding: scheme {}, against {}, seed {}\n"
              "reproduce: rmaplab fuzz --scheme {} --against {} --seed {} --iterations 1\n"
              "{}{}: {}\nshrunk from {} to {} lines",
              scheme, against, seed, scheme, against, seed,
              f.design_flaw ? "a documented design flaw of the scheme (linux passes); " : "",
              f.failure.kind, f.failure.message, f.original.size(), f.shrunk.size());
          std::string error;
          WriteFileAtomic(f.path, ScenarioText(f.shrunk, header), &error);
        }
        std::lock_guard<std::mutex> lock(mu);
        res.findings.push_back(std::move(f));
        if (static_cast<int>(res.findings.size()) >= o.max_findings) stop = true;
      }
      tl_current = nullptr;
      statements += static_cast<int64_t>(lines.size());
      ++done;
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < std::max(1, o.jobs); ++j) pool.emplace_back(worker);
  auto snapshot = [&] {
    FuzzProgress p;
    p.iterations = done;
    p.statements = statements;
    p.seconds = elapsed();
    std::lock_guard<std::mutex> lock(mu);
    p.findings = static_cast<int64_t>(res.findings.size());
    return p;
  };
  if (o.progress) {
    while (done + 0 < limit && !stop && !(o.seconds > 0 && elapsed() > o.seconds)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      o.progress(snapshot());
    }
  }
  for (auto& t : pool) t.join();
  if (!o.out_dir.empty()) {
    sigaction(SIGSEGV, &old_segv, nullptr);
    sigaction(SIGABRT, &old_abrt, nullptr);
    sigaction(SIGFPE, &old_fpe, nullptr);
    sigaction(SIGBUS, &old_bus, nullptr);
  }
  res.totals = snapshot();
  std::sort(res.findings.begin(), res.findings.end(),
            [](const Finding& a, const Finding& b) { return a.seed < b.seed; });
  return res;
}

}  // namespace rmaplab::fuzz
