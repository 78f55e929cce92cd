// libFuzzer target: the scenario parser must never crash, hang or leak on any text;
// it either returns a scenario or a FILE:LINE:COL script error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rmaplab/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  rmaplab::ScriptError err;
  auto sc = rmaplab::ParseScenario("fuzz.rmap", text, &err);
  if (!sc && err.message.empty()) __builtin_trap();  // a refusal must say why
  return 0;
}
