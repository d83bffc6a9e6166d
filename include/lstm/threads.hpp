// How many threads the library uses.
#pragma once

namespace lstm {

// Sets the number of threads for every later call (0 or less: all cores). The library runs
// its own threads and keeps OpenBLAS single-threaded, so the two never compete for cores.
void set_num_threads(int threads);
int num_threads();

}  // namespace lstm
