// Bad input everywhere: every subcommand given a missing, garbage, malformed or
// wrong-kind input, or an unwritable output, exits non-zero (2 for bad input) with a
// message on stderr — never a crash, never a hang, never an output file left behind.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

const std::string kBin = std::string(RMAPLAB_BINARY_DIR) + "/rmaplab";
const std::string kSrc = RMAPLAB_SOURCE_DIR;

struct CliRun {
  int status = -1;  // exit code, or 128 + signal
  std::string err;
};

CliRun Exec(const std::string& args) {
  std::string cmd = "timeout 60 " + kBin + " " + args + " 2>&1 >/dev/null";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.err.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

class CliBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/rmaplab-badinput-" + std::to_string(getpid());
    ASSERT_EQ(system(("mkdir -p " + dir_).c_str()), 0);
    std::mt19937 rng(1);
    std::string junk;
    for (int i = 0; i < 4096; ++i) junk += static_cast<char>(rng());
    Write("garbage.bin", junk);
    Write("bad.rmap", "process A\nA mmap 0 4 rw-\nA frobnicate 3\n");
    Write("outside.rmap", "process A\nA mmap 0x10000000 4 rw-\n");
    Write("unaligned.rmap", "process A\nA mmap 0 5K rw-\n");
    Write("good.rmap", "process A\nA mmap 0 4 rw-\nA write 0\n");
    Write("bad.json", "{\"format\": 3}\n");
    Write("notjson.json", "{not json");
    Write("empty.json", "");
  }
  void TearDown() override { [[maybe_unused]] int rc = system(("rm -rf " + dir_).c_str()); }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << content;
  }
  std::string P(const std::string& name) { return dir_ + "/" + name; }
  // The command fails cleanly: exit 1 or 2 (`want` if given), a message, no `out` file.
  void ExpectClean(const std::string& args, int want = 0, const std::string& out = "") {
    CliRun r = Exec(args);
    if (want) EXPECT_EQ(r.status, want) << args << "\n" << r.err;
    EXPECT_TRUE(r.status == 1 || r.status == 2) << args << " exited " << r.status << "\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << args << ": no message";
    if (!out.empty()) EXPECT_NE(access(out.c_str(), F_OK), 0) << args << ": left " << out;
  }
  std::string dir_;
};

TEST_F(CliBadInput, ScenarioCommands) {
  for (const char* cmd : {"sim", "check", "compare", "native", "conform"}) {
    std::string c = cmd;
    ExpectClean(c + " " + P("missing.rmap"), 2);
    ExpectClean(c + " " + P("garbage.bin"), 2);
    ExpectClean(c + " " + P("bad.rmap"), 2);
    ExpectClean(c + " " + P("outside.rmap"), 2);
    ExpectClean(c + " " + P("unaligned.rmap"), 2);
    ExpectClean(c + " " + dir_ + "/garbage.bin " + P("good.rmap"), 2);
  }
  ExpectClean("sim " + P("bad.rmap") + " -o " + P("out.json"), 2, P("out.json"));
  ExpectClean("sim " + P("good.rmap") + " --scheme no-such-scheme", 2);
  ExpectClean("check " + P("good.rmap") + " --scheme no-such-scheme", 2);
  ExpectClean("compare " + P("good.rmap") + " --schemes linux,nope", 2);
}

TEST_F(CliBadInput, UnwritableOutputs) {
  ExpectClean("sim " + P("good.rmap") + " -o /nonexistent-dir/out.json");
  CliRun r = Exec("replay " + kSrc + "/fuzz/corpus/trace/brk_fork.rmt --json /nonexistent-dir/o.json");
  EXPECT_TRUE(r.status == 1 || r.status == 2) << r.status << r.err;
}

TEST_F(CliBadInput, ObservationsAndTraces) {
  ExpectClean("diff " + P("bad.json") + " " + P("bad.json"), 2);
  ExpectClean("diff " + P("notjson.json") + " " + P("bad.json"), 2);
  ExpectClean("diff " + P("empty.json") + " " + P("empty.json"), 2);
  ExpectClean("diff " + P("missing.json") + " " + P("bad.json"), 2);
  ExpectClean("replay " + P("garbage.bin") + " --json " + P("r.json"), 2, P("r.json"));
  ExpectClean("replay " + P("good.rmap"), 2);
  ExpectClean("replay " + P("missing.rmt"), 2);
}

TEST_F(CliBadInput, UsageErrors) {
  ExpectClean("", 2);
  ExpectClean("no-such-command", 2);
  ExpectClean("sim", 2);
  ExpectClean("fuzz --scheme nope", 2);
  ExpectClean("fuzz --statements 0", 2);
  ExpectClean("fuzz --against kernel", 2);
  ExpectClean("fuzz --against native --scheme anonmm", 2);
  ExpectClean("record", 2);
}

TEST_F(CliBadInput, RecordOfACommandThatCannotRun) {
  if (getuid() != 0) GTEST_SKIP() << "record needs root (tracefs, ptrace)";
  ExpectClean("record -o " + P("t.rmt") + " -- /nonexistent-command", 1, P("t.rmt"));
  ExpectClean("record -o /nonexistent-dir/t.rmt -- true", 1);
}

}  // namespace
