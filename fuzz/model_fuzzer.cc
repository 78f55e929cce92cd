// libFuzzer target: arbitrary byte strings decoded into valid scenarios (several processes,
// fork, exit, mmap of anon/file/shared, mprotect, madvise, mremap moves, touches), run in
// the model under one of the schemes with the oracle after every statement. A crash, an
// invariant failure, or a missed mapping (for schemes without documented design flaws)
// traps. It finds model crashes that valid-but-unusual sequences cause.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rmap/registry.h"
#include "rmaplab/scenario.h"
#include "scenario/interpreter.h"

namespace {

std::string Decode(const uint8_t* d, size_t n, std::string* scheme) {
  static const std::vector<rmaplab::SchemeInfo> schemes = rmaplab::ListSchemes();
  *scheme = schemes[n ? d[0] % schemes.size() : 0].name;
  static const char* kProt[] = {"rw-", "r--", "rwx", "---", "r-x"};
  static const char* kAdvice[] = {"dontneed", "free", "cold", "pageout", "dontfork", "dofork",
                                  "wipeonfork", "keeponfork", "hugepage", "nohugepage"};
  std::string s = "file F 16\nprocess P0\n";
  std::vector<std::string> alive = {"P0"};
  int next = 1;
  for (size_t i = 1; i + 5 <= n && i < 1 + 5 * 200; i += 5) {
    const uint8_t* b = d + i;
    if (alive.empty()) break;
    const std::string& p = alive[b[1] % alive.size()];
    int a = 16 + b[2] % 40, len = 1 + b[3] % 10, v = b[4];
    switch (b[0] % 12) {
      case 0:
      case 1: {
        s += p + " mmap " + std::to_string(a) + " " + std::to_string(len) + " " + kProt[v % 5];
        if (v & 0x08) s += " shared";
        if (v & 0x10) s += " file F@" + std::to_string((v >> 5) % 8);
        if (v & 0x40) s += " fixed";
        if ((v & 0x87) == 0x80) s += " populate";
        if ((v & 0x87) == 0x81) s += " noreserve";
        s += "\n";
        break;
      }
      case 2:
      case 3: s += p + " write " + std::to_string(a) + " " + std::to_string(1 + v % 4) + "\n"; break;
      case 4: s += p + " read " + std::to_string(a) + " " + std::to_string(1 + v % 4) + "\n"; break;
      case 5: s += p + " mprotect " + std::to_string(a) + " " + std::to_string(len) + " " + kProt[v % 5] + "\n"; break;
      case 6: s += p + " munmap " + std::to_string(a) + " " + std::to_string(len) + "\n"; break;
      case 7: s += p + " madvise " + std::to_string(a) + " " + std::to_string(len) + " " + kAdvice[v % 10] + "\n"; break;
      case 8: {
        int newlen = 1 + (v >> 4) % 10;
        if (v & 1)
          s += p + " mremap " + std::to_string(a) + " " + std::to_string(len) + " " +
               std::to_string(newlen) + "\n";
        else
          s += p + " mremap " + std::to_string(a) + " " + std::to_string(len) + " " +
               std::to_string(newlen) + " to " + std::to_string(16 + (v * 7) % 40) +
               ((v & 2) ? " dontunmap" : "") + "\n";
        break;
      }
      case 9:
        if (alive.size() < 6) {
          std::string c = "P" + std::to_string(next++);
          s += p + " fork " + c + "\n";
          alive.push_back(c);
        }
        break;
      case 10: {
        std::string gone = p;
        s += gone + " exit\n";
        alive.erase(alive.begin() + b[1] % alive.size());
        break;
      }
      case 11: s += p + " rmap " + std::to_string(a) + "\n"; break;
    }
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string scheme;
  std::string text = Decode(data, size, &scheme);
  rmaplab::ScriptError err;
  auto sc = rmaplab::ParseScenario("fuzz.rmap", text, &err);
  if (!sc) __builtin_trap();  // the decoder only writes valid scenarios
  rmaplab::SimOptions opt;
  opt.scheme = scheme;
  opt.check_each_statement = true;
  rmaplab::SimResult r;
  std::string error;
  if (!rmaplab::RunSim(*sc, opt, &r, &error)) __builtin_trap();
  if (r.oracle.invariant_failures) __builtin_trap();
  if (r.oracle.misses && rmaplab::CreateScheme(scheme)->KnownFlaws().empty()) __builtin_trap();
  return 0;
}
