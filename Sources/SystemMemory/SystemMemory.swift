/// glibc's allocator knobs (malloc.h, which Swift's Glibc module leaves out).
public enum SystemMemory {
    /// Returns to the system what glibc's arenas keep of freed memory.
    public static func giveBack() { _ = malloc_trim(0) }

    /// For a process whose allocations come in bursts: at most `arenas`
    /// malloc arenas, and blocks from `mmapFrom` bytes up mapped on their own
    /// (and unmapped when freed) rather than carved from an arena, where
    /// they would leave holes that pin its pages. Call before threads start.
    public static func tune(arenas: Int32, mmapFrom: Int32 = 128 * 1024) {
        _ = mallopt(-8 /* M_ARENA_MAX */, arenas)
        // Setting it also stops glibc from raising it after each large free.
        _ = mallopt(-3 /* M_MMAP_THRESHOLD */, mmapFrom)
    }
}

@_silgen_name("malloc_trim") private func malloc_trim(_ pad: Int) -> Int32
@_silgen_name("mallopt") private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
