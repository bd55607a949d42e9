/// glibc's allocator knobs (malloc.h, which Swift's Glibc module leaves out).
public enum SystemMemory {
    /// Returns to the system what glibc's arenas keep of freed memory.
    public static func giveBack() { _ = malloc_trim(0) }

    /// At most `count` malloc arenas; call before threads start allocating.
    public static func limitArenas(_ count: Int32) { _ = mallopt(-8 /* M_ARENA_MAX */, count) }
}

@_silgen_name("malloc_trim") private func malloc_trim(_ pad: Int) -> Int32
@_silgen_name("mallopt") private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
