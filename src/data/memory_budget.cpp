// The memory a process may still use, from /proc, cgroup v2 and RLIMIT_AS, and the refusal of
// work that would not fit.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "lstm/error.hpp"
#include "lstm/memory.hpp"

namespace lstm {
namespace {

constexpr uint64_t kUnknown = std::numeric_limits<uint64_t>::max();

// "MemAvailable:   22759244 kB" in /proc/meminfo, in bytes.
uint64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kilobytes = 0;
  std::string unit;
  while (in >> key >> kilobytes >> unit)
    if (key == "MemAvailable:") return kilobytes * 1024;
  return kUnknown;
}

// A number in a one-line file ("max" or unreadable: unknown).
uint64_t read_number(const std::string& path) {
  std::ifstream in(path);
  uint64_t value = 0;
  return in >> value ? value : kUnknown;
}

uint64_t cgroup_room() {
  const uint64_t limit = read_number("/sys/fs/cgroup/memory.max");
  if (limit == kUnknown) return kUnknown;
  const uint64_t used = read_number("/sys/fs/cgroup/memory.current");
  return used == kUnknown || used >= limit ? (used == kUnknown ? limit : 0) : limit - used;
}

uint64_t address_space_room() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return kUnknown;
  std::ifstream in("/proc/self/statm");
  uint64_t pages = 0;
  const uint64_t size = in >> pages ? pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
  return size >= limit.rlim_cur ? 0 : limit.rlim_cur - size;
}

}  // namespace

uint64_t available_memory_bytes() {
  return std::min({mem_available(), cgroup_room(), address_space_room()});
}

void require_memory(uint64_t bytes, const std::string& what) {
  const uint64_t available = available_memory_bytes();
  if (bytes > available)
    throw Error(what + " needs about " + byte_size_text(bytes) + " of memory, but only " +
                byte_size_text(available) + " is available");
}

std::string byte_size_text(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000.0 && unit < 6) {
    value /= 1000.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

}  // namespace lstm
