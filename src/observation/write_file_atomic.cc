// WriteFileAtomic: writes `path + ".tmp.<pid>"` (same directory, so the rename cannot
// cross file systems), then renames it over `path`. Readers see either the old file or
// the whole new one. No fsync: this guards against concurrent readers and interrupted
// runs, not power loss. On any failure the temporary file is removed, *error (when not
// null) gets a message naming the file and the reason, and the result is false.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "rmaplab/observation.h"

namespace rmaplab {
namespace {

bool Fail(std::string* error, const std::string& what, const std::string& file, int err) {
  if (error) *error = "cannot " + what + " " + file + ": " + std::strerror(err);
  return false;
}

// Writes all of `content` to `fd`, retrying short writes and EINTR.
bool WriteAll(int fd, const std::string& content) {
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool WriteFileAtomic(const std::string& path, const std::string& content, std::string* error) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(error, "create", tmp, errno);
  if (!WriteAll(fd, content)) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Fail(error, "write", tmp, err);
  }
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Fail(error, "write", tmp, err);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Fail(error, "rename " + tmp + " to", path, err);
  }
  return true;
}

}  // namespace rmaplab
