#include <mpi.h>

// MPI's handles are macros (addresses of library globals) that Swift cannot
// import; these return them.
static inline MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype cmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype cmpi_int(void) { return MPI_INT; }
static inline MPI_Datatype cmpi_uint32(void) { return MPI_UINT32_T; }
static inline MPI_Datatype cmpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype cmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Op cmpi_sum(void) { return MPI_SUM; }
static inline MPI_Op cmpi_max(void) { return MPI_MAX; }
static inline MPI_Request cmpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *cmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Errhandler cmpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int cmpi_success(void) { return MPI_SUCCESS; }
static inline int cmpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
