// The observation document (../shared/spec/scenario-language.md, "The observation").
//
// Both executors produce an Observation; `diff` compares two of them under the spec's
// equality rule.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rmaplab {

struct ObsVma {
  uint64_t start = 0;   // arena pages, inclusive
  uint64_t end = 0;     // exclusive
  std::string prot;     // "rw-"
  bool shared = false;
  std::string backing;  // "anon" | "file:F@PGOFF" | "shmem"
  bool operator==(const ObsVma&) const = default;
};

struct ObsPage {
  uint64_t addr = 0;
  int64_t frame = 0;    // canonical frame; -1 for the zero page
  std::string type;     // "anon" | "zero" | "file"
  int64_t mapcount = 0;
  bool exclusive = false;
  bool operator==(const ObsPage&) const = default;
};

struct ObsProcess {
  std::string name;
  bool alive = true;
  std::vector<ObsVma> vmas;
  std::vector<ObsPage> pages;
};

struct ObsCount {
  int64_t alloc = 0;
  int64_t free = 0;
  bool operator==(const ObsCount&) const = default;
};

struct ObsPoint {
  std::optional<std::string> label;  // null when no LABEL
  int line = 0;
  std::vector<ObsProcess> processes;
  // Kernel object counts by object name; absent (nullopt) when not available.
  std::optional<std::map<std::string, ObsCount>> kernel;
};

struct ObsError {
  int line = 0;
  std::string op;
  std::string errno_name;   // set for refusals ("EFAULT"), empty otherwise
  std::string signal_name;  // set for signals ("SIGSEGV"), empty otherwise
  bool operator==(const ObsError&) const = default;
};

// One walk found by an `rmap` statement (sim only).
struct ObsWalkHit {
  std::string process;
  uint64_t addr = 0;
};
struct ObsWalk {
  int line = 0;
  std::vector<ObsWalkHit> found;
  int64_t visited = 0;          // candidate VMAs visited
  int64_t false_positives = 0;  // candidates that did not map the folio
};

struct Observation {
  std::string format = "rmaplab-observation/1";
  std::string scenario;  // base name of the scenario file
  std::string source;    // "sim:linux", "native:linux-6.18.44-..."
  std::vector<ObsPoint> observations;
  std::vector<ObsError> errors;
  std::optional<std::vector<ObsWalk>> walks;  // sim only
};

// JSON (nlohmann is kept out of this header on purpose: it is a heavy include).
std::string ObservationToJson(const Observation& obs);  // pretty, stable key order, trailing newline
// Parses a document; on failure returns nullopt and a message in *error.
std::optional<Observation> ObservationFromJson(const std::string& text, std::string* error);

// The spec's equality rule. Returns nullopt when equal, else the first difference in
// plain words: observation (index and label), process, address, field, both values.
std::optional<std::string> FirstDifference(const Observation& a, const Observation& b,
                                           const std::string& name_a = "A",
                                           const std::string& name_b = "B");

// Writes `content` to `path` atomically (temporary file + rename). Returns false and a
// message on failure.
bool WriteFileAtomic(const std::string& path, const std::string& content, std::string* error);

}  // namespace rmaplab
