// libFuzzer target: the trace reader must refuse any malformed input with a reason, never
// crash, hang or allocate without bound. Inputs starting with 'T' are trace text (the
// fuzzer compresses them, so mutations reach the record parser); others are taken as
// the compressed file itself (the zstd path).
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "trace/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::string bytes;
  if (!in.empty() && in[0] == 'T') {
    bytes.resize(ZSTD_compressBound(in.size() - 1));
    bytes.resize(ZSTD_compress(bytes.data(), bytes.size(), in.data() + 1, in.size() - 1, 1));
  } else {
    bytes = in;
  }
  std::string error;
  auto t = rmaplab::trace::ParseTrace(bytes, "fuzz.rmt", &error, 64 << 20);
  if (!t && error.empty()) __builtin_trap();
  if (t)  // what was read is consistent: every exec names a layout that exists
    for (const auto& e : t->events)
      if (e.kind == rmaplab::trace::EventKind::kExec && e.layout >= t->layouts.size())
        __builtin_trap();
  return 0;
}
