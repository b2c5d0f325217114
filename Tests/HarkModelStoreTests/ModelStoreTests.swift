import Foundation
@testable import HarkModelStore
import HarkTestSupport
import XCTest

/// Where the store looks for models, and what it lists.
final class ModelStoreTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws { directory = try TestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A fake checkout: Package.swift, Models/ and a binary in .build/release.
    private func makeCheckout(_ name: String) throws -> URL {
        let checkout = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: checkout.appendingPathComponent("Models"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: checkout.appendingPathComponent(".build/x86_64-unknown-linux-gnu/release"),
                                                withIntermediateDirectories: true)
        try Data("// swift-tools-version:6.0\n".utf8).write(to: checkout.appendingPathComponent("Package.swift"))
        return checkout
    }

    func testACheckoutIsSearchedOnlyForABinaryInsideItsBuildFolder() throws {
        let checkout = try makeCheckout("hark")
        let built = checkout.appendingPathComponent(".build/x86_64-unknown-linux-gnu/release/hark")
        XCTAssertEqual(ModelStore.checkoutModels(executable: built)?.path, checkout.appendingPathComponent("Models").path)
        // Through the .build/release symlink too.
        try FileManager.default.createSymbolicLink(atPath: checkout.appendingPathComponent(".build/release").path,
                                                   withDestinationPath: "x86_64-unknown-linux-gnu/release")
        XCTAssertEqual(ModelStore.checkoutModels(executable: checkout.appendingPathComponent(".build/release/hark"))?.path,
                       checkout.appendingPathComponent("Models").path)
        // A binary elsewhere in the checkout, or outside any, gets no checkout.
        XCTAssertNil(ModelStore.checkoutModels(executable: checkout.appendingPathComponent("bin/hark")))
        XCTAssertNil(ModelStore.checkoutModels(executable: directory.appendingPathComponent("bin/hark")))
        // A .build folder whose parent is not a checkout.
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("other/.build"), withIntermediateDirectories: true)
        XCTAssertNil(ModelStore.checkoutModels(executable: directory.appendingPathComponent("other/.build/hark")))
    }

    func testTheSearchOrderNeverIncludesTheCurrentDirectory() throws {
        let checkout = try makeCheckout("hark")
        let decoy = try makeCheckout("decoy")
        let home = directory.appendingPathComponent("home")
        let installed = directory.appendingPathComponent("bin/hark")
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(decoy.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }

        XCTAssertEqual(ModelStore(explicit: nil, environment: ["HOME": home.path], executable: installed).directories.map(\.path),
                       [home.appendingPathComponent(".local/share/hark/models").path])
        XCTAssertEqual(ModelStore(explicit: nil, environment: ["HOME": home.path, "XDG_DATA_HOME": "/data", "HARK_MODELS": "/models"],
                                  executable: checkout.appendingPathComponent(".build/x86_64-unknown-linux-gnu/release/hark")).directories.map(\.path),
                       ["/models", "/data/hark/models", checkout.appendingPathComponent("Models").path])
        let explicit = ModelStore(explicit: "/elsewhere", environment: ["HARK_MODELS": "/models"], executable: installed)
        XCTAssertEqual(explicit.directories.map(\.path), ["/elsewhere"])
        XCTAssertEqual(explicit.fetchCommand(for: "base"), "hark models fetch --models-dir /elsewhere base")

        // A model in the decoy (the current directory) is not found by name.
        try FileManager.default.createDirectory(at: decoy.appendingPathComponent("Models/decoy"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: decoy.appendingPathComponent("Models/decoy/model.bin"))
        let store = ModelStore(explicit: nil, environment: ["HOME": home.path], executable: installed)
        XCTAssertThrowsError(try store.locate("decoy")) { error in
            XCTAssertEqual(error as? ModelStoreError, .notInstalled(name: "decoy", searched: [home.path + "/.local/share/hark/models"],
                                                                  fetchCommand: nil, known: ["tiny.en", "base", "small", "silero-vad"]))
        }
        XCTAssertThrowsError(try store.locate("base")) { error in
            XCTAssertTrue("\(error)".hasSuffix("; fetch it with: hark models fetch base"), "\(error)")
            XCTAssertFalse("\(error)".contains("Scripts/"), "\(error)")
        }
        XCTAssertEqual(store.installed(), [])
    }

    func testInstalledListsModelDirectoriesAndInt8FilesFirstOfEachName() throws {
        // HARK_MODELS, then the XDG data store.
        let first = directory.appendingPathComponent("first"), second = directory.appendingPathComponent("data/hark/models")
        for (store, name) in [(first, "tiny.en"), (second, "tiny.en"), (second, "base")] {
            try FileManager.default.createDirectory(at: store.appendingPathComponent(name), withIntermediateDirectories: true)
            try Data(count: 10).write(to: store.appendingPathComponent("\(name)/model.bin"))
            try Data(count: 5).write(to: store.appendingPathComponent("\(name)/config.json"))
        }
        try Data(count: 64).write(to: first.appendingPathComponent("base-int8.safetensors"))
        try FileManager.default.createDirectory(at: first.appendingPathComponent("notes"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: first.appendingPathComponent(".base.tmp-abc123"), withIntermediateDirectories: true)
        try Data(count: 10).write(to: first.appendingPathComponent(".base.tmp-abc123/model.bin"))

        let store = ModelStore(explicit: nil, environment: ["HARK_MODELS": first.path, "XDG_DATA_HOME": directory.appendingPathComponent("data").path],
                               executable: nil)
        XCTAssertEqual(store.installed().map { "\($0.name) \($0.location.path) \($0.kind) \($0.bytes)" }, [
            "base-int8 \(first.path)/base-int8.safetensors int8File 64",
            "tiny.en \(first.path)/tiny.en directory 15",
            "base \(second.path)/base directory 15",
        ])
        XCTAssertEqual(try store.locate("base-int8").path, first.appendingPathComponent("base-int8.safetensors").path)
        XCTAssertEqual(try store.locate("base").path, second.appendingPathComponent("base").path)
    }

    /// The speech detector's directory has no model.bin: it is listed (as a speech detector)
    /// when it holds the catalogue's files, found by `locateSpeechDetector`, and refused with
    /// a clear line where a Whisper model is wanted.
    func testTheSpeechDetectorIsListedButIsNotAWhisperModel() throws {
        let store = directory.appendingPathComponent("store")
        let vad = store.appendingPathComponent("silero-vad")
        try FileManager.default.createDirectory(at: vad, withIntermediateDirectories: true)
        try Data(count: 8).write(to: vad.appendingPathComponent("silero_vad_16k_op15.onnx"))
        try Data(count: 4).write(to: vad.appendingPathComponent("silero_vad_16k.safetensors"))
        let models = ModelStore(explicit: store.path, executable: nil)
        XCTAssertEqual(models.installed(), [], "without its LICENSE the directory is not the catalogue's model")
        XCTAssertThrowsError(try models.locateSpeechDetector("silero-vad")) { error in
            XCTAssertEqual("\(error)", "model 'silero-vad' is not installed (looked in \(store.path)); fetch it with: hark models fetch --models-dir \(store.path) silero-vad")
        }

        try Data(count: 2).write(to: vad.appendingPathComponent("LICENSE"))
        XCTAssertEqual(models.installed().map { "\($0.name) \($0.location.path) \($0.kind) \($0.bytes)" },
                       ["silero-vad \(vad.path) speechDetector 14"])
        XCTAssertEqual(try models.locateSpeechDetector("silero-vad").path, vad.path)
        XCTAssertThrowsError(try models.locate("silero-vad")) { error in
            XCTAssertEqual("\(error)", "'silero-vad' is the speech detector, not a Whisper model; transcribe with one of tiny.en, base")
        }
        // A Whisper model's name is not a speech detector.
        try FileManager.default.createDirectory(at: store.appendingPathComponent("base"), withIntermediateDirectories: true)
        try Data(count: 10).write(to: store.appendingPathComponent("base/model.bin"))
        XCTAssertThrowsError(try models.locateSpeechDetector("base"))
    }
}
