// swift-tools-version:6.0
import PackageDescription

// A small program built on Hark's public API only: it is what the README's "Use as a library"
// section shows, and Scripts/test builds and runs it.
let package = Package(
    name: "VoiceNotes",
    dependencies: [
        .package(name: "Hark", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "voice-notes", dependencies: [.product(name: "Hark", package: "Hark")]),
    ],
    swiftLanguageModes: [.v6]
)
