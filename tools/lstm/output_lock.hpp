// One writer per output: an advisory lock (flock) held on "<path>.lock" while a command writes
// `path`, so that a second `lstm train` with the same --out or checkpoint is refused.
#pragma once

#include <string>

namespace lstm_cli {

class OutputLock {
 public:
  // Locks "<path>.lock" (created if needed, holding this process's id) or throws lstm::Error
  // naming `path`, the other process's id and `option` (e.g. "--out") if another process holds it.
  // Once locked, removes temporary files of `path` that a killed writer left behind.
  OutputLock(const std::string& path, const std::string& option);
  ~OutputLock();  // removes the lock file, then releases the lock
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  std::string lock_path_;
  int fd_ = -1;
};

}  // namespace lstm_cli
