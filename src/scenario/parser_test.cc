// Tests of the scenario lexer and parser (../shared/spec/scenario-language.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "rmaplab/scenario.h"
#include "scenario/lexer.h"

namespace rmaplab {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

// Parses `text`, failing the test on a script error.
Scenario Parse(const std::string& text) {
  ScriptError error;
  std::optional<Scenario> s = ParseScenario("t.rmap", text, &error);
  EXPECT_TRUE(s.has_value()) << error.str();
  return s.value_or(Scenario{});
}

// Parses `text`, which must end in a script error; returns it as FILE:LINE:COL: msg.
std::string Error(const std::string& text) {
  ScriptError error;
  std::optional<Scenario> s = ParseScenario("t.rmap", text, &error);
  if (s.has_value()) return "<parsed without error>";
  return error.str();
}

// The only statement of `line`, after `prelude`.
Statement One(const std::string& line, const std::string& prelude = "process A\nfile F 8\n") {
  Scenario s = Parse(prelude + line + "\n");
  if (s.statements.empty()) {
    ADD_FAILURE() << "no statement";
    return {};
  }
  return s.statements.back();
}

constexpr char kPrelude[] = "process A\nfile F 8\n";  // lines 1-2; tests start at line 3

std::string ErrorAfterPrelude(const std::string& line) { return Error(kPrelude + line); }

// ---------------------------------------------------------------- the lexer

TEST(LexerTest, TokenizeSplitsOnSpacesAndTabsAndStopsAtComment) {
  auto tokens = scenario_detail::Tokenize(" A\tmmap  0x10 # comment 5");
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].text, "A");
  EXPECT_EQ(tokens[0].column, 2);
  EXPECT_EQ(tokens[1].text, "mmap");
  EXPECT_EQ(tokens[1].column, 4);
  EXPECT_EQ(tokens[2].text, "0x10");
  EXPECT_EQ(tokens[2].column, 10);
  EXPECT_EQ(tokens[2].end_column(), 14);
}

TEST(LexerTest, CommentInsideTokenEndsIt) {
  auto tokens = scenario_detail::Tokenize("observe lab#el");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[1].text, "lab");
}

TEST(LexerTest, TrailingCarriageReturnIgnored) {
  auto tokens = scenario_detail::Tokenize("process A\r");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[1].text, "A");
}

TEST(LexerTest, Quantities) {
  using scenario_detail::ParseQuantity;
  using scenario_detail::QuantityStatus;
  struct Case {
    const char* text;
    QuantityStatus status;
    uint64_t pages;
  } cases[] = {
      {"0", QuantityStatus::kOk, 0},
      {"42", QuantityStatus::kOk, 42},
      {"007", QuantityStatus::kOk, 7},
      {"0x2a", QuantityStatus::kOk, 42},
      {"0x2A", QuantityStatus::kOk, 42},
      {"4K", QuantityStatus::kOk, 1},
      {"8K", QuantityStatus::kOk, 2},
      {"2M", QuantityStatus::kOk, 512},
      {"1G", QuantityStatus::kOk, 262144},
      {"0x10K", QuantityStatus::kOk, 4},
      {"0K", QuantityStatus::kOk, 0},
      {"18446744073709551615", QuantityStatus::kOk, UINT64_MAX},
      {"0xffffffffffffffff", QuantityStatus::kOk, UINT64_MAX},
      {"18446744073709551616", QuantityStatus::kOverflow, 0},
      {"0x10000000000000000", QuantityStatus::kOverflow, 0},
      {"17179869184G", QuantityStatus::kOverflow, 0},  // 2^34 GiB = 2^64 bytes
      {"5K", QuantityStatus::kNotPageAligned, 0},
      {"1K", QuantityStatus::kNotPageAligned, 0},
      {"", QuantityStatus::kMalformed, 0},
      {"x", QuantityStatus::kMalformed, 0},
      {"0x", QuantityStatus::kMalformed, 0},
      {"0xK", QuantityStatus::kMalformed, 0},
      {"K", QuantityStatus::kMalformed, 0},
      {"0X10", QuantityStatus::kMalformed, 0},
      {"-1", QuantityStatus::kMalformed, 0},
      {"+1", QuantityStatus::kMalformed, 0},
      {"1KK", QuantityStatus::kMalformed, 0},
      {"1k", QuantityStatus::kMalformed, 0},
      {"1T", QuantityStatus::kMalformed, 0},
      {"12a", QuantityStatus::kMalformed, 0},
      {"0xg", QuantityStatus::kMalformed, 0},
      {"99999999999999999999999x", QuantityStatus::kMalformed, 0},
  };
  for (const Case& c : cases) {
    auto q = ParseQuantity(c.text);
    EXPECT_EQ(q.status, c.status) << c.text;
    if (c.status == QuantityStatus::kOk) {
      EXPECT_EQ(q.pages, c.pages) << c.text;
    }
  }
  EXPECT_EQ(ParseQuantity("5K").bytes, 5120u);
}

TEST(LexerTest, Names) {
  using scenario_detail::IsValidName;
  for (const char* ok : {"A", "_", "a1", "child-2", "x.y_z", "Z9-._"}) {
    EXPECT_TRUE(IsValidName(ok)) << ok;
  }
  for (const char* bad : {"", "1A", "-a", ".a", "a@b", "a/b", "é", "a b"}) {
    EXPECT_FALSE(IsValidName(bad)) << bad;
  }
}

TEST(LexerTest, Prots) {
  struct Case {
    const char* text;
    const char* want;  // nullptr: invalid
  } cases[] = {
      {"rw-", "rw-"},   {"r--", "r--"},    {"---", "---"},   {"r-x", "r-x"},    {"-w-", "-w-"},
      {"rwx", "rwx"},   {"--x", "--x"},    {"-wx", "-wx"},   {"rw", "rw-"},     {"r", "r--"},
      {"rx", "r-x"},    {"w", "-w-"},      {"x", "--x"},     {"wx", "-wx"},     {"none", "---"},
      {"", nullptr},    {"wr", nullptr},   {"xr", nullptr},  {"rr", nullptr},   {"rwxr", nullptr},
      {"r-", nullptr},  {"-", nullptr},    {"w--", nullptr}, {"rw--", nullptr}, {"RW", nullptr},
      {"x-r", nullptr}, {"None", nullptr}, {"rwa", nullptr},
  };
  for (const Case& c : cases) {
    Prot p{true, true, true};
    bool ok = scenario_detail::ParseProt(c.text, &p);
    EXPECT_EQ(ok, c.want != nullptr) << c.text;
    if (ok && c.want != nullptr) {
      EXPECT_EQ(p.str(), c.want) << c.text;
    }
  }
}

TEST(LexerTest, QuoteEscapesAndTruncates) {
  using scenario_detail::Quote;
  EXPECT_EQ(Quote("ab"), "'ab'");
  EXPECT_EQ(Quote(std::string("a\0b\xff\\", 5)), "'a\\x00b\\xff\\x5c'");
  EXPECT_EQ(Quote(std::string(100, 'z')), "'" + std::string(40, 'z') + "...'");
}

// ---------------------------------------------------------------- small API

TEST(ScenarioApiTest, ProtStr) {
  EXPECT_EQ((Prot{}).str(), "---");
  EXPECT_EQ((Prot{true, true, false}).str(), "rw-");
  EXPECT_EQ((Prot{true, false, true}).str(), "r-x");
  EXPECT_EQ((Prot{false, true, true}).str(), "-wx");
}

TEST(ScenarioApiTest, ScriptErrorStr) {
  ScriptError e{"dir/x.rmap", {3, 7}, "boom"};
  EXPECT_EQ(e.str(), "dir/x.rmap:3:7: boom");
}

TEST(ScenarioApiTest, Names) {
  EXPECT_STREQ(OpName(OpKind::kProcess), "process");
  EXPECT_STREQ(OpName(OpKind::kFile), "file");
  EXPECT_STREQ(OpName(OpKind::kMmap), "mmap");
  EXPECT_STREQ(OpName(OpKind::kMunmap), "munmap");
  EXPECT_STREQ(OpName(OpKind::kMprotect), "mprotect");
  EXPECT_STREQ(OpName(OpKind::kMremap), "mremap");
  EXPECT_STREQ(OpName(OpKind::kMadvise), "madvise");
  EXPECT_STREQ(OpName(OpKind::kRead), "read");
  EXPECT_STREQ(OpName(OpKind::kWrite), "write");
  EXPECT_STREQ(OpName(OpKind::kFork), "fork");
  EXPECT_STREQ(OpName(OpKind::kExit), "exit");
  EXPECT_STREQ(OpName(OpKind::kRmap), "rmap");
  EXPECT_STREQ(OpName(OpKind::kObserve), "observe");
  EXPECT_STREQ(AdviceName(Advice::kDontneed), "dontneed");
  EXPECT_STREQ(AdviceName(Advice::kNohugepage), "nohugepage");
}

// ---------------------------------------------------------------- statements

TEST(ParserTest, EmptyInput) {
  Scenario s = Parse("");
  EXPECT_TRUE(s.statements.empty());
  EXPECT_EQ(s.last_line, 0);
  EXPECT_EQ(s.path, "t.rmap");
  EXPECT_EQ(Parse("# only a comment\n\n   \t\n").last_line, 0);
}

TEST(ParserTest, PositionsAndLastLine) {
  Scenario s = Parse("# header\n\nprocess A\n  A mmap 0 4 rw   # trailing\n\n# end\n\n");
  ASSERT_EQ(s.statements.size(), 2u);
  EXPECT_EQ(s.statements[0].pos.line, 3);
  EXPECT_EQ(s.statements[0].pos.column, 1);
  EXPECT_EQ(s.statements[1].pos.line, 4);
  EXPECT_EQ(s.statements[1].pos.column, 3);
  EXPECT_EQ(s.last_line, 4);
}

TEST(ParserTest, NoFinalNewlineAndCrlf) {
  Scenario s = Parse("process A\r\nA exit");
  ASSERT_EQ(s.statements.size(), 2u);
  EXPECT_EQ(s.last_line, 2);
}

TEST(ParserTest, Process) {
  Statement st = One("process B");
  EXPECT_EQ(st.kind, OpKind::kProcess);
  EXPECT_EQ(st.process, "B");
  EXPECT_EQ(st.pos.line, 3);
}

TEST(ParserTest, File) {
  Statement st = One("file G 2M");
  EXPECT_EQ(st.kind, OpKind::kFile);
  EXPECT_EQ(st.name, "G");
  EXPECT_EQ(st.len, 512u);
}

TEST(ParserTest, MmapDefaults) {
  Statement st = One("A mmap 0x10 16 rw");
  EXPECT_EQ(st.kind, OpKind::kMmap);
  EXPECT_EQ(st.process, "A");
  EXPECT_EQ(st.addr, 16u);
  EXPECT_EQ(st.len, 16u);
  EXPECT_EQ(st.prot, (Prot{true, true, false}));
  EXPECT_FALSE(st.shared);
  EXPECT_FALSE(st.file_backed);
  EXPECT_FALSE(st.fixed);
  EXPECT_FALSE(st.populate);
  EXPECT_FALSE(st.noreserve);
}

TEST(ParserTest, MmapAllOptions) {
  Statement st = One("A mmap 2M 8K r-x noreserve file F@3 populate shared fixed");
  EXPECT_EQ(st.addr, 512u);
  EXPECT_EQ(st.len, 2u);
  EXPECT_EQ(st.prot, (Prot{true, false, true}));
  EXPECT_TRUE(st.shared);
  EXPECT_TRUE(st.file_backed);
  EXPECT_EQ(st.file, "F");
  EXPECT_EQ(st.pgoff, 3u);
  EXPECT_TRUE(st.fixed);
  EXPECT_TRUE(st.populate);
  EXPECT_TRUE(st.noreserve);
}

TEST(ParserTest, MmapExplicitDefaultsAndFileOffsets) {
  Statement st = One("A mmap 0 1 none private anon");
  EXPECT_FALSE(st.shared);
  EXPECT_FALSE(st.file_backed);
  EXPECT_EQ(st.prot, Prot{});
  st = One("A mmap 0 1 rw file F");
  EXPECT_TRUE(st.file_backed);
  EXPECT_EQ(st.pgoff, 0u);
  st = One("A mmap 0 1 rw file F@8K");
  EXPECT_EQ(st.pgoff, 2u);
  st = One("A mmap 0 1 rw file F@0x10");
  EXPECT_EQ(st.pgoff, 16u);
  st = One("A mmap 0 1 rw shared anon");
  EXPECT_TRUE(st.shared);
  EXPECT_FALSE(st.file_backed);
}

TEST(ParserTest, Munmap) {
  Statement st = One("A munmap 4 0x4");
  EXPECT_EQ(st.kind, OpKind::kMunmap);
  EXPECT_EQ(st.addr, 4u);
  EXPECT_EQ(st.len, 4u);
}

TEST(ParserTest, Mprotect) {
  Statement st = One("A mprotect 4 4 r--");
  EXPECT_EQ(st.kind, OpKind::kMprotect);
  EXPECT_EQ(st.prot, (Prot{true, false, false}));
}

TEST(ParserTest, MremapInPlace) {
  Statement st = One("A mremap 0 8 12");
  EXPECT_EQ(st.kind, OpKind::kMremap);
  EXPECT_EQ(st.addr, 0u);
  EXPECT_EQ(st.len, 8u);
  EXPECT_EQ(st.new_len, 12u);
  EXPECT_FALSE(st.has_new_addr);
  EXPECT_FALSE(st.dontunmap);
}

TEST(ParserTest, MremapMove) {
  Statement st = One("A mremap 0 4 4 to 0x40");
  EXPECT_TRUE(st.has_new_addr);
  EXPECT_EQ(st.new_addr, 0x40u);
  EXPECT_FALSE(st.dontunmap);
  st = One("A mremap 0 4 4 to 0x40 dontunmap");
  EXPECT_TRUE(st.has_new_addr);
  EXPECT_TRUE(st.dontunmap);
}

TEST(ParserTest, MadviseEveryAdvice) {
  for (Advice a : {Advice::kDontneed, Advice::kFree, Advice::kCold, Advice::kPageout,
                   Advice::kDontfork, Advice::kDofork, Advice::kWipeonfork, Advice::kKeeponfork,
                   Advice::kHugepage, Advice::kNohugepage}) {
    Statement st = One(std::string("A madvise 2 4 ") + AdviceName(a));
    EXPECT_EQ(st.kind, OpKind::kMadvise);
    EXPECT_EQ(st.addr, 2u);
    EXPECT_EQ(st.len, 4u);
    EXPECT_EQ(st.advice, a) << AdviceName(a);
  }
}

TEST(ParserTest, ReadWriteDefaultLength) {
  Statement st = One("A read 0x18");
  EXPECT_EQ(st.kind, OpKind::kRead);
  EXPECT_EQ(st.addr, 0x18u);
  EXPECT_EQ(st.len, 1u);
  st = One("A read 0x18 2");
  EXPECT_EQ(st.len, 2u);
  st = One("A write 3");
  EXPECT_EQ(st.kind, OpKind::kWrite);
  EXPECT_EQ(st.len, 1u);
  st = One("A write 3 1M");
  EXPECT_EQ(st.len, 256u);
}

TEST(ParserTest, ForkExitRmap) {
  Scenario s = Parse("process P\nP fork C\nC fork D\nP exit\nC rmap 0x7\nD exit\n");
  ASSERT_EQ(s.statements.size(), 6u);
  EXPECT_EQ(s.statements[1].kind, OpKind::kFork);
  EXPECT_EQ(s.statements[1].process, "P");
  EXPECT_EQ(s.statements[1].name, "C");
  EXPECT_EQ(s.statements[3].kind, OpKind::kExit);
  EXPECT_EQ(s.statements[3].process, "P");
  EXPECT_EQ(s.statements[4].kind, OpKind::kRmap);
  EXPECT_EQ(s.statements[4].addr, 7u);
  EXPECT_EQ(s.last_line, 6);
}

TEST(ParserTest, Observe) {
  Statement st = One("observe");
  EXPECT_EQ(st.kind, OpKind::kObserve);
  EXPECT_FALSE(st.has_label);
  EXPECT_EQ(st.name, "");
  st = One("observe first-write");
  EXPECT_TRUE(st.has_label);
  EXPECT_EQ(st.name, "first-write");
}

TEST(ParserTest, ZeroLengthsAreNotScriptErrors) {
  EXPECT_EQ(One("A mmap 0 0 rw").len, 0u);
  EXPECT_EQ(One("A munmap 0xfffffff 0").len, 0u);
  EXPECT_EQ(One("A madvise 5 0 dontneed").len, 0u);
  EXPECT_EQ(One("A mremap 5 0 0").new_len, 0u);
  EXPECT_EQ(One("A read 5 0").len, 0u);
}

TEST(ParserTest, ArenaEdgesAccepted) {
  EXPECT_EQ(One("A mmap 0 0x10000000 rw").len, kArenaPages);
  EXPECT_EQ(One("A mmap 0xfffffff 1 rw").addr, kArenaPages - 1);
  EXPECT_EQ(One("A mmap 0 1G rw").len, 262144u);
  EXPECT_EQ(One("A rmap 0xfffffff").addr, kArenaPages - 1);
  EXPECT_EQ(One("A mremap 0 1 4 to 0xffffffc").new_addr, kArenaPages - 4);
  EXPECT_EQ(One("A write 0xffffffe 2").len, 2u);
}

TEST(ParserTest, ProcessAndOperationNamesDoNotClash) {
  // Operation words may name processes; only statement keywords are reserved.
  Scenario s = Parse("process mmap\nmmap mmap 0 1 rw\nmmap fork exit\nexit exit\n");
  ASSERT_EQ(s.statements.size(), 4u);
  EXPECT_EQ(s.statements[1].process, "mmap");
  EXPECT_EQ(s.statements[2].name, "exit");
  EXPECT_EQ(s.statements[3].process, "exit");
}

TEST(ParserTest, FilesAndProcessesHaveSeparateNamespaces) {
  Scenario s = Parse("file A 1\nprocess A\nA mmap 0 1 r file A\nobserve A\n");
  EXPECT_EQ(s.statements.size(), 4u);
}

// ---------------------------------------------------------------- script errors

struct ErrorCase {
  const char* text;  // after kPrelude (process A, file F 8): line 3 is the first line
  const char* want;  // the complete error string
};

class ScriptErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ScriptErrorTest, ExactMessage) {
  EXPECT_EQ(ErrorAfterPrelude(GetParam().text), GetParam().want) << GetParam().text;
}

const ErrorCase kErrorCases[] = {
    // Unknown statements.
    {"A mmapp 0 1 rw", "t.rmap:3:3: unknown statement 'mmapp'"},
    {"frobnicate", "t.rmap:3:1: unknown statement 'frobnicate'"},
    {"  Q frob 1", "t.rmap:3:3: unknown statement 'Q'"},
    {"mmap 0 4 rw", "t.rmap:3:1: statement 'mmap' needs a process: write 'P mmap ...'"},
    {"A", "t.rmap:3:2: expected an operation after process 'A'"},
    {"A MMAP 0 1 rw", "t.rmap:3:3: unknown statement 'MMAP'"},
    // Numbers.
    {"A mmap x 4 rw", "t.rmap:3:8: expected a number for ADDR, got 'x'"},
    {"A mmap 0 x rw", "t.rmap:3:10: expected a number for LEN, got 'x'"},
    {"A mmap 0 -1 rw", "t.rmap:3:10: expected a number for LEN, got '-1'"},
    {"A mmap 0 0x rw", "t.rmap:3:10: expected a number for LEN, got '0x'"},
    {"A mmap 0 4k rw", "t.rmap:3:10: expected a number for LEN, got '4k'"},
    {"A mmap 0", "t.rmap:3:9: expected a number for LEN, got end of line"},
    {"A mmap", "t.rmap:3:7: expected a number for ADDR, got end of line"},
    {"A mmap 0 99999999999999999999 rw",
     "t.rmap:3:10: number '99999999999999999999' for LEN is too large"},
    {"A mmap 0 0x1ffffffffffffffffK rw",
     "t.rmap:3:10: number '0x1ffffffffffffffffK' for LEN is too large"},
    {"A mmap 0 17179869184G rw", "t.rmap:3:10: number '17179869184G' for LEN is too large"},
    {"A mmap 0 5K rw", "t.rmap:3:10: byte length 5K (5120 bytes) is not a whole number of pages"},
    {"A mmap 6K 4 rw", "t.rmap:3:8: byte address 6K (6144 bytes) is not a whole number of pages"},
    {"A read 1 2K", "t.rmap:3:10: byte length 2K (2048 bytes) is not a whole number of pages"},
    {"A mremap 0 1 2 to 1K",
     "t.rmap:3:19: byte address 1K (1024 bytes) is not a whole number of pages"},
    {"A mremap 0 1 3K", "t.rmap:3:14: byte length 3K (3072 bytes) is not a whole number of pages"},
    {"A mmap 0 1 rw file F@1K",
     "t.rmap:3:22: byte offset 1K (1024 bytes) is not a whole number of pages"},
    {"file G 6K", "t.rmap:3:8: byte length 6K (6144 bytes) is not a whole number of pages"},
    // Ranges outside the arena.
    {"A mmap 0x10000000 4 rw",
     "t.rmap:3:8: range [0x10000000, 0x10000004) lies outside the arena (2^28 pages)"},
    {"A mmap 0xffffffe 4 rw",
     "t.rmap:3:18: range [0xffffffe, 0x10000002) lies outside the arena (2^28 pages)"},
    {"A mmap 0x10000000 0 rw",
     "t.rmap:3:8: range [0x10000000, 0x10000000) lies outside the arena (2^28 pages)"},
    {"A mmap 1 0xffffffffffffffff rw",
     "t.rmap:3:10: range [0x1, 0x10000000000000000) lies outside the arena (2^28 pages)"},
    {"A munmap 0x10000000 1",
     "t.rmap:3:10: range [0x10000000, 0x10000001) lies outside the arena (2^28 pages)"},
    {"A mprotect 0xfffffff 2 rw",
     "t.rmap:3:22: range [0xfffffff, 0x10000001) lies outside the arena (2^28 pages)"},
    {"A madvise 0 0x10000001 free",
     "t.rmap:3:13: range [0x0, 0x10000001) lies outside the arena (2^28 pages)"},
    {"A read 0x10000000",
     "t.rmap:3:8: range [0x10000000, 0x10000001) lies outside the arena (2^28 pages)"},
    {"A write 0xfffffff 2",
     "t.rmap:3:19: range [0xfffffff, 0x10000001) lies outside the arena (2^28 pages)"},
    {"A rmap 0x10000000",
     "t.rmap:3:8: range [0x10000000, 0x10000001) lies outside the arena (2^28 pages)"},
    {"A mremap 0x10000000 1 1",
     "t.rmap:3:10: range [0x10000000, 0x10000001) lies outside the arena (2^28 pages)"},
    {"A mremap 0xffffff0 0x20 1",
     "t.rmap:3:20: range [0xffffff0, 0x10000010) lies outside the arena (2^28 pages)"},
    {"A mremap 0xffffff0 1 0x20",
     "t.rmap:3:22: range [0xffffff0, 0x10000010) lies outside the arena (2^28 pages)"},
    {"A mremap 0 1 0x20 to 0xffffff0",
     "t.rmap:3:14: range [0xffffff0, 0x10000010) lies outside the arena (2^28 pages)"},
    {"A mremap 0 1 1 to 0x10000000",
     "t.rmap:3:19: range [0x10000000, 0x10000001) lies outside the arena (2^28 pages)"},
    // Processes.
    {"Q mmap 0 1 rw", "t.rmap:3:1: unknown process 'Q'"},
    {"A exit\nA write 0", "t.rmap:4:1: process 'A' used after exit"},
    {"A exit\nA exit", "t.rmap:4:1: process 'A' used after exit"},
    {"A exit\nA fork B", "t.rmap:4:1: process 'A' used after exit"},
    {"A exit\nprocess A", "t.rmap:4:9: process 'A' already exists"},
    {"process A", "t.rmap:3:9: process 'A' already exists"},
    {"A fork A", "t.rmap:3:8: process 'A' already exists"},
    {"A fork B\nB exit\nA fork B", "t.rmap:5:8: process 'B' already exists"},
    {"A fork", "t.rmap:3:7: expected a name for the child process, got end of line"},
    {"A fork 9x", "t.rmap:3:8: invalid process name '9x' (names match [A-Za-z_][A-Za-z0-9_.-]*)"},
    {"process", "t.rmap:3:8: expected a name for the new process, got end of line"},
    {"process a@b",
     "t.rmap:3:9: invalid process name 'a@b' (names match [A-Za-z_][A-Za-z0-9_.-]*)"},
    {"process observe", "t.rmap:3:9: 'observe' is a keyword and cannot name a process"},
    {"A fork file", "t.rmap:3:8: 'file' is a keyword and cannot name a process"},
    // Files.
    {"file F 1", "t.rmap:3:6: file 'F' already exists"},
    {"file G 0", "t.rmap:3:8: a file must be at least 1 page long"},
    {"file G 0x10000001",
     "t.rmap:3:8: file length 0x10000001 pages exceeds the maximum of 2^28 pages"},
    {"file G", "t.rmap:3:7: expected a number for LEN, got end of line"},
    {"file", "t.rmap:3:5: expected a file name, got end of line"},
    {"file 1G 1", "t.rmap:3:6: invalid file name '1G' (names match [A-Za-z_][A-Za-z0-9_.-]*)"},
    {"A mmap 0 1 rw file G", "t.rmap:3:20: unknown file 'G'"},
    {"A mmap 0 1 rw file @1", "t.rmap:3:20: expected a file name before '@'"},
    {"A mmap 0 1 rw file F@", "t.rmap:3:22: expected a number for PGOFF after '@'"},
    {"A mmap 0 1 rw file F@x", "t.rmap:3:22: expected a number for PGOFF, got 'x'"},
    {"A mmap 0 1 rw file F@1@2", "t.rmap:3:22: expected a number for PGOFF, got '1@2'"},
    {"A mmap 0 1 rw file F@0x8000000000000",
     "t.rmap:3:22: PGOFF 0x8000000000000 is too large (its byte offset must fit in off_t)"},
    {"A mmap 0 1 rw file", "t.rmap:3:19: expected a file name after 'file', got end of line"},
    // PROT.
    {"A mmap 0 1", "t.rmap:3:11: expected a protection for PROT, got end of line"},
    {"A mmap 0 1 wr",
     "t.rmap:3:12: invalid protection 'wr' (expected e.g. rw-, r--, ---, rw, r, rx, rwx or "
     "none)"},
    {"A mprotect 0 1 rw-x",
     "t.rmap:3:16: invalid protection 'rw-x' (expected e.g. rw-, r--, ---, rw, r, rx, rwx or "
     "none)"},
    // mmap options.
    {"A mmap 0 1 rw privat", "t.rmap:3:15: unknown mmap option 'privat'"},
    {"A mmap 0 1 rw private shared", "t.rmap:3:23: option 'shared' conflicts with 'private'"},
    {"A mmap 0 1 rw file F anon", "t.rmap:3:22: option 'anon' conflicts with 'file'"},
    {"A mmap 0 1 rw fixed fixed", "t.rmap:3:21: duplicate mmap option 'fixed'"},
    {"A mmap 0 1 rw shared shared", "t.rmap:3:22: duplicate mmap option 'shared'"},
    {"A mmap 0 1 rw anon anon", "t.rmap:3:20: duplicate mmap option 'anon'"},
    {"A mmap 0 1 rw file F file F", "t.rmap:3:22: duplicate mmap option 'file'"},
    {"A mmap 0 1 rw populate populate", "t.rmap:3:24: duplicate mmap option 'populate'"},
    {"A mmap 0 1 rw noreserve noreserve", "t.rmap:3:25: duplicate mmap option 'noreserve'"},
    // mremap.
    {"A mremap 0 1", "t.rmap:3:13: expected a number for NEWLEN, got end of line"},
    {"A mremap 0 1 1 too 4", "t.rmap:3:16: expected 'to NEWADDR' or end of line, got 'too'"},
    {"A mremap 0 1 1 to", "t.rmap:3:18: expected a number for NEWADDR, got end of line"},
    {"A mremap 0 1 1 dontunmap",
     "t.rmap:3:16: 'dontunmap' needs a destination: 'to NEWADDR dontunmap'"},
    {"A mremap 0 1 1 to 4 dontunmap dontunmap",
     "t.rmap:3:31: unexpected extra token 'dontunmap' in mremap statement"},
    // madvise.
    {"A madvise 0 1 dontned",
     "t.rmap:3:15: unknown advice 'dontned' (expected one of dontneed, free, cold, pageout, "
     "dontfork, dofork, wipeonfork, keeponfork, hugepage, nohugepage)"},
    {"A madvise 0 1", "t.rmap:3:14: expected an advice for ADVICE, got end of line"},
    // Extra tokens.
    {"process B C", "t.rmap:3:11: unexpected extra token 'C' in process statement"},
    {"file G 1 2", "t.rmap:3:10: unexpected extra token '2' in file statement"},
    {"A munmap 0 1 rw", "t.rmap:3:14: unexpected extra token 'rw' in munmap statement"},
    {"A mprotect 0 1 rw x", "t.rmap:3:19: unexpected extra token 'x' in mprotect statement"},
    {"A madvise 0 1 free cold", "t.rmap:3:20: unexpected extra token 'cold' in madvise statement"},
    {"A read 0 1 2", "t.rmap:3:12: unexpected extra token '2' in read statement"},
    {"A write 0 1 2", "t.rmap:3:13: unexpected extra token '2' in write statement"},
    {"A fork B C", "t.rmap:3:10: unexpected extra token 'C' in fork statement"},
    {"A exit now", "t.rmap:3:8: unexpected extra token 'now' in exit statement"},
    {"A rmap 0 1", "t.rmap:3:10: unexpected extra token '1' in rmap statement"},
    {"observe a b", "t.rmap:3:11: unexpected extra token 'b' in observe statement"},
    {"observe 1st", "t.rmap:3:9: invalid label '1st' (names match [A-Za-z_][A-Za-z0-9_.-]*)"},
    // Tabs count as one column; the error is on the right line after comments.
    {"# c\n\n\tA\tmunmap\tx", "t.rmap:5:11: expected a number for ADDR, got 'x'"},
    // Bytes that are not text are just bytes of an unknown token.
    {"A mmap 0 1 r\xc3\xa9",
     "t.rmap:3:12: invalid protection 'r\\xc3\\xa9' (expected e.g. rw-, "
     "r--, ---, rw, r, rx, rwx or none)"},
    {"\x01", "t.rmap:3:1: unknown statement '\\x01'"},
};

INSTANTIATE_TEST_SUITE_P(AllClasses, ScriptErrorTest, testing::ValuesIn(kErrorCases));

TEST(ParserTest, NulByteIsPartOfAToken) {
  std::string text = std::string(kPrelude) + "A mmap 0 1 rw" + std::string(1, '\0') + "\n";
  EXPECT_EQ(Error(text),
            "t.rmap:3:12: invalid protection 'rw\\x00' (expected e.g. rw-, r--, ---, rw, r, "
            "rx, rwx or none)");
}

TEST(ParserTest, FirstErrorWins) {
  EXPECT_EQ(Error("process A\nQ exit\nfrob\n"), "t.rmap:2:1: unknown process 'Q'");
}

TEST(ParserTest, ErrorCarriesGivenPath) {
  ScriptError e;
  EXPECT_FALSE(ParseScenario("some/dir/x.rmap", "frob", &e).has_value());
  EXPECT_EQ(e.file, "some/dir/x.rmap");
  EXPECT_EQ(e.pos.line, 1);
  EXPECT_EQ(e.pos.column, 1);
  // A null error pointer is allowed.
  EXPECT_FALSE(ParseScenario("x", "frob", nullptr).has_value());
}

// ---------------------------------------------------------------- robustness

TEST(ParserRobustnessTest, VeryLongLine) {
  std::string text = "process A\nA mmap 0 1 rw " + std::string(1 << 20, ' ') + "# c\n";
  EXPECT_EQ(Parse(text).statements.size(), 2u);
  std::string long_token(1 << 20, '9');
  std::string err = Error("process A\nA read " + long_token + "\n");
  EXPECT_EQ(err, "t.rmap:2:8: number '" + std::string(40, '9') + "...' for ADDR is too large");
}

TEST(ParserRobustnessTest, ManyLines) {
  std::string text = "process A\n";
  for (int i = 0; i < 100000; ++i) text += "A write 5\n";
  Scenario s = Parse(text);
  EXPECT_EQ(s.statements.size(), 100001u);
  EXPECT_EQ(s.last_line, 100001);
}

TEST(ParserRobustnessTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(12345);
  const std::string alphabet = "process file mmap A F 0x1 2M rw- to @ # \n\t\r\0\xff-"s;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    size_t n = rng() % 200;
    for (size_t i = 0; i < n; ++i) {
      text +=
          (rng() % 4 == 0) ? static_cast<char>(rng() & 0xff) : alphabet[rng() % alphabet.size()];
    }
    ScriptError e;
    std::optional<Scenario> s = ParseScenario("r.rmap", text, &e);
    if (!s.has_value()) {
      EXPECT_GE(e.pos.line, 1);
      EXPECT_GE(e.pos.column, 1);
    }
  }
}

TEST(ParserRobustnessTest, MutatedValidScenariosNeverCrash) {
  const std::string base =
      "file F 8\nprocess A\nA mmap 0x10 8 rw private file F@2 populate\nA fork B\n"
      "B mremap 0x10 4 8 to 0x40 dontunmap\nB madvise 0x40 2 wipeonfork\nobserve x\n"
      "A exit\nB rmap 0x41\n";
  ASSERT_EQ(Parse(base).statements.size(), 9u);
  std::mt19937_64 rng(7);
  for (int round = 0; round < 5000; ++round) {
    std::string text = base;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < edits; ++i) {
      size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = static_cast<char>(rng() & 0xff);
          break;
        case 1:
          text.erase(at, 1);
          break;
        default:
          text.insert(at, 1, static_cast<char>(rng() & 0xff));
          break;
      }
      if (text.empty()) text = "x";
    }
    ScriptError e;
    (void)ParseScenario("m.rmap", text, &e);
  }
}

// ---------------------------------------------------------------- files

TEST(ParseScenarioFileTest, UnreadableFileIsErrorAtZero) {
  ScriptError e;
  EXPECT_FALSE(ParseScenarioFile("/nonexistent/dir/x.rmap", &e).has_value());
  EXPECT_EQ(e.file, "/nonexistent/dir/x.rmap");
  EXPECT_EQ(e.pos.line, 0);
  EXPECT_EQ(e.pos.column, 0);
  EXPECT_EQ(e.str(), "/nonexistent/dir/x.rmap:0:0: cannot read file: No such file or directory");
  EXPECT_FALSE(ParseScenarioFile(fs::temp_directory_path().string(), &e).has_value());
  EXPECT_EQ(e.pos.line, 0);
}

std::vector<fs::path> RmapFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".rmap") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ParseScenarioFileTest, AllSharedScenariosParse) {
  fs::path dir = fs::path(RMAPLAB_SHARED_DIR) / "scenarios";
  std::vector<fs::path> files = RmapFiles(dir);
  EXPECT_GE(files.size(), 22u) << dir;
  for (const fs::path& f : files) {
    ScriptError e;
    std::optional<Scenario> s = ParseScenarioFile(f.string(), &e);
    ASSERT_TRUE(s.has_value()) << e.str();
    EXPECT_EQ(s->path, f.string());
    EXPECT_FALSE(s->statements.empty()) << f;
    EXPECT_EQ(s->last_line, s->statements.back().pos.line) << f;
  }
}

TEST(ParseScenarioFileTest, SharedScenarioContent) {
  ScriptError e;
  std::optional<Scenario> s = ParseScenarioFile(
      (fs::path(RMAPLAB_SHARED_DIR) / "scenarios" / "mremap-dontunmap.rmap").string(), &e);
  ASSERT_TRUE(s.has_value()) << e.str();
  ASSERT_EQ(s->statements.size(), 7u);
  const Statement& mremap = s->statements[3];
  EXPECT_EQ(mremap.kind, OpKind::kMremap);
  EXPECT_EQ(mremap.pos.line, 6);
  EXPECT_EQ(mremap.len, 4u);
  EXPECT_EQ(mremap.new_len, 4u);
  EXPECT_EQ(mremap.new_addr, 0x40u);
  EXPECT_TRUE(mremap.dontunmap);
  EXPECT_EQ(s->statements[4].name, "moved");
  EXPECT_EQ(s->last_line, 9);
}

// The project's source directory: given by the build, else derived from this file.
fs::path SourceDir() {
#ifdef RMAPLAB_SOURCE_DIR
  return RMAPLAB_SOURCE_DIR;
#else
  fs::path p = fs::path(__FILE__).parent_path().parent_path().parent_path();
  return p.empty() ? fs::path(".") : p;
#endif
}

// Every tests/scenarios/bad/*.rmap starts with `# expect: LINE:COL: substring` and
// must fail with that position and a message containing the substring.
TEST(ParseScenarioFileTest, BadScenariosFailAsExpected) {
  fs::path dir = SourceDir() / "tests" / "scenarios" / "bad";
  std::vector<fs::path> files = RmapFiles(dir);
  EXPECT_GE(files.size(), 5u) << dir;
  for (const fs::path& f : files) {
    std::ifstream in(f);
    std::string first;
    std::getline(in, first);
    const std::string prefix = "# expect: ";
    ASSERT_EQ(first.rfind(prefix, 0), 0u) << f << ": no '# expect:' line";
    std::istringstream expect(first.substr(prefix.size()));
    int line = 0, column = 0;
    char colon1 = 0, colon2 = 0;
    expect >> line >> colon1 >> column >> colon2;
    ASSERT_EQ(colon1, ':') << f;
    ASSERT_EQ(colon2, ':') << f;
    std::string substring;
    std::getline(expect >> std::ws, substring);

    ScriptError e;
    EXPECT_FALSE(ParseScenarioFile(f.string(), &e).has_value()) << f;
    EXPECT_EQ(e.file, f.string());
    EXPECT_EQ(e.pos.line, line) << e.str();
    EXPECT_EQ(e.pos.column, column) << e.str();
    EXPECT_NE(e.message.find(substring), std::string::npos) << e.str() << " vs " << substring;
  }
}

}  // namespace
}  // namespace rmaplab
