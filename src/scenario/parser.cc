// The scenario parser: turns the text of a `*.rmap` file into a Scenario, or reports
// the first script error as FILE:LINE:COLUMN: message.
//
// Checks done here, beyond syntax (all script errors): unknown, duplicate or exited
// processes; unknown or duplicate files; byte quantities that are not whole pages;
// numbers that overflow; ranges not wholly inside the arena [0, kArenaPages).
// A range error points at the start token when the start itself is outside the arena,
// else at the length token that makes the range overrun it.
#include <fmt/format.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "rmaplab/scenario.h"
#include "scenario/lexer.h"

namespace rmaplab {

std::string Prot::str() const { return {read ? 'r' : '-', write ? 'w' : '-', exec ? 'x' : '-'}; }

std::string ScriptError::str() const {
  return fmt::format("{}:{}:{}: {}", file, pos.line, pos.column, message);
}

const char* AdviceName(Advice a) {
  switch (a) {
    case Advice::kDontneed:
      return "dontneed";
    case Advice::kFree:
      return "free";
    case Advice::kCold:
      return "cold";
    case Advice::kPageout:
      return "pageout";
    case Advice::kDontfork:
      return "dontfork";
    case Advice::kDofork:
      return "dofork";
    case Advice::kWipeonfork:
      return "wipeonfork";
    case Advice::kKeeponfork:
      return "keeponfork";
    case Advice::kHugepage:
      return "hugepage";
    case Advice::kNohugepage:
      return "nohugepage";
  }
  return "?";
}

const char* OpName(OpKind k) {
  switch (k) {
    case OpKind::kProcess:
      return "process";
    case OpKind::kFile:
      return "file";
    case OpKind::kMmap:
      return "mmap";
    case OpKind::kMunmap:
      return "munmap";
    case OpKind::kMprotect:
      return "mprotect";
    case OpKind::kMremap:
      return "mremap";
    case OpKind::kMadvise:
      return "madvise";
    case OpKind::kRead:
      return "read";
    case OpKind::kWrite:
      return "write";
    case OpKind::kFork:
      return "fork";
    case OpKind::kExit:
      return "exit";
    case OpKind::kRmap:
      return "rmap";
    case OpKind::kObserve:
      return "observe";
  }
  return "?";
}

namespace {

using scenario_detail::ParseQuantity;
using scenario_detail::Quantity;
using scenario_detail::QuantityStatus;
using scenario_detail::Quote;
using scenario_detail::Token;

// The largest file, in pages (a file is never larger than the arena).
constexpr uint64_t kMaxFilePages = kArenaPages;
// The largest PGOFF: its byte offset must fit in a (signed 64-bit) off_t.
constexpr uint64_t kMaxPgoff = (uint64_t{INT64_MAX} / kPageSize);

constexpr std::string_view kNameRule = "[A-Za-z_][A-Za-z0-9_.-]*";

// A numeric operand: its name in the grammar and what it measures.
struct Field {
  const char* name;  // "LEN"
  const char* noun;  // "length"
};
constexpr Field kAddrField{"ADDR", "address"};
constexpr Field kLenField{"LEN", "length"};
constexpr Field kOldLenField{"OLDLEN", "length"};
constexpr Field kNewLenField{"NEWLEN", "length"};
constexpr Field kNewAddrField{"NEWADDR", "address"};
constexpr Field kPgoffField{"PGOFF", "offset"};

// Statements written `P OP ...`.
struct ProcessOp {
  std::string_view word;
  OpKind kind;
};
constexpr ProcessOp kProcessOps[] = {
    {"mmap", OpKind::kMmap},     {"munmap", OpKind::kMunmap},   {"mprotect", OpKind::kMprotect},
    {"mremap", OpKind::kMremap}, {"madvise", OpKind::kMadvise}, {"read", OpKind::kRead},
    {"write", OpKind::kWrite},   {"fork", OpKind::kFork},       {"exit", OpKind::kExit},
    {"rmap", OpKind::kRmap},
};

constexpr Advice kAllAdvice[] = {
    Advice::kDontneed, Advice::kFree,       Advice::kCold,       Advice::kPageout,
    Advice::kDontfork, Advice::kDofork,     Advice::kWipeonfork, Advice::kKeeponfork,
    Advice::kHugepage, Advice::kNohugepage,
};

// Words that start a statement and so cannot name a process.
bool IsKeyword(std::string_view word) {
  return word == "process" || word == "file" || word == "observe";
}

const ProcessOp* FindProcessOp(std::string_view word) {
  for (const ProcessOp& op : kProcessOps) {
    if (op.word == word) return &op;
  }
  return nullptr;
}

std::string Hex(uint64_t v) { return fmt::format("{:#x}", v); }

// `a + b` in hex, exact even when the sum does not fit in 64 bits.
std::string HexSum(uint64_t a, uint64_t b) {
  uint64_t low = a + b;  // wraps
  if (low >= a) return Hex(low);
  return fmt::format("0x1{:016x}", low);
}

// Parses a scenario one line at a time, keeping the names defined so far. Each Parse*
// method returns false after recording the error (the first error ends parsing).
class Parser {
 public:
  Parser(const std::string& path, ScriptError* error) : path_(path), error_(error) {}

  // Parses line number `line` (1-based, `text` without its '\n'); appends the
  // statement it holds, if any, to `out`.
  bool ParseLine(int line, std::string_view text, Scenario* out);

  // Records an error at `line`:`column`; returns false.
  bool Fail(int line, int column, std::string message) {
    if (error_ != nullptr) *error_ = ScriptError{path_, {line, column}, std::move(message)};
    return false;
  }

 private:
  bool Fail(int column, std::string message) { return Fail(line_, column, std::move(message)); }

  // Token access within the current line.
  const Token* Next() { return next_ < tokens_.size() ? &tokens_[next_++] : nullptr; }
  const Token* Peek() const { return next_ < tokens_.size() ? &tokens_[next_] : nullptr; }
  int EndColumn() const { return tokens_.back().end_column(); }
  bool ExpectEnd(const char* statement);

  // Operands.
  bool ParseNumber(const Token* tok, Field field, uint64_t* out);
  bool ExpectNumber(Field field, uint64_t* out, const Token** tok);
  bool ExpectNewProcessName(const char* what, std::string* name);
  bool UseProcess(const Token& tok);
  bool CheckRange(const Token& start_tok, uint64_t start, const Token* len_tok, uint64_t len);

  // Statements. `st` has kind, pos and (for process statements) process set.
  bool ParseProcess(Statement* st);
  bool ParseFile(Statement* st);
  bool ParseObserve(Statement* st);
  bool ParseProcessStatement(Statement* st);
  bool ParseMmap(Statement* st);
  bool ParseMmapFile(const Token& tok, Statement* st);
  bool ParseMremap(Statement* st);
  bool ParseMadvise(Statement* st);
  bool ParseProt(Prot* prot);

  const std::string& path_;
  ScriptError* error_;
  std::unordered_map<std::string, bool> processes_;  // name -> alive
  std::unordered_set<std::string> files_;

  // The current line.
  int line_ = 0;
  std::vector<Token> tokens_;
  size_t next_ = 0;  // index of the next unread token
};

bool Parser::ParseLine(int line, std::string_view text, Scenario* out) {
  line_ = line;
  tokens_ = scenario_detail::Tokenize(text);
  next_ = 0;
  if (tokens_.empty()) return true;

  Statement st;
  st.pos = {line, tokens_[0].column};
  const Token& first = *Next();
  bool ok;
  if (first.text == "process") {
    st.kind = OpKind::kProcess;
    ok = ParseProcess(&st);
  } else if (first.text == "file") {
    st.kind = OpKind::kFile;
    ok = ParseFile(&st);
  } else if (first.text == "observe") {
    st.kind = OpKind::kObserve;
    ok = ParseObserve(&st);
  } else {
    ok = ParseProcessStatement(&st);
  }
  if (!ok) return false;
  out->statements.push_back(std::move(st));
  out->last_line = line;
  return true;
}

bool Parser::ExpectEnd(const char* statement) {
  if (const Token* extra = Next()) {
    return Fail(extra->column, fmt::format("unexpected extra token {} in {} statement",
                                           Quote(extra->text), statement));
  }
  return true;
}

bool Parser::ParseNumber(const Token* tok, Field field, uint64_t* out) {
  Quantity q = ParseQuantity(tok->text);
  switch (q.status) {
    case QuantityStatus::kOk:
      *out = q.pages;
      return true;
    case QuantityStatus::kMalformed:
      return Fail(tok->column,
                  fmt::format("expected a number for {}, got {}", field.name, Quote(tok->text)));
    case QuantityStatus::kOverflow:
      return Fail(tok->column,
                  fmt::format("number {} for {} is too large", Quote(tok->text), field.name));
    case QuantityStatus::kNotPageAligned:
      return Fail(tok->column, fmt::format("byte {} {} ({} bytes) is not a whole number of pages",
                                           field.noun, tok->text, q.bytes));
  }
  return false;
}

bool Parser::ExpectNumber(Field field, uint64_t* out, const Token** tok) {
  *tok = Next();
  if (*tok == nullptr) {
    return Fail(EndColumn(), fmt::format("expected a number for {}, got end of line", field.name));
  }
  return ParseNumber(*tok, field, out);
}

bool Parser::ExpectNewProcessName(const char* what, std::string* name) {
  const Token* tok = Next();
  if (tok == nullptr) {
    return Fail(EndColumn(), fmt::format("expected a name for {}, got end of line", what));
  }
  if (!scenario_detail::IsValidName(tok->text)) {
    return Fail(tok->column, fmt::format("invalid process name {} (names match {})",
                                         Quote(tok->text), kNameRule));
  }
  if (IsKeyword(tok->text)) {
    return Fail(tok->column,
                fmt::format("{} is a keyword and cannot name a process", Quote(tok->text)));
  }
  std::string key(tok->text);
  if (processes_.count(key) != 0) {
    return Fail(tok->column, fmt::format("process {} already exists", Quote(tok->text)));
  }
  processes_.emplace(key, true);
  *name = std::move(key);
  return true;
}

bool Parser::UseProcess(const Token& tok) {
  auto it = processes_.find(std::string(tok.text));
  if (it == processes_.end()) {
    return Fail(tok.column, fmt::format("unknown process {}", Quote(tok.text)));
  }
  if (!it->second) {
    return Fail(tok.column, fmt::format("process {} used after exit", Quote(tok.text)));
  }
  return true;
}

// [start, start + len) must lie in [0, kArenaPages); a zero-length range must still
// start inside the arena. `len_tok` is null when the length is implicit.
bool Parser::CheckRange(const Token& start_tok, uint64_t start, const Token* len_tok,
                        uint64_t len) {
  bool start_outside = start >= kArenaPages;
  if (!start_outside && len <= kArenaPages - start) return true;
  int column = start_outside || len_tok == nullptr ? start_tok.column : len_tok->column;
  return Fail(column, fmt::format("range [{}, {}) lies outside the arena (2^28 pages)", Hex(start),
                                  HexSum(start, len)));
}

bool Parser::ParseProcess(Statement* st) {
  if (!ExpectNewProcessName("the new process", &st->process)) return false;
  return ExpectEnd("process");
}

bool Parser::ParseFile(Statement* st) {
  const Token* name = Next();
  if (name == nullptr) {
    return Fail(EndColumn(), "expected a file name, got end of line");
  }
  if (!scenario_detail::IsValidName(name->text)) {
    return Fail(name->column,
                fmt::format("invalid file name {} (names match {})", Quote(name->text), kNameRule));
  }
  if (!files_.emplace(name->text).second) {
    return Fail(name->column, fmt::format("file {} already exists", Quote(name->text)));
  }
  st->name = std::string(name->text);
  const Token* len_tok;
  if (!ExpectNumber(kLenField, &st->len, &len_tok)) return false;
  if (st->len == 0) return Fail(len_tok->column, "a file must be at least 1 page long");
  if (st->len > kMaxFilePages) {
    return Fail(
        len_tok->column,
        fmt::format("file length {} pages exceeds the maximum of 2^28 pages", Hex(st->len)));
  }
  return ExpectEnd("file");
}

bool Parser::ParseObserve(Statement* st) {
  if (const Token* label = Next()) {
    if (!scenario_detail::IsValidName(label->text)) {
      return Fail(label->column,
                  fmt::format("invalid label {} (names match {})", Quote(label->text), kNameRule));
    }
    st->name = std::string(label->text);
    st->has_label = true;
  }
  return ExpectEnd("observe");
}

bool Parser::ParseProt(Prot* prot) {
  const Token* tok = Next();
  if (tok == nullptr) {
    return Fail(EndColumn(), "expected a protection for PROT, got end of line");
  }
  if (!scenario_detail::ParseProt(tok->text, prot)) {
    return Fail(tok->column,
                fmt::format("invalid protection {} (expected e.g. rw-, r--, ---, rw, r, rx, "
                            "rwx or none)",
                            Quote(tok->text)));
  }
  return true;
}

bool Parser::ParseProcessStatement(Statement* st) {
  const Token& proc = tokens_[0];
  const Token* op_tok = Next();
  const ProcessOp* op = op_tok != nullptr ? FindProcessOp(op_tok->text) : nullptr;
  if (op == nullptr) {
    bool known = processes_.count(std::string(proc.text)) != 0;
    if (known && op_tok == nullptr) {
      return Fail(EndColumn(),
                  fmt::format("expected an operation after process {}", Quote(proc.text)));
    }
    if (known) {
      return Fail(op_tok->column, fmt::format("unknown statement {}", Quote(op_tok->text)));
    }
    if (FindProcessOp(proc.text) != nullptr) {
      return Fail(proc.column, fmt::format("statement {} needs a process: write 'P {} ...'",
                                           Quote(proc.text), proc.text));
    }
    return Fail(proc.column, fmt::format("unknown statement {}", Quote(proc.text)));
  }
  if (!UseProcess(proc)) return false;
  st->kind = op->kind;
  st->process = std::string(proc.text);
  const char* name = OpName(op->kind);
  const Token* addr_tok = nullptr;
  const Token* len_tok = nullptr;

  switch (op->kind) {
    case OpKind::kMmap:
      return ParseMmap(st);
    case OpKind::kMremap:
      return ParseMremap(st);
    case OpKind::kMadvise:
      return ParseMadvise(st);
    case OpKind::kMunmap:
    case OpKind::kMprotect:
      if (!ExpectNumber(kAddrField, &st->addr, &addr_tok) ||
          !ExpectNumber(kLenField, &st->len, &len_tok) ||
          !CheckRange(*addr_tok, st->addr, len_tok, st->len)) {
        return false;
      }
      if (op->kind == OpKind::kMprotect && !ParseProt(&st->prot)) return false;
      return ExpectEnd(name);
    case OpKind::kRead:
    case OpKind::kWrite:
      if (!ExpectNumber(kAddrField, &st->addr, &addr_tok)) return false;
      st->len = 1;
      if (Peek() != nullptr && !ExpectNumber(kLenField, &st->len, &len_tok)) return false;
      if (!CheckRange(*addr_tok, st->addr, len_tok, st->len)) return false;
      return ExpectEnd(name);
    case OpKind::kRmap:
      if (!ExpectNumber(kAddrField, &st->addr, &addr_tok) ||
          !CheckRange(*addr_tok, st->addr, nullptr, 1)) {
        return false;
      }
      return ExpectEnd(name);
    case OpKind::kFork:
      if (!ExpectNewProcessName("the child process", &st->name)) return false;
      return ExpectEnd(name);
    case OpKind::kExit:
      processes_[st->process] = false;
      return ExpectEnd(name);
    case OpKind::kProcess:
    case OpKind::kFile:
    case OpKind::kObserve:
      break;  // not process statements
  }
  return false;
}

bool Parser::ParseMmap(Statement* st) {
  const Token* addr_tok;
  const Token* len_tok;
  if (!ExpectNumber(kAddrField, &st->addr, &addr_tok) ||
      !ExpectNumber(kLenField, &st->len, &len_tok) ||
      !CheckRange(*addr_tok, st->addr, len_tok, st->len) || !ParseProt(&st->prot)) {
    return false;
  }
  // Each option at most once; `sharing` and `backing` hold the word seen for each
  // mutually exclusive pair.
  std::string_view sharing, backing;
  while (const Token* tok = Next()) {
    std::string_view word = tok->text;
    std::string_view* group = nullptr;
    bool* flag = nullptr;
    if (word == "private" || word == "shared") {
      group = &sharing;
    } else if (word == "anon" || word == "file") {
      group = &backing;
    } else if (word == "fixed") {
      flag = &st->fixed;
    } else if (word == "populate") {
      flag = &st->populate;
    } else if (word == "noreserve") {
      flag = &st->noreserve;
    } else {
      return Fail(tok->column, fmt::format("unknown mmap option {}", Quote(word)));
    }
    if (group != nullptr && !group->empty() && *group != word) {
      return Fail(tok->column,
                  fmt::format("option {} conflicts with {}", Quote(word), Quote(*group)));
    }
    if ((group != nullptr && *group == word) || (flag != nullptr && *flag)) {
      return Fail(tok->column, fmt::format("duplicate mmap option {}", Quote(word)));
    }
    if (flag != nullptr) *flag = true;
    if (group != nullptr) *group = word;
    if (word == "shared") st->shared = true;
    if (word == "file") {
      const Token* file_tok = Next();
      if (file_tok == nullptr) {
        return Fail(EndColumn(), "expected a file name after 'file', got end of line");
      }
      if (!ParseMmapFile(*file_tok, st)) return false;
    }
  }
  return true;
}

// `F` or `F@PGOFF`.
bool Parser::ParseMmapFile(const Token& tok, Statement* st) {
  size_t at = tok.text.find('@');
  std::string_view name = tok.text.substr(0, at);
  if (name.empty()) return Fail(tok.column, "expected a file name before '@'");
  if (files_.count(std::string(name)) == 0) {
    return Fail(tok.column, fmt::format("unknown file {}", Quote(name)));
  }
  st->file_backed = true;
  st->file = std::string(name);
  if (at == std::string_view::npos) return true;
  int pgoff_column = tok.column + static_cast<int>(at) + 1;
  if (at + 1 == tok.text.size()) {
    return Fail(pgoff_column, "expected a number for PGOFF after '@'");
  }
  Token pgoff_tok{tok.text.substr(at + 1), pgoff_column};
  if (!ParseNumber(&pgoff_tok, kPgoffField, &st->pgoff)) return false;
  if (st->pgoff > kMaxPgoff) {
    return Fail(
        pgoff_column,
        fmt::format("PGOFF {} is too large (its byte offset must fit in off_t)", Hex(st->pgoff)));
  }
  return true;
}

bool Parser::ParseMremap(Statement* st) {
  const Token* addr_tok;
  const Token* old_len_tok;
  const Token* new_len_tok;
  if (!ExpectNumber(kAddrField, &st->addr, &addr_tok) ||
      !ExpectNumber(kOldLenField, &st->len, &old_len_tok) ||
      !CheckRange(*addr_tok, st->addr, old_len_tok, st->len) ||
      !ExpectNumber(kNewLenField, &st->new_len, &new_len_tok)) {
    return false;
  }
  const Token* tok = Next();
  if (tok == nullptr) {
    // In place: the range may grow to [ADDR, ADDR + NEWLEN).
    return CheckRange(*addr_tok, st->addr, new_len_tok, st->new_len);
  }
  if (tok->text == "dontunmap") {
    return Fail(tok->column, "'dontunmap' needs a destination: 'to NEWADDR dontunmap'");
  }
  if (tok->text != "to") {
    return Fail(tok->column,
                fmt::format("expected 'to NEWADDR' or end of line, got {}", Quote(tok->text)));
  }
  const Token* new_addr_tok;
  if (!ExpectNumber(kNewAddrField, &st->new_addr, &new_addr_tok)) return false;
  st->has_new_addr = true;
  if (!CheckRange(*new_addr_tok, st->new_addr, new_len_tok, st->new_len)) return false;
  if (const Token* flag = Peek(); flag != nullptr && flag->text == "dontunmap") {
    Next();
    st->dontunmap = true;
  }
  return ExpectEnd("mremap");
}

bool Parser::ParseMadvise(Statement* st) {
  const Token* addr_tok;
  const Token* len_tok;
  if (!ExpectNumber(kAddrField, &st->addr, &addr_tok) ||
      !ExpectNumber(kLenField, &st->len, &len_tok) ||
      !CheckRange(*addr_tok, st->addr, len_tok, st->len)) {
    return false;
  }
  const Token* tok = Next();
  if (tok == nullptr) return Fail(EndColumn(), "expected an advice for ADVICE, got end of line");
  const Advice* found = nullptr;
  for (const Advice& a : kAllAdvice) {
    if (tok->text == AdviceName(a)) found = &a;
  }
  if (found == nullptr) {
    std::string all;
    for (Advice a : kAllAdvice) all += fmt::format("{}{}", all.empty() ? "" : ", ", AdviceName(a));
    return Fail(tok->column,
                fmt::format("unknown advice {} (expected one of {})", Quote(tok->text), all));
  }
  st->advice = *found;
  return ExpectEnd("madvise");
}

}  // namespace

std::optional<Scenario> ParseScenario(const std::string& path, const std::string& text,
                                      ScriptError* error) {
  Parser parser(path, error);
  // Lines and columns are ints; a larger input cannot be positioned.
  if (text.size() > static_cast<size_t>(INT_MAX)) {
    parser.Fail(0, 0, fmt::format("scenario is too large ({} bytes)", text.size()));
    return std::nullopt;
  }
  Scenario scenario;
  scenario.path = path;
  std::string_view rest = text;
  int line = 0;
  while (!rest.empty()) {
    ++line;
    size_t nl = rest.find('\n');
    std::string_view current = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (!parser.ParseLine(line, current, &scenario)) return std::nullopt;
  }
  return scenario;
}

std::optional<Scenario> ParseScenarioFile(const std::string& path, ScriptError* error) {
  auto fail = [&](int err) {
    if (error != nullptr) {
      *error = ScriptError{path, {0, 0}, fmt::format("cannot read file: {}", std::strerror(err))};
    }
    return std::nullopt;
  };
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return fail(errno);
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  int err = std::ferror(f) ? (errno != 0 ? errno : EIO) : 0;
  std::fclose(f);
  if (err != 0) return fail(err);
  return ParseScenario(path, text, error);
}

}  // namespace rmaplab
