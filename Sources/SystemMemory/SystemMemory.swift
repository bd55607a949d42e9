import Glibc

/// glibc's allocator knobs (malloc.h, which Swift's Glibc module leaves out).
public enum SystemMemory {
    /// Returns to the system what glibc's arenas keep of freed memory.
    public static func giveBack() { _ = malloc_trim(0) }

    /// For a process whose allocations come in bursts:
    /// - no per-thread caches: `malloc_trim` cannot reach them, and after 200
    ///   clients the server's 22 threads kept about 2 MB of freed chunks
    ///   there, pinning pages all over the heap;
    /// - two arenas, not one per thread, so less is stranded between bursts;
    /// - blocks from 128 KiB up mapped on their own and unmapped when freed
    ///   (a fixed threshold: glibc otherwise raises it after each large free);
    /// - no huge pages, whatever the environment asked for (`make` asks, for
    ///   the ranks' pixel buffers): one small block left in a 2 MB page keeps
    ///   all of it.
    static let burstTunables = "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072:glibc.malloc.hugetlb=0"

    /// Runs this program again with `burstTunables` unless its
    /// `GLIBC_TUNABLES` already sets the cache: glibc reads tunables only as a
    /// process starts, and the per-thread caches have no `mallopt`. Call it
    /// first thing in `main`; the process keeps its PID and arguments.
    public static func restartTunedForBursts() {
        let current = getenv("GLIBC_TUNABLES").map { String(cString: $0) } ?? ""
        if current.contains("glibc.malloc.tcache_count") { return }
        setenv("GLIBC_TUNABLES", current.isEmpty ? burstTunables : current + ":" + burstTunables, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed: run on with glibc's defaults.
    }
}

@_silgen_name("malloc_trim") private func malloc_trim(_ pad: Int) -> Int32
