/// Results of concurrent iterations (`DispatchQueue.concurrentPerform`),
/// each written to its own slot and read once all have finished.
final class ConcurrentSlots<Value>: @unchecked Sendable {
    // @unchecked: each slot is written by one thread, and read after all have finished.
    private let slots: UnsafeMutableBufferPointer<Value?>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    func set(_ index: Int, _ value: Value?) { slots[index] = value }
    var all: [Value?] { Array(slots) }
}
