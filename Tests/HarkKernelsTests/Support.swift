import CHarkKernels
import Foundation

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal sample (Box–Muller).
    mutating func gaussian() -> Float {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    mutating func int8s(_ count: Int) -> [Int8] {
        (0..<count).map { _ in Int8.random(in: -127...127, using: &self) }
    }
}

/// Which kernel build a test drives.
enum Path: CaseIterable, CustomStringConvertible {
    case avx2, portable
    var description: String { self == .avx2 ? "avx2" : "portable" }
    /// The paths this machine can run.
    static var available: [Path] { hark_kernels_have_avx2() != 0 ? [.avx2, .portable] : [.portable] }
}

/// int8 operands laid out for the C kernels.
struct Operands {
    let m: Int, n: Int, k: Int
    /// Activations in the kernels' layout (q then |q| per row).
    var activations: [Int8]
    var rowBytes: Int
    /// Packed weights.
    var packed: [Int8]

    init(a: [Int8], w: [Int8], m: Int, n: Int, k: Int) {
        self.m = m
        self.n = n
        self.k = k
        rowBytes = hark_s8_activation_row_bytes(k)
        activations = [Int8](repeating: 0, count: max(1, m * rowBytes))
        packed = [Int8](repeating: 0, count: max(1, hark_s8_packed_bytes(n, k)))
        let rowBytes = self.rowBytes
        activations.withUnsafeMutableBufferPointer { dst in
            a.withUnsafeBufferPointer { src in
                hark_s8_prepare_activations(src.baseAddress, m, k, k, dst.baseAddress, rowBytes)
            }
        }
        packed.withUnsafeMutableBufferPointer { dst in
            w.withUnsafeBufferPointer { src in
                hark_s8_pack_weights(src.baseAddress, n, k, k, dst.baseAddress)
            }
        }
    }

    /// Raw int32 accumulations for rows [m0, m1) × columns [n0, n1) into a full m × n matrix
    /// prefilled with `fill`.
    func accumulations(_ path: Path, m0: Int = 0, m1: Int? = nil, n0: Int = 0, n1: Int? = nil,
                       fill: Int32 = 0) -> [Int32] {
        var out = [Int32](repeating: fill, count: max(1, m * n))
        let m1 = m1 ?? m, n1 = n1 ?? n
        activations.withUnsafeBufferPointer { a in
            packed.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { c in
                    switch path {
                    case .avx2:
                        hark_gemm_s8_i32_avx2(a.baseAddress, rowBytes, w.baseAddress, c.baseAddress, n, k, m0, m1, n0, n1)
                    case .portable:
                        hark_gemm_s8_i32_portable(a.baseAddress, rowBytes, w.baseAddress, c.baseAddress, n, k, m0, m1, n0, n1)
                    }
                }
            }
        }
        return out
    }

    /// The float product with scales, bias and optional GELU.
    func product(_ path: Path, sa: [Float], sw: [Float], bias: [Float]?, gelu: Bool,
                 m0: Int = 0, m1: Int? = nil, n0: Int = 0, n1: Int? = nil, fill: Float = 0) -> [Float] {
        var out = [Float](repeating: fill, count: max(1, m * n))
        let m1 = m1 ?? m, n1 = n1 ?? n
        let flags: UInt32 = gelu ? UInt32(HARK_GEMM_GELU) : 0
        activations.withUnsafeBufferPointer { a in
            packed.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { c in
                    sa.withUnsafeBufferPointer { sa in
                        sw.withUnsafeBufferPointer { sw in
                            func run(_ bias: UnsafePointer<Float>?) {
                                switch path {
                                case .avx2:
                                    hark_gemm_s8_avx2(a.baseAddress, rowBytes, sa.baseAddress, w.baseAddress, sw.baseAddress,
                                                      bias, c.baseAddress, n, k, m0, m1, n0, n1, flags)
                                case .portable:
                                    hark_gemm_s8_portable(a.baseAddress, rowBytes, sa.baseAddress, w.baseAddress,
                                                          sw.baseAddress, bias, c.baseAddress, n, k, m0, m1, n0, n1, flags)
                                }
                            }
                            if let bias {
                                bias.withUnsafeBufferPointer { run($0.baseAddress) }
                            } else {
                                run(nil)
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// Σ_k a[m][k]·w[n][k] in plain Swift integers.
func referenceAccumulations(a: [Int8], w: [Int8], m: Int, n: Int, k: Int) -> [Int32] {
    var out = [Int32](repeating: 0, count: max(1, m * n))
    for i in 0..<m {
        for j in 0..<n {
            var sum: Int32 = 0
            for t in 0..<k { sum += Int32(a[i * k + t]) * Int32(w[j * k + t]) }
            out[i * n + j] = sum
        }
    }
    return out
}

/// GELU, erf form, in double precision.
func referenceGelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }

/// Row-major float product x · wᵀ (+ bias) in double precision.
func referenceProduct(x: [Float], w: [Float], m: Int, n: Int, k: Int, bias: [Float]?) -> [Double] {
    var out = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for t in 0..<k { sum += Double(x[i * k + t]) * Double(w[j * k + t]) }
            out[i * n + j] = sum + Double(bias?[j] ?? 0)
        }
    }
    return out
}

/// ‖a − b‖ / ‖b‖ (Frobenius).
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    var diff = 0.0, norm = 0.0
    for (x, y) in zip(a, b) {
        diff += (Double(x) - y) * (Double(x) - y)
        norm += y * y
    }
    return (diff / max(norm, .leastNormalMagnitude)).squareRoot()
}
