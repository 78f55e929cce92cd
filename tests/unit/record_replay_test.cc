// Record and replay round trips on small programs: the linux model must predict exactly
// the anon_vma / anon_vma_chain allocations the kernel made. Bad traces are refused.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "native/executor.h"
#include "trace/recorder.h"
#include "trace/replay.h"
#include "trace/trace.h"

namespace rmaplab::trace {
namespace {

const std::string kBin = RMAPLAB_BINARY_DIR;

class RecordReplay : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string why;
    if (!native::NativeAvailable(&why)) GTEST_SKIP() << "recording unavailable: " << why;
  }
};

TEST_P(RecordReplay, LinuxPredictsTheKernelsAllocations) {
  RecordOptions opt;
  opt.command = {kBin + "/test-" + GetParam()};
  RecordResult rec = Record(opt);
  ASSERT_TRUE(rec.ok) << rec.error;
  ASSERT_EQ(rec.exit_status, 0);
  ASSERT_TRUE(rec.trace.faithful());
  // Through the file format, as a user would.
  std::string path = "/tmp/rmaplab-test-" + GetParam() + "-" + std::to_string(getpid()) + ".trace";
  std::string error;
  ASSERT_TRUE(WriteTrace(rec.trace, path, &error)) << error;
  auto t = ReadTrace(path, &error);
  unlink(path.c_str());
  ASSERT_TRUE(t) << error;
  ASSERT_EQ(t->events.size(), rec.trace.events.size());
  ReplayOptions ropt;
  ropt.reclaim_every = 50;
  ReplayResult r = Replay(*t, ropt);
  EXPECT_GT(r.recorded_av_allocs, 0);
  EXPECT_EQ(r.predicted_av_allocs, r.recorded_av_allocs);
  EXPECT_EQ(r.predicted_avc_allocs, r.recorded_avc_allocs);
  EXPECT_EQ(r.reclaim.misses, 0);
  EXPECT_GT(r.reclaim.walks, 0);
  // Every recorded fault and system call was replayed as the kernel ran it.
  for (const auto& [why, n] : r.unmodelled) {
    EXPECT_EQ(why.find("refuses"), std::string::npos) << n << " x " << why;
    EXPECT_EQ(why.find("model:"), std::string::npos) << n << " x " << why;
  }
}

INSTANTIATE_TEST_SUITE_P(Programs, RecordReplay,
                         ::testing::Values("fork_chain", "mremap_grow", "mprotect_churn", "fork_exec",
                                           "brk_fork", "map_flags"));

std::string Zstd(const std::string& text) {
  std::string z(ZSTD_compressBound(text.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), text.data(), text.size(), 3));
  return z;
}

std::string WriteRaw(const std::string& name, const std::string& bytes) {
  std::string path = "/tmp/rmaplab-badtrace-" + name + "-" + std::to_string(getpid());
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A trace of one program: an anonymous rw VMA and the [vdso], a read fault on each.
Trace VdsoAndAnonReads(bool zero_page) {
  Trace t;
  t.zero_page = zero_page;
  t.root_pid = 100;
  ExecLayout l;
  l.pid = 100;
  l.program = "/bin/prog";
  l.start_brk = l.brk = 0x600000;
  l.vmas.push_back({0x500000, 0x502000, "rw-p", 0, -1, "", false});
  l.vmas.push_back({0x7f0000000000, 0x7f0000002000, "r-xp", 0, -1, "[vdso]", false});
  t.layouts.push_back(l);
  Event exec;
  exec.pid = 100;
  exec.kind = EventKind::kExec;
  t.events.push_back(exec);
  for (uint64_t addr : {0x7f0000000020ULL, 0x500010ULL}) {
    Event f;
    f.pid = 100;
    f.kind = EventKind::kFault;
    f.addr = addr;
    t.events.push_back(f);
  }
  return t;
}

// Regression (found on a pvm_no_zero_page=1 kernel by the RecordReplay tests): a read of
// the [vdso] is a special mapping's fault, never an anon_vma, with or without a zero page.
TEST(Replay, ReadFaultsFollowTheRecordingKernelsZeroPage) {
  ReplayOptions opt;
  ReplayResult with = Replay(VdsoAndAnonReads(true), opt);
  EXPECT_EQ(with.predicted_av_allocs, 0);  // the anon read maps the zero page
  ReplayResult without = Replay(VdsoAndAnonReads(false), opt);
  EXPECT_EQ(without.predicted_av_allocs, 1);  // only the anonymous VMA's read
  EXPECT_EQ(without.predicted_avc_allocs, 1);
  EXPECT_TRUE(without.unmodelled.empty());
}

TEST(TraceFile, BadTracesAreRefusedWithAReason) {
  std::string error;
  EXPECT_FALSE(ReadTrace("/nonexistent/trace", &error));
  EXPECT_NE(error.find("cannot open"), std::string::npos);
  auto garbage = WriteRaw("garbage", "this is not zstd");
  EXPECT_FALSE(ReadTrace(garbage, &error));
  EXPECT_NE(error.find("zstd"), std::string::npos) << error;
  // A valid trace, then truncated and with a wrong version.
  Trace t;
  t.command = {"true"};
  Event e;
  e.kind = EventKind::kFault;
  e.addr = 0x1000;
  t.events.push_back(e);
  std::string good = "/tmp/rmaplab-goodtrace-" + std::to_string(getpid());
  ASSERT_TRUE(WriteTrace(t, good, &error)) << error;
  auto back = ReadTrace(good, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->command, t.command);
  std::ifstream in(good, std::ios::binary);
  std::string z((std::istreambuf_iterator<char>(in)), {});
  auto truncated = WriteRaw("truncated", z.substr(0, z.size() / 2));
  EXPECT_FALSE(ReadTrace(truncated, &error));
  EXPECT_FALSE(error.empty());
  auto wrong = WriteRaw("wrong-version", Zstd("rmaplab-trace 99\nevents\nend\n"));
  EXPECT_FALSE(ReadTrace(wrong, &error));
  EXPECT_NE(error.find("version"), std::string::npos) << error;
  for (auto p : {garbage, good, truncated, wrong}) unlink(p.c_str());
}

// Version 1 (absolute nanoseconds) still reads; version 2 keeps times to the microsecond.
TEST(TraceFile, TimesOfBothVersions) {
  std::string v1 = WriteRaw("v1", Zstd("rmaplab-trace 1\ncommand \"true\"\nevents\n"
                                       "t 5000123 7 u 1000 1\nk 5009999 7 a v\nend\n"));
  std::string error;
  auto t = ReadTrace(v1, &error);
  unlink(v1.c_str());
  ASSERT_TRUE(t) << error;
  ASSERT_EQ(t->events.size(), 2u);
  EXPECT_EQ(t->events[0].ts, 5000123u);
  EXPECT_EQ(t->events[1].ts, 5009999u);
  EXPECT_TRUE(t->events[1].alloc && t->events[1].anon_vma);

  Trace w;
  for (uint64_t ts : {1'000'000'123ull, 1'000'004'999ull, 1'000'004'999ull, 2'500'000'000ull}) {
    Event e;
    e.ts = ts;
    e.kind = EventKind::kFault;
    w.events.push_back(e);
  }
  std::string path = "/tmp/rmaplab-v2trace-" + std::to_string(getpid());
  ASSERT_TRUE(WriteTrace(w, path, &error)) << error;
  auto back = ReadTrace(path, &error);
  unlink(path.c_str());
  ASSERT_TRUE(back) << error;
  ASSERT_EQ(back->events.size(), w.events.size());
  for (size_t i = 0; i < w.events.size(); ++i)
    EXPECT_EQ(back->events[i].ts, w.events[i].ts / 1000 * 1000) << i;
}

// Through the binary, as a user meets it: every bad trace exits 2 with the file and the
// reason on stderr, and no --json output is left behind.
TEST(ReplayCli, BadTracesExitTwoWithAReason) {
  Trace t;
  t.command = {"true"};
  Event e;
  e.kind = EventKind::kFault;
  t.events.push_back(e);
  std::string error, good = "/tmp/rmaplab-cli-good-" + std::to_string(getpid());
  ASSERT_TRUE(WriteTrace(t, good, &error)) << error;
  std::ifstream in(good, std::ios::binary);
  std::string z((std::istreambuf_iterator<char>(in)), {});
  struct Case {
    std::string name, bytes, reason;
  };
  std::vector<Case> cases = {
      {"garbage", "not a trace at all", "zstd"},
      {"truncated", z.substr(0, z.size() - 7), "truncated"},
      {"wrong-version", Zstd("rmaplab-trace 3\nevents\nend\n"), "version"},
      {"malformed", Zstd("rmaplab-trace 2\nevents\nt 1 x u zz\nend\n"), "line 3"},
      {"no-end", Zstd("rmaplab-trace 2\nevents\nt 1 7 u 1000 1\n"), "end"},
      {"unknown-layout", Zstd("rmaplab-trace 2\nevents\nx 1 7 4\nend\n"), "layout"},
  };
  for (const auto& c : cases) {
    std::string path = WriteRaw("cli-" + c.name, c.bytes);
    std::string json = path + ".json";
    std::string cmd = kBin + "/rmaplab replay " + path + " --json " + json + " 2>&1 >/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string err;
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, p)) err.append(buf, n);
    int status = pclose(p);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << c.name << ": " << status;
    EXPECT_NE(err.find(path), std::string::npos) << c.name << ": " << err;
    EXPECT_NE(err.find(c.reason), std::string::npos) << c.name << ": " << err;
    EXPECT_NE(access(json.c_str(), F_OK), 0) << c.name << ": a --json file was written";
    unlink(path.c_str());
  }
  unlink(good.c_str());
}

}  // namespace
}  // namespace rmaplab::trace

namespace rmaplab::trace {
namespace {

// The bundled traces (traces/*.rmt, recorded on this machine kind by traces/record.sh):
// replaying each under linux predicts the kernel's own anon_vma / anon_vma_chain
// allocations within 1 %, and every scheme's reclaim walks find every mapping.
std::vector<std::string> BundledTraces() {
  std::vector<std::string> names;
  std::string dir = std::string(RMAPLAB_SOURCE_DIR) + "/traces";
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".rmt") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(BundledTraces, TheFourKindsAreThere) {
  auto names = BundledTraces();
  for (const char* want : {"googletest-build", "python-tests", "shell-heavy", "pgbench-server"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
}

class BundledTrace : public ::testing::TestWithParam<std::string> {};

TEST_P(BundledTrace, LinuxPredictsTheKernelWithinOnePercent) {
  std::string error;
  auto t = ReadTrace(std::string(RMAPLAB_SOURCE_DIR) + "/traces/" + GetParam() + ".rmt", &error);
  ASSERT_TRUE(t) << error;
  ASSERT_TRUE(t->faithful()) << "the trace lost events";
  ReplayOptions opt;
  opt.reclaim_points = 4;
  ReplayResult r = Replay(*t, opt);
  ASSERT_GT(r.recorded_av_allocs, 0);
  ASSERT_GT(r.recorded_avc_allocs, 0);
  double eav = std::abs(double(r.predicted_av_allocs - r.recorded_av_allocs)) / r.recorded_av_allocs;
  double eavc =
      std::abs(double(r.predicted_avc_allocs - r.recorded_avc_allocs)) / r.recorded_avc_allocs;
  std::printf("%s: anon_vma %lld/%lld (error %.4f%%), anon_vma_chain %lld/%lld (error %.4f%%)\n",
              GetParam().c_str(), (long long)r.predicted_av_allocs,
              (long long)r.recorded_av_allocs, eav * 100, (long long)r.predicted_avc_allocs,
              (long long)r.recorded_avc_allocs, eavc * 100);
  EXPECT_LT(eav, 0.01);
  EXPECT_LT(eavc, 0.01);
  EXPECT_EQ(r.reclaim.misses, 0);
  EXPECT_GT(r.reclaim.walks, 0);
}

INSTANTIATE_TEST_SUITE_P(Traces, BundledTrace, ::testing::ValuesIn(BundledTraces()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace rmaplab::trace
