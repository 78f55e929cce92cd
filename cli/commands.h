// The rmaplab subcommands. Each registers its options on a CLI11 subcommand and returns
// the function that runs it (the process exit status).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace rmaplab::cli {

using Runner = std::function<int()>;

Runner AddSim(CLI::App& app);
Runner AddCheck(CLI::App& app);
Runner AddDiff(CLI::App& app);
Runner AddSchemes(CLI::App& app);
Runner AddNative(CLI::App& app);
Runner AddConform(CLI::App& app);
Runner AddCompare(CLI::App& app);
Runner AddRecord(CLI::App& app);
Runner AddReplay(CLI::App& app);
Runner AddFuzz(CLI::App& app);
Runner AddGraph(CLI::App& app);
Runner AddReport(CLI::App& app);
Runner AddBench(CLI::App& app);

// Expands files and directories (their *.rmap files, sorted, not recursive) into a list
// of scenario paths. Unreadable arguments are reported and make *ok false.
std::vector<std::string> CollectScenarios(const std::vector<std::string>& args, bool* ok);
// Scheme names from "all" or a comma-separated list; unknown names make *ok false.
std::vector<std::string> ResolveSchemes(const std::string& spec, bool* ok);
bool ReadFile(const std::string& path, std::string* out, std::string* error);
// How many walks visited each number of candidates: {"1": n1, "2": n2, ...} (for reports).
std::map<std::string, int64_t> Histogram(const std::map<int64_t, int64_t>& walks_by_candidates);
// --zero-page yes|no|host: does the model map the zero page on a read fault of private
// anon memory (yes: the spec and the default; host: as the running kernel does)?
void AddZeroPageOption(CLI::App& app, std::string* value);
bool ResolveZeroPage(const std::string& value);
// A one-line progress bar on stderr ("\r"-rewritten), only when stderr is a terminal.
void ProgressBar(const std::string& what, size_t done, size_t total);

}  // namespace rmaplab::cli
