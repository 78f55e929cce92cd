// Cleanup that must happen on every exit path of a native run, including SIGINT/SIGTERM:
// scenario processes are killed and the private tracing instance is switched off and
// removed. The registry is async-signal-safe (fixed arrays, raw syscalls only).
#pragma once

#include <sys/types.h>

namespace rmaplab::native {

// Installs SIGINT/SIGTERM/SIGHUP handlers that run the cleanup and exit 130/143.
void InstallCleanupHandlers();
void RegisterPid(pid_t pid);
void UnregisterPid(pid_t pid);
// `dir` is the instance directory (…/tracing/instances/NAME). Returns a slot for
// UnregisterTracingInstance (or -1 if the registry is full).
int RegisterTracingInstance(const char* dir);
void UnregisterTracingInstance(int slot);
// A cgroup directory removed (after the kill) by the cleanup.
int RegisterCgroup(const char* dir);
void UnregisterCgroup(int slot);
// Kills every registered process and switches off / removes the registered instance.
void RunCleanup();

}  // namespace rmaplab::native
