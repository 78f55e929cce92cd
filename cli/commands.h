// The rmaplab subcommands. Each registers its options on a CLI11 subcommand and returns
// the function that runs it (the process exit status).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
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

// Expands files and directories (their *.rmap files, sorted, not recursive) into a list
// of scenario paths. Unreadable arguments are reported and make *ok false.
std::vector<std::string> CollectScenarios(const std::vector<std::string>& args, bool* ok);
// Scheme names from "all" or a comma-separated list; unknown names make *ok false.
std::vector<std::string> ResolveSchemes(const std::string& spec, bool* ok);
bool ReadFile(const std::string& path, std::string* out, std::string* error);

}  // namespace rmaplab::cli
