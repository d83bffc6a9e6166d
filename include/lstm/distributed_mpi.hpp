// The MPI communicator (library lstm_mpi, built when CMake finds MPI): MPI_COMM_WORLD behind the
// lstm::distributed::Communicator hook. This header does not include <mpi.h>.
#pragma once

#include <memory>

#include "lstm/distributed.hpp"

namespace lstm::distributed {

// Initialises MPI and returns MPI_COMM_WORLD (MPI is finalised when it is destroyed). Every
// collective waits at most `timeout_seconds` for the other ranks, then throws lstm::Error naming
// this rank and the operation; an MPI error (a rank died) also throws instead of hanging or
// aborting. After such an error MPI is not finalised (it would wait for the dead rank): the
// process should exit non-zero, which makes mpiexec end the job.
std::unique_ptr<Communicator> mpi_world(double timeout_seconds);

}  // namespace lstm::distributed
