import Foundation
import Synchronization

/// Counters and histograms in Prometheus' text format.
public final class Metrics: Sendable {
    struct RequestKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    struct Histogram {
        var buckets: [Int]
        var sum: Double = 0
        var count = 0
    }

    /// Latency bucket bounds in seconds.
    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private let requests = Mutex<[RequestKey: Int]>([:])
    private let latency = Mutex<[String: Histogram]>([:])

    /// Empty metrics.
    public init() {}

    /// Counts a finished request.
    func observe(route: String, method: String, status: Int, seconds: Double) {
        requests.withLock { $0[RequestKey(route: route, method: method, status: status), default: 0] += 1 }
        latency.withLock { histograms in
            var histogram = histograms[route] ?? Histogram(buckets: Array(repeating: 0, count: Self.bounds.count))
            if let index = Self.bounds.firstIndex(where: { seconds <= $0 }) { histogram.buckets[index] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            histograms[route] = histogram
        }
    }

    /// The exposition text, with extra gauge lines appended.
    func render(gauges: [(name: String, help: String, labels: String, value: Double)]) -> String {
        var out = "# HELP tokenvault_http_requests_total HTTP requests by route, method and status.\n"
        out += "# TYPE tokenvault_http_requests_total counter\n"
        for (key, count) in requests.withLock({ $0 }).sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            out += "tokenvault_http_requests_total{route=\"\(escape(key.route))\",method=\"\(key.method)\",status=\"\(key.status)\"} \(count)\n"
        }
        out += "# HELP tokenvault_http_request_duration_seconds Time from request to response.\n"
        out += "# TYPE tokenvault_http_request_duration_seconds histogram\n"
        for (route, histogram) in latency.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            var cumulative = 0
            for (index, bound) in Self.bounds.enumerated() {
                cumulative += histogram.buckets[index]
                out += "tokenvault_http_request_duration_seconds_bucket{route=\"\(escape(route))\",le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "tokenvault_http_request_duration_seconds_bucket{route=\"\(escape(route))\",le=\"+Inf\"} \(histogram.count)\n"
            out += "tokenvault_http_request_duration_seconds_sum{route=\"\(escape(route))\"} \(histogram.sum)\n"
            out += "tokenvault_http_request_duration_seconds_count{route=\"\(escape(route))\"} \(histogram.count)\n"
        }
        var declared = Set<String>()
        for gauge in gauges {
            if declared.insert(gauge.name).inserted {
                out += "# HELP \(gauge.name) \(gauge.help)\n# TYPE \(gauge.name) gauge\n"
            }
            out += "\(gauge.name)\(gauge.labels.isEmpty ? "" : "{\(gauge.labels)}") \(gauge.value)\n"
        }
        return out
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
