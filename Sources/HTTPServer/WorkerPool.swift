import Foundation

/// A fixed set of threads running submitted jobs in order. Handlers may block here (a database round trip, a call to
/// Microsoft) without stalling libmicrohttpd's polling threads.
final class WorkerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var busy = 0
    private var isStopping = false
    private var liveThreads = 0

    /// Starts `threads` threads.
    init(threads: Int, name: String) {
        liveThreads = threads
        for index in 0..<threads {
            let thread = Thread { [self] in work() }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Queues a job.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Jobs waiting plus jobs running.
    var pending: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count - head + busy
    }

    /// Lets queued jobs finish, then ends the threads.
    func stop() {
        condition.lock()
        isStopping = true
        condition.broadcast()
        while liveThreads > 0 { condition.wait() }
        condition.unlock()
    }

    private func work() {
        condition.lock()
        while true {
            if head < jobs.count {
                let job = jobs[head]
                head += 1
                if head > 1024 && head * 2 > jobs.count {
                    jobs.removeFirst(head)
                    head = 0
                }
                busy += 1
                condition.unlock()
                job()
                condition.lock()
                busy -= 1
                condition.broadcast()
            } else if isStopping {
                liveThreads -= 1
                condition.broadcast()
                condition.unlock()
                return
            } else {
                condition.wait()
            }
        }
    }
}

