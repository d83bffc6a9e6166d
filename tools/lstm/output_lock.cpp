// Advisory output locks: flock on a lock file beside the output, checked to still be the file at
// that path (a holder removes it before releasing, so a waiter may have locked a removed file).
#include "output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "lstm/error.hpp"

namespace lstm_cli {
namespace {

// The process id written in a lock file ("" if unreadable).
std::string holder_of(int fd) {
  char text[32] = {};
  const ssize_t got = ::pread(fd, text, sizeof text - 1, 0);
  if (got <= 0) return "";
  std::string pid(text, static_cast<size_t>(got));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

// Removes "<path>.tmp.XXXXXXXX" files (write_file_atomically's) left by a writer that was killed:
// with the lock held, no other process is writing them.
void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path file(path);
  const fs::path directory = file.has_parent_path() ? file.parent_path() : fs::path(".");
  const std::string prefix = file.filename().string() + ".tmp.";
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == prefix.size() + 8 && name.starts_with(prefix) && entry.is_regular_file())
      fs::remove(entry.path(), error);
  }
}

}  // namespace

OutputLock::OutputLock(const std::string& path, const std::string& option)
    : lock_path_(path + ".lock") {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
      throw lstm::Error(lock_path_ + ": cannot create the lock file: " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      const std::string holder = holder_of(fd);
      ::close(fd);
      if (error == EWOULDBLOCK)
        throw lstm::Error(path + ": another lstm train" +
                          (holder.empty() ? std::string() : " (process " + holder + ")") +
                          " is writing it (lock " + lock_path_ + "); wait for it or choose another " +
                          option);
      throw lstm::Error(lock_path_ + ": cannot lock: " + std::strerror(error));
    }
    struct stat locked {}, current {};
    if (::fstat(fd, &locked) == 0 && ::stat(lock_path_.c_str(), &current) == 0 &&
        locked.st_ino == current.st_ino && locked.st_dev == current.st_dev) {
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) == 0) (void)::pwrite(fd, pid.data(), pid.size(), 0);
      fd_ = fd;
      remove_stale_temporaries(path);
      return;
    }
    ::close(fd);  // the holder removed it meanwhile: lock the new one
  }
  throw lstm::Error(lock_path_ + ": cannot lock: the lock file keeps changing");
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  ::unlink(lock_path_.c_str());
  ::close(fd_);
}

}  // namespace lstm_cli
