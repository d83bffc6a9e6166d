// Atomic file replacement: write a temporary file beside the target, fsync, rename over it.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>
#include <string>

#include "data/io_detail.hpp"
#include "lstm/io.hpp"

namespace lstm {
namespace {

using detail::errno_text;
using detail::fail;

// The directory that holds `path` ("." for a bare file name).
std::string parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A fresh name beside `path`, unique within this process and unlikely to collide across processes.
std::string temporary_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t process_salt = std::random_device{}();
  const uint64_t value = process_salt * 0x9e3779b97f4a7c15ull +
                         (counter++) * 0xbf58476d1ce4e5b9ull + static_cast<uint64_t>(::getpid());
  static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix;
  uint64_t rest = value;
  for (int k = 0; k < 8; ++k, rest /= 36) suffix.push_back(digits[rest % 36]);
  return path + ".tmp." + suffix;
}

// Writes every byte, retrying short writes and interrupted calls; returns 0 or an errno value.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t wrote = ::write(fd, data, size);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += wrote;
    size -= static_cast<size_t>(wrote);
  }
  return 0;
}

// Best effort: makes the rename durable. The file is already complete at its path when this
// runs, so a directory that cannot be opened or synced is not reported as a failed write.
void sync_directory(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  if (path.empty()) fail("(empty path)", "cannot write a file with an empty name");
  if (path.back() == '/') fail(path, "is a directory name, not a file name");
  const std::string directory = parent_directory(path);

  // O_EXCL with mode 0666 lets the umask set the permissions, as for any new file.
  std::string temporary;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temporary = temporary_name(path);
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    fail(path,
         "cannot create a temporary file in directory '" + directory + "': " + errno_text(errno));
  }

  const auto abandon = [&](const std::string& step, int error) {
    if (fd >= 0) ::close(fd);
    ::unlink(temporary.c_str());
    fail(path, step + ": " + errno_text(error));
  };
  if (int error = write_all(fd, bytes.data(), bytes.size())) abandon("cannot write", error);
  if (::fsync(fd) != 0) abandon("cannot sync to disk", errno);
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) abandon("cannot close", errno);
  if (::rename(temporary.c_str(), path.c_str()) != 0) abandon("cannot replace the file", errno);
  sync_directory(directory);
}

}  // namespace lstm
