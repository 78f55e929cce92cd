#include "scenario/lexer.h"

#include <cstdio>

namespace rmaplab::scenario_detail {
namespace {

bool IsSeparator(char c) { return c == ' ' || c == '\t'; }
bool IsAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Value of hex digit `c`, or -1.
int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr size_t kMaxQuotedBytes = 40;

}  // namespace

std::vector<Token> Tokenize(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < line.size()) {
    if (IsSeparator(line[i])) {
      ++i;
      continue;
    }
    if (line[i] == '#') break;
    size_t start = i;
    while (i < line.size() && !IsSeparator(line[i]) && line[i] != '#') ++i;
    tokens.push_back({line.substr(start, i - start), static_cast<int>(start) + 1});
  }
  return tokens;
}

Quantity ParseQuantity(std::string_view text) {
  Quantity q;
  uint64_t multiplier = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
        multiplier = 1ULL << 10;
        break;
      case 'M':
        multiplier = 1ULL << 20;
        break;
      case 'G':
        multiplier = 1ULL << 30;
        break;
      default:
        break;
    }
  }
  q.has_suffix = multiplier != 1;
  if (q.has_suffix) text.remove_suffix(1);

  unsigned base = 10;
  if (text.size() >= 2 && text[0] == '0' && text[1] == 'x') {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return q;  // kMalformed

  uint64_t value = 0;
  bool overflow = false;
  for (char c : text) {
    int digit = base == 16 ? HexValue(c) : (IsDigit(c) ? c - '0' : -1);
    if (digit < 0) return q;  // kMalformed, even after an overflow
    if (value > (UINT64_MAX - static_cast<uint64_t>(digit)) / base) overflow = true;
    value = value * base + static_cast<uint64_t>(digit);
  }
  if (overflow || value > UINT64_MAX / multiplier) {
    q.status = QuantityStatus::kOverflow;
    return q;
  }
  if (!q.has_suffix) {
    q.status = QuantityStatus::kOk;
    q.pages = value;
    return q;
  }
  q.bytes = value * multiplier;
  if (q.bytes % kPageSize != 0) {
    q.status = QuantityStatus::kNotPageAligned;
    return q;
  }
  q.status = QuantityStatus::kOk;
  q.pages = q.bytes / kPageSize;
  return q;
}

bool IsValidName(std::string_view text) {
  if (text.empty() || !(IsAlpha(text[0]) || text[0] == '_')) return false;
  for (char c : text) {
    if (!(IsAlpha(c) || IsDigit(c) || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

bool ParseProt(std::string_view text, Prot* prot) {
  if (text == "none") {
    *prot = Prot{};
    return true;
  }
  // The /proc/PID/maps form: exactly three columns.
  if (text.size() == 3 && text.find('-') != std::string_view::npos) {
    if ((text[0] != 'r' && text[0] != '-') || (text[1] != 'w' && text[1] != '-') ||
        (text[2] != 'x' && text[2] != '-')) {
      return false;
    }
    *prot = Prot{text[0] == 'r', text[1] == 'w', text[2] == 'x'};
    return true;
  }
  // The short form: a non-empty subsequence of "rwx".
  static constexpr std::string_view kLetters = "rwx";
  Prot result;
  size_t next = 0;  // letters before kLetters[next] may no longer appear
  if (text.empty()) return false;
  for (char c : text) {
    size_t at = kLetters.find(c, next);
    if (at == std::string_view::npos) return false;
    (at == 0 ? result.read : at == 1 ? result.write : result.exec) = true;
    next = at + 1;
  }
  *prot = result;
  return true;
}

std::string Quote(std::string_view text) {
  bool truncated = text.size() > kMaxQuotedBytes;
  if (truncated) text = text.substr(0, kMaxQuotedBytes);
  std::string out = "'";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '\\') {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", byte);
      out += buf;
    } else {
      out += c;
    }
  }
  out += truncated ? "...'" : "'";
  return out;
}

}  // namespace rmaplab::scenario_detail
