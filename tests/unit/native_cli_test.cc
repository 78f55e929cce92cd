// End-to-end tests of the native executor's promises, through the rmaplab binary:
// exact kernel counts net of the executor's own memory, timeouts, crashes, SIGINT, and
// the arena. They need root (pagemap PFNs, kpagecount, tracefs) and skip with the
// reason elsewhere.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "native/executor.h"
#include "rmaplab/observation.h"

namespace rmaplab {
namespace {

const std::string kBin = std::string(RMAPLAB_BINARY_DIR) + "/rmaplab";

struct CliRun {
  int status = -1;  // exit code, or 128 + signal
  std::string out, err;
};

std::string TempDir() {
  char tmpl[] = "/tmp/rmaplab-test-XXXXXX";
  return mkdtemp(tmpl);
}

std::string WriteScenario(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string Slurp(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, n);
  return s;
}

// Runs rmaplab with args; if `interrupt_after_line` is non-empty, sends SIGINT once
// stderr contains it.
CliRun RunRmaplab(std::vector<std::string> args, const std::string& interrupt_after = "") {
  int out[2], err[2];
  EXPECT_EQ(pipe(out), 0);
  EXPECT_EQ(pipe(err), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kBin.c_str()));
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(kBin.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  CliRun r;
  if (!interrupt_after.empty()) {
    char c;
    while (r.err.find(interrupt_after) == std::string::npos && read(err[0], &c, 1) == 1) r.err += c;
    kill(pid, SIGINT);
  }
  std::thread t([&] { r.out = Slurp(out[0]); });
  r.err += Slurp(err[0]);
  t.join();
  int st = 0;
  waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  close(out[0]);
  close(err[0]);
  return r;
}

std::vector<pid_t> ReportedPids(const std::string& err) {
  std::vector<pid_t> pids;
  std::regex re("process \\S+ pid (\\d+)");
  for (std::sregex_iterator it(err.begin(), err.end(), re), end; it != end; ++it)
    pids.push_back(std::stoi((*it)[1]));
  return pids;
}

std::string ReportedPath(const std::string& err, const std::string& what) {
  std::smatch m;
  std::regex re(what + " (\\S+)");
  return std::regex_search(err, m, re) ? m[1].str() : "";
}

// Every reported process is gone (not even a zombie of ours), the tracing instance and
// the cgroup were removed.
void ExpectNothingLeft(const std::string& err) {
  auto pids = ReportedPids(err);
  EXPECT_FALSE(pids.empty()) << err;
  for (int i = 0; i < 100; ++i) {
    bool any = false;
    for (pid_t p : pids) any |= kill(p, 0) == 0;
    if (!any) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (pid_t p : pids) EXPECT_NE(kill(p, 0), 0) << "process " << p << " left behind";
  struct stat st {};
  std::string inst = ReportedPath(err, "tracing instance");
  EXPECT_FALSE(inst.empty()) << err;
  EXPECT_NE(stat(inst.c_str(), &st), 0) << inst << " left behind";
  std::string cg = ReportedPath(err, "cgroup");
  if (!cg.empty()) {
    EXPECT_NE(stat(cg.c_str(), &st), 0) << cg << " left behind";
  }
}

class NativeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!native::NativeAvailable(&why)) GTEST_SKIP() << "native executor unavailable: " << why;
    dir_ = TempDir();
  }
  std::string dir_;
};

Observation Parse(const std::string& json) {
  std::string error;
  auto o = ObservationFromJson(json, &error);
  EXPECT_TRUE(o) << error;
  return o ? *o : Observation{};
}

// The calibration proof: the executor's own memory never shows in the counts.
TEST_F(NativeCli, EmptyScenarioCountsNothing) {
  auto s = WriteScenario(dir_, "empty.rmap", "process A\nprocess B\nA fork C\nC fork D\nobserve\nD exit\n");
  CliRun r = RunRmaplab({"native", s});
  ASSERT_EQ(r.status, 0) << r.err;
  Observation o = Parse(r.out);
  for (const auto& p : o.observations) {
    ASSERT_TRUE(p.kernel) << r.err;
    EXPECT_EQ(p.kernel->at("anon_vma"), (ObsCount{0, 0}));
    EXPECT_EQ(p.kernel->at("anon_vma_chain"), (ObsCount{0, 0}));
  }
}

TEST_F(NativeCli, OneWriteFaultCountsOneOfEach) {
  auto s = WriteScenario(dir_, "one.rmap", "process A\nA mmap 0 4 rw\nA write 1\n");
  CliRun r = RunRmaplab({"native", s});
  ASSERT_EQ(r.status, 0) << r.err;
  Observation o = Parse(r.out);
  ASSERT_TRUE(o.observations.back().kernel);
  EXPECT_EQ(o.observations.back().kernel->at("anon_vma"), (ObsCount{1, 0}));
  EXPECT_EQ(o.observations.back().kernel->at("anon_vma_chain"), (ObsCount{1, 0}));
}

TEST_F(NativeCli, ForksOfTheExecutorCostNothingOutsideTheArena) {
  // Each fork of a faulted VMA costs exactly chain_len + 1 AVCs and one anon_vma: the
  // numbers would be larger if the executor's stack or data were copied too.
  auto s = WriteScenario(dir_, "forks.rmap",
                         "process A\nA mmap 0 4 rw\nA write 0\nA fork B\nB fork C\nC exit\nB exit\n");
  CliRun r = RunRmaplab({"native", s});
  ASSERT_EQ(r.status, 0) << r.err;
  Observation o = Parse(r.out);
  auto k = *o.observations.back().kernel;
  EXPECT_EQ(k.at("anon_vma"), (ObsCount{3, 2}));
  EXPECT_EQ(k.at("anon_vma_chain"), (ObsCount{1 + 2 + 3, 2 + 3}));
}

TEST_F(NativeCli, WithoutTracingTheKernelKeyIsAbsentAndSaysWhy) {
  auto s = WriteScenario(dir_, "nt.rmap", "process A\nA mmap 0 4 rw\nA write 1\n");
  std::string out = dir_ + "/nt.json";
  CliRun r = RunRmaplab({"native", s, "--no-trace", "-o", out});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("kernel object counts absent: tracing disabled"), std::string::npos) << r.err;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  Observation o = Parse(ss.str());
  ASSERT_FALSE(o.observations.empty());
  EXPECT_FALSE(o.observations.back().kernel.has_value());
  // The diff compares everything else and says it did not compare the counts.
  CliRun d = RunRmaplab({"diff", out, out});
  EXPECT_EQ(d.status, 0);
  EXPECT_NE(d.out.find("kernel object counts not compared"), std::string::npos) << d.out;
}

TEST_F(NativeCli, TimeoutKillsEverythingAndCleansUp) {
  auto s = WriteScenario(dir_, "t.rmap", "process A\nA mmap 0 4 rw\nA fork B\nB write 0\n");
  auto t0 = std::chrono::steady_clock::now();
  CliRun r = RunRmaplab({"native", s, "-v", "--inject-hang", "4", "--timeout", "1"});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("timeout"), std::string::npos) << r.err;
  EXPECT_LT(secs, 10);
  ExpectNothingLeft(r.err);
}

TEST_F(NativeCli, CrashIsReportedAndCleanedUp) {
  auto s = WriteScenario(dir_, "c.rmap", "process A\nA mmap 0 4 rw\nA fork B\nB write 0\n");
  std::string out = dir_ + "/out.json";
  CliRun r = RunRmaplab({"native", s, "-v", "--inject-crash", "4", "-o", out});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("process B crashed (SIGSEGV)"), std::string::npos) << r.err;
  struct stat st {};
  EXPECT_NE(stat(out.c_str(), &st), 0) << "no output file on failure";
  ExpectNothingLeft(r.err);
}

TEST_F(NativeCli, SigintCleansUp) {
  auto s = WriteScenario(dir_, "i.rmap", "process A\nA mmap 0 4 rw\nA fork B\nB write 0\n");
  CliRun r = RunRmaplab({"native", s, "-v", "--inject-hang", "4", "--timeout", "60"}, "process B pid");
  EXPECT_EQ(r.status, 128 + SIGINT) << r.err;
  ExpectNothingLeft(r.err);
}

TEST_F(NativeCli, OutOfArenaIsRefusedBeforeAnythingRuns) {
  auto s = WriteScenario(dir_, "o.rmap", "process A\nA mmap 0xfffffff 2 rw fixed\n");
  CliRun r = RunRmaplab({"native", s, "-v"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("outside the arena"), std::string::npos) << r.err;
  EXPECT_TRUE(ReportedPids(r.err).empty());
}

TEST_F(NativeCli, DiffFailsReadablyOnAHandEditedObservation) {
  std::string shared = RMAPLAB_SHARED_DIR;
  std::ifstream in(shared + "/scenarios/fork-cow.native.json");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string edited = std::regex_replace(ss.str(), std::regex("\"mapcount\": 2"), "\"mapcount\": 3",
                                          std::regex_constants::format_first_only);
  std::string path = dir_ + "/edited.json";
  std::ofstream(path) << edited;
  CliRun r = RunRmaplab({"diff", shared + "/scenarios/fork-cow.native.json", path});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("process P, page 0x0: mapcount differs"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace rmaplab
