// The scenario language (../shared/spec/scenario-language.md), version 1: the parsed form.
//
// A Scenario is a list of Statements. Every Statement carries its source position so
// that executors can report `line` in observations and errors. Addresses and lengths
// are already converted to arena pages by the parser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rmaplab {

// Source position, 1-based.
struct SourcePos {
  int line = 0;
  int column = 0;
};

// Protection bits as written in the scenario (r, w, x).
struct Prot {
  bool read = false;
  bool write = false;
  bool exec = false;
  bool operator==(const Prot&) const = default;
  // "rw-", "r--", "---", ... (the /proc/PID/maps form).
  std::string str() const;
};

enum class OpKind {
  kProcess,   // process P
  kFile,      // file F LEN
  kMmap,      // P mmap ADDR LEN PROT [private|shared] [anon|file F[@PGOFF]] [fixed] [populate] [noreserve]
  kMunmap,    // P munmap ADDR LEN
  kMprotect,  // P mprotect ADDR LEN PROT
  kMremap,    // P mremap ADDR OLDLEN NEWLEN [to NEWADDR [dontunmap]]
  kMadvise,   // P madvise ADDR LEN ADVICE
  kRead,      // P read ADDR [LEN]
  kWrite,     // P write ADDR [LEN]
  kFork,      // P fork C
  kExit,      // P exit
  kRmap,      // P rmap ADDR
  kObserve,   // observe [LABEL]
};

enum class Advice {
  kDontneed, kFree, kCold, kPageout, kDontfork, kDofork,
  kWipeonfork, kKeeponfork, kHugepage, kNohugepage,
};

// One statement. Only the fields meaningful for `kind` are set.
struct Statement {
  OpKind kind{};
  SourcePos pos;
  std::string process;        // the acting process (P); for kProcess the new name
  std::string name;           // kFile: file name; kFork: child name; kObserve: label (may be empty)
  bool has_label = false;     // kObserve: whether a LABEL was given
  uint64_t addr = 0;          // arena pages
  uint64_t len = 0;           // arena pages (kFile: file length; kMremap: OLDLEN)
  uint64_t new_len = 0;       // kMremap
  bool has_new_addr = false;  // kMremap: `to NEWADDR` given
  uint64_t new_addr = 0;      // kMremap
  bool dontunmap = false;     // kMremap
  Prot prot;                  // kMmap, kMprotect
  bool shared = false;        // kMmap
  bool file_backed = false;   // kMmap: `file F[@PGOFF]`
  std::string file;           // kMmap: F
  uint64_t pgoff = 0;         // kMmap: PGOFF (pages)
  bool fixed = false;         // kMmap
  bool populate = false;      // kMmap
  bool noreserve = false;     // kMmap
  Advice advice{};            // kMadvise
};

struct Scenario {
  std::string path;  // as given on the command line
  std::vector<Statement> statements;
  int last_line = 0;  // line of the last statement (0 if none)
};

// The arena: arena page N is virtual address kArenaBase + N * 4096 natively.
inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kArenaBase = 0x100000000000ULL;
inline constexpr uint64_t kArenaPages = 1ULL << 28;

// A script error: FILE:LINE:COLUMN: message.
struct ScriptError {
  std::string file;
  SourcePos pos;
  std::string message;
  std::string str() const;  // "FILE:LINE:COLUMN: message"
};

// Parse `text` (the contents of `path`). On success returns the scenario; on the first
// script error returns nullopt and fills *error. Semantic checks that need no kernel
// (unknown process or file, process used after exit, duplicate names, range outside
// the arena, byte quantities not page-aligned) are script errors too.
std::optional<Scenario> ParseScenario(const std::string& path, const std::string& text,
                                      ScriptError* error);

// Reads the file and parses it; an unreadable file is a script error at 0:0.
std::optional<Scenario> ParseScenarioFile(const std::string& path, ScriptError* error);

const char* AdviceName(Advice a);
const char* OpName(OpKind k);  // "mmap", "munmap", ... as used in observation errors

}  // namespace rmaplab
