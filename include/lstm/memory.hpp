// Memory budget: refuse, before allocating, work whose buffers would not fit in the memory the
// process may still use, with a message naming the sizes (instead of bad_alloc or the OOM killer).
#pragma once

#include <cstdint>
#include <string>

namespace lstm {

// Bytes this process may still allocate: the smallest of the system's MemAvailable, the cgroup
// limit minus its use (cgroup v2), and the address-space limit (RLIMIT_AS) minus the process's
// current virtual size. UINT64_MAX when none of them can be read.
uint64_t available_memory_bytes();

// Throws lstm::Error("<what> needs about X of memory, but only Y is available") if `bytes`
// exceeds available_memory_bytes().
void require_memory(uint64_t bytes, const std::string& what);

// "512 B", "3.2 MB", "4.3 GB", "2.1 TB" (powers of 1000).
std::string byte_size_text(uint64_t bytes);

}  // namespace lstm
