// The lexical layer of the scenario language (../shared/spec/scenario-language.md):
// splitting a line into tokens and reading numbers, names and protections.
//
// Everything here works on raw bytes: any byte sequence (NUL, non-UTF-8, very long
// lines) is accepted as input and yields tokens or a failure result, never a crash.
// Columns are 1-based byte offsets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rmaplab/scenario.h"

namespace rmaplab::scenario_detail {

struct Token {
  std::string_view text;  // never empty
  int column = 0;         // 1-based column of the first byte
  // The column just after the token (where a missing next token is reported).
  int end_column() const { return column + static_cast<int>(text.size()); }
};

// Splits one line (without its '\n') into tokens separated by spaces and tabs. A '#'
// anywhere starts a comment that runs to the end of the line. A single trailing '\r'
// (CRLF line endings) is ignored. `line.size()` must fit in an int.
std::vector<Token> Tokenize(std::string_view line);

// Result of reading a quantity (address, length or page offset).
enum class QuantityStatus {
  kOk,
  kMalformed,       // not a decimal / 0x-hex number with an optional K, M or G suffix
  kOverflow,        // the value (in bytes, when suffixed) does not fit in 64 bits
  kNotPageAligned,  // a byte quantity that is not a whole number of pages
};

struct Quantity {
  QuantityStatus status = QuantityStatus::kMalformed;
  uint64_t pages = 0;  // valid when status == kOk
  uint64_t bytes = 0;  // the byte value, when status is kOk or kNotPageAligned and
                       // the token carries a byte suffix
  bool has_suffix = false;
};

// Reads `text` as a quantity: `42`, `0x2a` (pages), or either followed by `K`, `M` or
// `G` (bytes: 2^10, 2^20, 2^30), which must then be a multiple of kPageSize.
Quantity ParseQuantity(std::string_view text);

// Whether `text` matches [A-Za-z_][A-Za-z0-9_.-]*.
bool IsValidName(std::string_view text);

// Reads a protection: `[r-][w-][x-]`, or a non-empty subsequence of "rwx" in that
// order (`r`, `w`, `x`, `rw`, `rx`, `wx`, `rwx`), or `none`. Returns false otherwise.
bool ParseProt(std::string_view text, Prot* prot);

// `text` quoted for an error message: between single quotes, with bytes outside
// printable ASCII and '\\' escaped as \xNN, truncated with "..." when long.
std::string Quote(std::string_view text);

}  // namespace rmaplab::scenario_detail
