// Record and replay round trips on small programs: the linux model must predict exactly
// the anon_vma / anon_vma_chain allocations the kernel made. Bad traces are refused.
#include <gtest/gtest.h>
#include <unistd.h>

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
                                           "brk_fork"));

std::string WriteRaw(const std::string& name, const std::string& bytes) {
  std::string path = "/tmp/rmaplab-badtrace-" + name + "-" + std::to_string(getpid());
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
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
  for (auto p : {garbage, good, truncated}) unlink(p.c_str());
}

}  // namespace
}  // namespace rmaplab::trace
