// Tests for the observation document: JSON round trip, the equality rule and its
// messages, robustness against bad input, and atomic file writes.

#include "rmaplab/observation.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace rmaplab {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ScenarioDir() { return std::string(RMAPLAB_SHARED_DIR) + "/scenarios"; }

std::vector<std::string> NativeDocuments() {
  std::vector<std::string> paths;
  for (const auto& entry : fs::directory_iterator(ScenarioDir())) {
    std::string p = entry.path().string();
    if (p.size() > 12 && p.ends_with(".native.json")) paths.push_back(p);
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

Observation Load(const std::string& name) {
  std::string error;
  std::optional<Observation> obs =
      ObservationFromJson(ReadFile(ScenarioDir() + "/" + name), &error);
  EXPECT_TRUE(obs) << name << ": " << error;
  return obs.value_or(Observation{});
}

std::string ParseError(const std::string& text) {
  std::string error;
  std::optional<Observation> obs = ObservationFromJson(text, &error);
  EXPECT_FALSE(obs) << "accepted: " << text.substr(0, 200);
  EXPECT_FALSE(error.empty());
  return error;
}

ObsProcess Process(const std::string& name, bool alive = true) {
  ObsProcess p;
  p.name = name;
  p.alive = alive;
  return p;
}

ObsError Refusal(int line, const std::string& op, const std::string& errno_name) {
  ObsError e;
  e.line = line;
  e.op = op;
  e.errno_name = errno_name;
  return e;
}

ObsError Signal(int line, const std::string& op, const std::string& signal_name) {
  ObsError e;
  e.line = line;
  e.op = op;
  e.signal_name = signal_name;
  return e;
}

// A document exercising everything the native files do not: walks, no kernel, extra
// kernel names, strings that need escaping, an exited process, both errno and signal.
Observation Synthetic() {
  Observation obs;
  obs.scenario = "dir/synthetic.rmap";
  obs.source = "sim:\"odd\"\n\\scheme\x01";
  ObsPoint p;
  p.line = 3;
  ObsProcess a = Process("A");
  a.vmas.push_back({.start = 0, .end = 4, .prot = "rw-", .shared = false, .backing = "anon"});
  a.vmas.push_back({.start = 0xffffffffffffffffull,
                    .end = 1,
                    .prot = "r--",
                    .shared = true,
                    .backing = "file:F@3"});
  a.pages.push_back({.addr = 0, .frame = -1, .type = "zero", .mapcount = 0, .exclusive = false});
  a.pages.push_back({.addr = 1, .frame = 0, .type = "anon", .mapcount = 1, .exclusive = true});
  p.processes.push_back(a);
  p.processes.push_back(Process("B", /*alive=*/false));
  obs.observations.push_back(p);
  p.label = "end";
  p.line = 9;
  p.kernel = std::map<std::string, ObsCount>{
      {"zz", {1, 2}}, {"anon_vma_chain", {3, 4}}, {"a", {-5, 6}}, {"anon_vma", {7, 8}}};
  obs.observations.push_back(p);
  p.kernel = std::map<std::string, ObsCount>{};
  obs.observations.push_back(p);
  obs.errors.push_back(Refusal(2, "mmap", "EEXIST"));
  obs.errors.push_back(
      {.line = 5, .op = "write", .errno_name = "EFAULT", .signal_name = "SIGSEGV"});
  obs.walks = std::vector<ObsWalk>{
      {.line = 4, .found = {{"A", 1}, {"B", 2}}, .visited = 3, .false_positives = 1},
      {.line = 6, .found = {}, .visited = 0, .false_positives = 0}};
  return obs;
}

// ---------------------------------------------------------------------------------------
// JSON

TEST(ObservationJson, NativeDocumentsRoundTripByteForByte) {
  std::vector<std::string> paths = NativeDocuments();
  ASSERT_GE(paths.size(), 10u) << "scenarios not found under " << ScenarioDir();
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    std::string text = ReadFile(path);
    std::string error;
    std::optional<Observation> obs = ObservationFromJson(text, &error);
    ASSERT_TRUE(obs) << error;
    std::string json = ObservationToJson(*obs);
    // The emitter uses the native executor's layout, so a reference document comes
    // back unchanged.
    EXPECT_EQ(json, text);
    std::optional<Observation> again = ObservationFromJson(json, &error);
    ASSERT_TRUE(again) << error;
    EXPECT_EQ(ObservationToJson(*again), json);
    EXPECT_EQ(FirstDifference(*obs, *again), std::nullopt);
  }
}

TEST(ObservationJson, NativeDocumentsEqualThemselves) {
  for (const std::string& path : NativeDocuments()) {
    std::optional<Observation> obs = ObservationFromJson(ReadFile(path), nullptr);
    ASSERT_TRUE(obs) << path;
    EXPECT_EQ(FirstDifference(*obs, *obs), std::nullopt) << path;
  }
}

TEST(ObservationJson, SyntheticRoundTrip) {
  Observation obs = Synthetic();
  std::string json = ObservationToJson(obs);
  ASSERT_TRUE(json.ends_with("}\n"));
  EXPECT_EQ(ObservationToJson(obs), json);  // deterministic
  std::string error;
  std::optional<Observation> back = ObservationFromJson(json, &error);
  ASSERT_TRUE(back) << error << "\n" << json;
  EXPECT_EQ(ObservationToJson(*back), json);
  EXPECT_EQ(back->source, obs.source);
  EXPECT_FALSE(back->observations[0].label);
  EXPECT_FALSE(back->observations[0].kernel);
  ASSERT_TRUE(back->observations[2].kernel);
  EXPECT_TRUE(back->observations[2].kernel->empty());
  EXPECT_EQ(back->observations[0].processes[0].vmas[1].start, 0xffffffffffffffffull);
  EXPECT_EQ(back->observations[1].kernel->at("a"), (ObsCount{-5, 6}));
  EXPECT_EQ(back->errors, obs.errors);
  ASSERT_TRUE(back->walks);
  ASSERT_EQ(back->walks->size(), 2u);
  EXPECT_EQ((*back->walks)[0].found[1].process, "B");
  EXPECT_EQ((*back->walks)[0].found[1].addr, 2u);
  EXPECT_EQ((*back->walks)[0].false_positives, 1);
}

TEST(ObservationJson, Layout) {
  std::string json = ObservationToJson(Synthetic());
  // Kernel: anon_vma, anon_vma_chain, then sorted; values aligned.
  EXPECT_NE(json.find("      \"kernel\": {\n"
                      "        \"anon_vma\":       {\"alloc\": 7, \"free\": 8},\n"
                      "        \"anon_vma_chain\": {\"alloc\": 3, \"free\": 4},\n"
                      "        \"a\":              {\"alloc\": -5, \"free\": 6},\n"
                      "        \"zz\":             {\"alloc\": 1, \"free\": 2}\n"
                      "      }\n"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"kernel\": {}"), std::string::npos);
  EXPECT_NE(json.find("        {\"name\": \"B\", \"alive\": false,\n"
                      "          \"vmas\": [],\n"
                      "          \"pages\": []}\n"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("    {\"line\": 5, \"op\": \"write\", \"errno\": \"EFAULT\", "
                      "\"signal\": \"SIGSEGV\"}\n"),
            std::string::npos);
  EXPECT_NE(
      json.find("  \"walks\": [\n"
                "    {\"line\": 4, \"found\": [{\"process\": \"A\", \"addr\": 1}, "
                "{\"process\": \"B\", \"addr\": 2}], \"visited\": 3, \"false_positives\": 1},\n"
                "    {\"line\": 6, \"found\": [], \"visited\": 0, \"false_positives\": 0}\n"
                "  ]\n}\n"),
      std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("source": "sim:\"odd\"\n\\scheme\u0001")"), std::string::npos);
  EXPECT_EQ(ObservationToJson(Observation{}),
            "{\n  \"format\": \"rmaplab-observation/1\",\n  \"scenario\": \"\",\n"
            "  \"source\": \"\",\n  \"observations\": [],\n  \"errors\": []\n}\n");
}

TEST(ObservationJson, InvalidUtf8StillGivesValidJson) {
  Observation obs;
  obs.scenario = "caf\xc3\xa9.rmap";  // valid UTF-8 kept
  obs.source = "bad\xff";             // replaced
  std::string error;
  std::optional<Observation> back = ObservationFromJson(ObservationToJson(obs), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->scenario, obs.scenario);
  EXPECT_EQ(back->source, "bad\xef\xbf\xbd");
}

TEST(ObservationJson, UnknownKeysAndNullOptionalsAreAccepted) {
  std::string text = R"({"format": "rmaplab-observation/1", "scenario": "s", "source": "x",
    "extra": [1, 2], "walks": null,
    "observations": [{"label": null, "line": 1, "kernel": null, "what": {},
                      "processes": [{"name": "A", "alive": true, "vmas": [], "pages": [],
                                     "pid": 42}]}],
    "errors": [{"line": 1, "op": "mmap", "errno": "EINVAL", "note": "x"}]})";
  std::string error;
  std::optional<Observation> obs = ObservationFromJson(text, &error);
  ASSERT_TRUE(obs) << error;
  EXPECT_FALSE(obs->walks);
  EXPECT_FALSE(obs->observations[0].kernel);
  EXPECT_EQ(obs->errors[0].errno_name, "EINVAL");
}

// ---------------------------------------------------------------------------------------
// Bad input

TEST(ObservationJson, WrongTypesNameTheField) {
  std::string text = ReadFile(ScenarioDir() + "/fork-cow.native.json");
  // Hand edit: the fourth page of process P at observation #2 gets a string frame.
  const std::string from =
      R"({"addr": 3, "frame": 3, "type": "anon", "mapcount": 2, "exclusive": false})";
  size_t at = text.find(from);   // observation #1, P
  at = text.find(from, at + 1);  // observation #1, C
  at = text.find(from, at + 1);  // observation #2, P
  ASSERT_NE(at, std::string::npos);
  text.replace(at, from.size(),
               R"({"addr": 3, "frame": "3", "type": "anon", "mapcount": 2, "exclusive": false})");
  EXPECT_EQ(ParseError(text),
            "observations[1].processes[0].pages[3]: field 'frame' must be an integer (got string)");
}

TEST(ObservationJson, BadDocumentMessages) {
  auto doc = [](const std::string& observations, const std::string& errors = "[]") {
    return R"({"format": "rmaplab-observation/1", "scenario": "s", "source": "x", )"
           R"("observations": )" +
           observations + R"(, "errors": )" + errors + "}";
  };
  auto with_process = [&](const std::string& process) {
    return doc(R"([{"label": "l", "line": 1, "processes": [)" + process + "]}]");
  };
  auto with_page = [&](const std::string& page) {
    return with_process(R"({"name": "A", "alive": true, "vmas": [], "pages": [)" + page + "]}");
  };

  EXPECT_TRUE(ParseError("").starts_with("invalid JSON: "));
  EXPECT_TRUE(ParseError("{").starts_with("invalid JSON: "));
  EXPECT_TRUE(
      ParseError("{\"format\": \"rmaplab-observation/1\"} trailing").starts_with("invalid JSON: "));
  EXPECT_EQ(ParseError("null"), "document: must be an object (got null)");
  EXPECT_EQ(ParseError("[]"), "document: must be an object (got array)");
  EXPECT_EQ(ParseError("{}"), "missing field 'format'");
  EXPECT_EQ(ParseError(R"({"format": 1})"), "field 'format' must be a string (got number)");
  EXPECT_EQ(ParseError(R"({"format": "rmaplab-observation/2"})"),
            "unsupported format \"rmaplab-observation/2\" (expected \"rmaplab-observation/1\")");
  EXPECT_EQ(ParseError(R"({"format": "rmaplab-observation/1", "scenario": "s", "source": "x"})"),
            "missing field 'observations'");
  EXPECT_EQ(ParseError(doc("{}")), "field 'observations' must be an array (got object)");
  EXPECT_EQ(ParseError(doc("[3]")), "observations[0]: must be an object (got number)");
  EXPECT_EQ(ParseError(doc(R"([{"line": 1, "processes": []}])")),
            "observations[0]: missing field 'label'");
  EXPECT_EQ(ParseError(doc(R"([{"label": 7, "line": 1, "processes": []}])")),
            "observations[0]: field 'label' must be a string or null (got number)");
  EXPECT_EQ(ParseError(doc(R"([{"label": null, "line": 1.5, "processes": []}])")),
            "observations[0]: field 'line' must be an integer (got a non-integer number)");
  EXPECT_EQ(ParseError(doc(R"([{"label": null, "line": 99999999999, "processes": []}])")),
            "observations[0]: field 'line' is out of range (99999999999)");
  EXPECT_EQ(ParseError(doc(R"([{"label": null, "line": 1, "processes": [], "kernel": []}])")),
            "observations[0].kernel: must be an object (got array)");
  EXPECT_EQ(ParseError(doc(R"([{"label": null, "line": 1, "processes": [],
                                "kernel": {"anon_vma": {"alloc": 1}}}])")),
            "observations[0].kernel.anon_vma: missing field 'free'");
  EXPECT_EQ(ParseError(with_process(R"({"name": "A", "alive": 1, "vmas": [], "pages": []})")),
            "observations[0].processes[0]: field 'alive' must be a boolean (got number)");
  EXPECT_EQ(ParseError(with_process(
                R"({"name": "A", "alive": true, "vmas": [{"start": -1}], "pages": []})")),
            "observations[0].processes[0].vmas[0]: field 'start' must not be negative (got -1)");
  EXPECT_EQ(ParseError(with_page(R"({"addr": 1, "frame": 18446744073709551615, "type": "anon",
                                     "mapcount": 1, "exclusive": true})")),
            "observations[0].processes[0].pages[0]: field 'frame' is out of range "
            "(18446744073709551615)");
  EXPECT_EQ(ParseError(with_page(R"({"addr": 1e30, "frame": 0})")),
            "observations[0].processes[0].pages[0]: field 'addr' must be an integer (got a "
            "non-integer number)");
  EXPECT_EQ(ParseError(with_page(R"({"addr": 1, "frame": 0, "type": null})")),
            "observations[0].processes[0].pages[0]: field 'type' must be a string (got null)");
  EXPECT_EQ(ParseError(doc("[]", R"([{"line": 3, "op": "mmap"}])")),
            "errors[0]: needs field 'errno' or 'signal'");
  EXPECT_EQ(ParseError(doc("[]", R"([{"line": 3, "op": "mmap", "signal": 11}])")),
            "errors[0]: field 'signal' must be a string (got number)");
  std::string no_walks = doc("[]");
  no_walks.pop_back();  // the closing brace
  EXPECT_EQ(ParseError(no_walks + R"(, "walks": [{"line": 1, "found": [{"process": "A"}]}]})"),
            "walks[0].found[0]: missing field 'addr'");
}

TEST(ObservationJson, GarbageNeverCrashes) {
  EXPECT_FALSE(ObservationFromJson(std::string(100000, '['), nullptr));
  EXPECT_FALSE(ObservationFromJson(std::string("\0\xff\xfe", 3), nullptr));
  EXPECT_FALSE(ObservationFromJson("\"\xff\"", nullptr));
  EXPECT_FALSE(ObservationFromJson(R"({"format": "rmaplab-observation/1", "format": 2})", nullptr));

  // Every truncation and many random byte mutations of a real document.
  std::string text = ReadFile(ScenarioDir() + "/fork-cow.native.json");
  ASSERT_FALSE(text.empty());
  for (size_t n = 0; n + 2 < text.size(); ++n) {
    std::string error;
    EXPECT_FALSE(ObservationFromJson(text.substr(0, n), &error));
    EXPECT_FALSE(error.empty());
  }
  std::mt19937 rng(42);
  const std::string alphabet = "{}[]\":,0123456789-.eEtrufalsn x\\\x01\xff";
  for (int i = 0; i < 5000; ++i) {
    std::string mutated = text;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      mutated[rng() % mutated.size()] = alphabet[rng() % alphabet.size()];
    }
    std::string error;
    std::optional<Observation> obs = ObservationFromJson(mutated, &error);
    if (obs) {
      // Whatever was accepted must serialise and parse again.
      EXPECT_TRUE(ObservationFromJson(ObservationToJson(*obs), nullptr));
    } else {
      EXPECT_FALSE(error.empty());
    }
  }
}

// ---------------------------------------------------------------------------------------
// Equality rule and messages

TEST(FirstDifference, PageFrame) {
  Observation a = Load("fork-cow.native.json");
  Observation b = a;
  ObsPage& page = b.observations[1].processes[1].pages[1];
  ASSERT_EQ(page.frame, 4);
  page.frame = 5;
  EXPECT_EQ(FirstDifference(a, b),
            "observation #2 'child-copied' (line 9), process C, page 0x1: frame differs: "
            "A has 4, B has 5");
  EXPECT_EQ(FirstDifference(a, b, "sim:linux", "native"),
            "observation #2 'child-copied' (line 9), process C, page 0x1: frame differs: "
            "sim:linux has 4, native has 5");
}

TEST(FirstDifference, HandEditedText) {
  std::string text = ReadFile(ScenarioDir() + "/fork-cow.native.json");
  const std::string from =
      R"({"addr": 1, "frame": 4, "type": "anon", "mapcount": 1, "exclusive": true})";
  size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos);
  std::string edited = text;
  edited.replace(at, from.size(),
                 R"({"addr": 1, "frame": 4, "type": "anon", "mapcount": 3, "exclusive": true})");
  std::optional<Observation> a = ObservationFromJson(text, nullptr);
  std::optional<Observation> b = ObservationFromJson(edited, nullptr);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(FirstDifference(*a, *b, "ref", "edited"),
            "observation #2 'child-copied' (line 9), process C, page 0x1: mapcount differs: "
            "ref has 1, edited has 3");
}

TEST(FirstDifference, PageTypeAndExclusive) {
  Observation a = Load("zero-page-then-write.native.json");
  Observation b = a;
  ObsPage& page = b.observations[0].processes[0].pages[1];
  page.type = "anon";
  EXPECT_NE(FirstDifference(a, b)->find("page 0x1: type differs: A has zero, B has anon"),
            std::string::npos);
  page.type = "zero";
  page.exclusive = true;
  EXPECT_NE(FirstDifference(a, b)->find("page 0x1: exclusive differs: A has false, B has true"),
            std::string::npos);
}

TEST(FirstDifference, PagePresentOnOneSideOnly) {
  Observation a = Load("fork-cow.native.json");
  Observation b = a;
  auto& pages = b.observations[0].processes[1].pages;
  pages.erase(pages.begin() + 2);
  EXPECT_EQ(FirstDifference(a, b),
            "observation #1 'shared' (line 7), process C, page 0x2: present in A only "
            "(frame 2, anon, mapcount 2, not exclusive); A has 4 pages, B has 3");
  EXPECT_EQ(FirstDifference(b, a, "sim", "native"),
            "observation #1 'shared' (line 7), process C, page 0x2: present in native only "
            "(frame 2, anon, mapcount 2, not exclusive); sim has 3 pages, native has 4");
  // A page present on one side only is reported even when an earlier page also differs.
  b.observations[0].processes[1].pages[0].mapcount = 7;
  EXPECT_NE(FirstDifference(a, b)->find("page 0x2: present in A only"), std::string::npos);
}

TEST(FirstDifference, VmaEndAndCount) {
  Observation a = Load("errors.native.json");
  Observation b = a;
  b.observations[0].processes[0].vmas[0].end = 6;
  EXPECT_EQ(FirstDifference(a, b),
            "observation #1 'end' (line 12), process A, VMA #1 0x0-0x4 r-- anon: end differs: "
            "A has 0x4, B has 0x6");

  Observation c = Load("adjacent-mmaps-merge.native.json");
  Observation d = c;
  auto& vmas = d.observations[0].processes[0].vmas;
  vmas[1].end = 40;
  vmas.pop_back();
  EXPECT_EQ(FirstDifference(c, d),
            "observation #1 (unlabelled, line 9), process A: VMA count differs: "
            "A has 3 [0x0-0x10 rw- anon, 0x20-0x24 rw- anon, 0x24-0x28 r-- anon], "
            "B has 2 [0x0-0x10 rw- anon, 0x20-0x28 rw- anon]");
}

TEST(FirstDifference, VmaProtSharedBacking) {
  Observation a = Load("shared-anon-fork.native.json");
  Observation b = a;
  ObsVma& vma = b.observations[0].processes[1].vmas[0];
  vma.prot = "r--";
  EXPECT_EQ(FirstDifference(a, b),
            "observation #1 (unlabelled, line 8), process B, VMA #1 0x0-0x4 rw- shared shmem: "
            "prot differs: A has rw-, B has r--");
  vma.prot = "rw-";
  vma.shared = false;
  EXPECT_NE(FirstDifference(a, b)->find("shared differs: A has true, B has false"),
            std::string::npos);
  vma.shared = true;
  vma.backing = "anon";
  EXPECT_NE(FirstDifference(a, b)->find("backing differs: A has shmem, B has anon"),
            std::string::npos);
}

TEST(FirstDifference, LabelLineAndCounts) {
  Observation a = Load("fork-cow.native.json");
  Observation b = a;
  b.observations[1].label = "copied";
  EXPECT_EQ(FirstDifference(a, b),
            "observation #2 'child-copied' (line 9): label differs: A has 'child-copied', "
            "B has 'copied'");
  b.observations[1].label.reset();
  EXPECT_EQ(FirstDifference(a, b),
            "observation #2 'child-copied' (line 9): label differs: A has 'child-copied', "
            "B has no label");
  b = a;
  b.observations[2].line = 12;
  EXPECT_EQ(FirstDifference(a, b),
            "observation #3 'end' (line 11): line differs: A has 11, B has 12");
  b = a;
  b.observations.erase(b.observations.begin() + 1);
  EXPECT_EQ(
      FirstDifference(a, b),
      "observation count differs: A has 3 [shared, child-copied, end], B has 2 [shared, end]");
  b = a;
  b.observations[0].processes.pop_back();
  EXPECT_EQ(FirstDifference(a, b),
            "observation #1 'shared' (line 7): process count differs: A has 2 [P, C], B has 1 [P]");
  b = a;
  b.observations[0].processes[1].name = "D";
  EXPECT_EQ(FirstDifference(a, b),
            "observation #1 'shared' (line 7), process #2: name differs: A has C, B has D");
  b = a;
  b.observations[0].processes[1].alive = false;
  EXPECT_EQ(FirstDifference(a, b),
            "observation #1 'shared' (line 7), process C: alive differs: A has true, B has false");
}

TEST(FirstDifference, Errors) {
  Observation a = Load("errors.native.json");
  Observation b = a;
  b.errors.pop_back();
  EXPECT_EQ(FirstDifference(a, b),
            "errors: A has 5 entries, B has 4; first missing in B: line 11 read SIGSEGV");
  EXPECT_EQ(FirstDifference(b, a),
            "errors: A has 4 entries, B has 5; first missing in A: line 11 read SIGSEGV");
  b = a;
  b.errors[2].errno_name = "EINVAL";
  EXPECT_EQ(FirstDifference(a, b),
            "errors: entry 3 differs: A has line 7 mprotect ENOMEM, B has line 7 mprotect EINVAL");
  b = a;
  b.errors.erase(b.errors.begin() + 1);
  EXPECT_EQ(FirstDifference(a, b),
            "errors: entry 2 differs: A has line 6 mmap EEXIST, B has line 7 mprotect ENOMEM "
            "(A has 5 entries, B has 4)");
  // Errors are an ordered list.
  b = a;
  std::swap(b.errors[0], b.errors[1]);
  EXPECT_NE(FirstDifference(a, b), std::nullopt);
}

TEST(FirstDifference, DifferencesReportedInScriptOrder) {
  Observation a;
  a.scenario = "s.rmap";
  for (int line : {5, 10}) {
    ObsPoint p;
    p.line = line;
    p.processes.push_back(Process("A"));
    a.observations.push_back(p);
  }
  a.errors.push_back(Refusal(7, "munmap", "EINVAL"));
  Observation b = a;
  b.errors[0].errno_name = "ENOMEM";
  b.observations[1].processes[0].alive = false;
  // The refusal at line 7 comes before the observation at line 10 it may explain.
  EXPECT_EQ(FirstDifference(a, b),
            "errors: entry 1 differs: A has line 7 munmap EINVAL, B has line 7 munmap ENOMEM");
  // But an observation at line 5 comes before it.
  b.observations[0].processes[0].alive = false;
  EXPECT_EQ(
      FirstDifference(a, b),
      "observation #1 (unlabelled, line 5), process A: alive differs: A has true, B has false");
  // Errors after the last observation are still compared.
  b = a;
  b.errors.push_back(Signal(12, "write", "SIGSEGV"));
  EXPECT_EQ(FirstDifference(a, b),
            "errors: A has 1 entries, B has 2; first missing in A: line 12 write SIGSEGV");
}

TEST(FirstDifference, Kernel) {
  Observation a = Load("errors.native.json");
  Observation b = a;
  b.observations[0].kernel->at("anon_vma_chain").alloc = 3;
  EXPECT_EQ(
      FirstDifference(a, b),
      "observation #1 'end' (line 12), kernel anon_vma_chain.alloc differs: A has 0, B has 3");
  b.observations[0].kernel->at("anon_vma").free = 1;
  EXPECT_EQ(FirstDifference(a, b),
            "observation #1 'end' (line 12), kernel anon_vma.free differs: A has 0, B has 1");

  // Absent on one side: not compared.
  Observation c = b;
  c.observations[0].kernel.reset();
  EXPECT_EQ(FirstDifference(a, c), std::nullopt);
  EXPECT_EQ(FirstDifference(c, a), std::nullopt);

  // Names only one side reports: not compared.
  Observation d = a;
  d.observations[0].kernel->erase("anon_vma_chain");
  (*d.observations[0].kernel)["rmap_item"] = {9, 9};
  EXPECT_EQ(FirstDifference(a, d), std::nullopt);
  d.observations[0].kernel->at("anon_vma").alloc = 1;
  EXPECT_EQ(FirstDifference(d, a),
            "observation #1 'end' (line 12), kernel anon_vma.alloc differs: A has 1, B has 0");
}

TEST(FirstDifference, IgnoresSourceAndWalksAndComparesScenarioBaseName) {
  Observation a = Load("errors.native.json");
  Observation b = a;
  b.source = "sim:linux";
  b.walks = std::vector<ObsWalk>{{.line = 3, .found = {{"A", 0}}, .visited = 1}};
  b.scenario = "/work/shared/scenarios/errors.rmap";
  EXPECT_EQ(FirstDifference(a, b), std::nullopt);
  a.scenario = "scenarios/errors.rmap";
  EXPECT_EQ(FirstDifference(a, b), std::nullopt);
  b.scenario = "/work/shared/scenarios/other.rmap";
  EXPECT_EQ(FirstDifference(a, b), "scenario differs: A has errors.rmap, B has other.rmap");
}

TEST(FirstDifference, EveryNativeDocumentDiffersFromEveryOther) {
  std::vector<Observation> all;
  for (const std::string& path : NativeDocuments()) {
    all.push_back(*ObservationFromJson(ReadFile(path), nullptr));
  }
  for (size_t i = 0; i < all.size(); ++i) {
    for (size_t j = 0; j < all.size(); ++j) {
      EXPECT_EQ(FirstDifference(all[i], all[j]).has_value(), i != j) << i << " " << j;
    }
  }
}

// ---------------------------------------------------------------------------------------
// WriteFileAtomic

class WriteFileAtomicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "obs_write_XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
};

TEST_F(WriteFileAtomicTest, WritesAndReplacesLeavingNoTemporary) {
  std::string path = dir_ + "/out.json";
  std::string error;
  ASSERT_TRUE(WriteFileAtomic(path, "first\n", &error)) << error;
  EXPECT_EQ(ReadFile(path), "first\n");
  std::string big(1 << 20, 'x');
  ASSERT_TRUE(WriteFileAtomic(path, big, &error)) << error;
  EXPECT_EQ(ReadFile(path), big);
  ASSERT_TRUE(WriteFileAtomic(path, "", &error)) << error;
  EXPECT_EQ(ReadFile(path), "");
  EXPECT_EQ(Entries(), std::vector<std::string>{"out.json"});
}

TEST_F(WriteFileAtomicTest, FailureGivesMessageAndLeavesNothing) {
  std::string error;
  EXPECT_FALSE(WriteFileAtomic(dir_ + "/missing/out.json", "x", &error));
  EXPECT_NE(error.find("missing/out.json.tmp."), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  // Renaming over a directory fails after the temporary was written: it is removed.
  fs::create_directory(dir_ + "/sub");
  fs::create_directory(dir_ + "/sub/keep");  // a non-empty directory cannot be replaced
  EXPECT_FALSE(WriteFileAtomic(dir_ + "/sub", "x", &error));
  EXPECT_NE(error.find("cannot rename"), std::string::npos) << error;
  EXPECT_EQ(Entries(), std::vector<std::string>{"sub"});
  EXPECT_FALSE(WriteFileAtomic(dir_ + "/none/x", "x", nullptr));  // null error is fine
}

}  // namespace
}  // namespace rmaplab
