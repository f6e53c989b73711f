import Foundation
import SecretsCore
import Testing

@Suite("Operation deadlines")
struct DeadlineTests {
    @Test func withoutADeadlineTheLimitApplies() {
        #expect(Deadline.end == nil)
        #expect(Deadline.remaining(atMost: 7) == 7)
    }

    @Test func aDeadlineBoundsWhatIsLeftAndEndsWithItsScope() {
        Deadline.within(2) {
            let left = Deadline.remaining(atMost: 10)
            #expect(left > 1.5 && left <= 2)
            #expect(Deadline.remaining(atMost: 1) == 1)
        }
        #expect(Deadline.end == nil)
    }

    @Test func anInnerDeadlineNeverExtendsAnOuterOne() {
        Deadline.within(1) {
            let outer = Deadline.end
            Deadline.within(60) { #expect(Deadline.end == outer) }
            Deadline.within(0.1) { #expect(Deadline.remaining(atMost: 10) <= 0.1) }
        }
    }

    @Test func errorsPassThroughWithTheirType() {
        struct Failure: Error, Equatable {}
        #expect(throws: Failure()) { try Deadline.within(1) { () throws(Failure) in throw Failure() } }
    }

    @Test func anotherThreadSeesNoDeadlineUnlessHandedOne() {
        Deadline.within(5) {
            let end = Deadline.end
            let seen = UnsafeSendableBox<(Date?, Date?)>((nil, nil))
            // The semaphore orders the thread's write before the reads below
            // (polling isFinished does not: ThreadSanitizer saw a race).
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                let plain = Deadline.end
                let handed = Deadline.at(end) { Deadline.end }
                seen.value = (plain, handed)
                done.signal()
            }
            thread.start()
            done.wait()
            #expect(seen.value.0 == nil)
            #expect(seen.value.1 == end)
        }
    }
}

/// A value written by one thread and read after that thread signalled.
final class UnsafeSendableBox<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
