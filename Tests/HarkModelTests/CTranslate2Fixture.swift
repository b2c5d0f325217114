import Foundation

/// Small CTranslate2 `model.bin` files written byte by byte, for tests of the reader.
enum CTranslate2Fixture {
    struct Variable {
        var name: String
        var shape: [UInt32]
        /// The data type id (0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16).
        var type: UInt8
        var payload: Data
        /// The byte count the file declares; the payload's size when nil.
        var declaredBytes: UInt32?
    }

    /// A file of the given binary version (1 to 6).
    static func file(version: UInt32 = 6, variables: [Variable], aliases: [(String, String)] = []) -> Data {
        var data = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        func string(_ s: String) {
            let bytes = Array(s.utf8) + [0]
            withUnsafeBytes(of: UInt16(bytes.count).littleEndian) { data.append(contentsOf: $0) }
            data.append(contentsOf: bytes)
        }
        u32(version)
        if version >= 2 { string("WhisperSpec"); u32(3) }
        u32(UInt32(variables.count))
        for variable in variables {
            string(variable.name)
            data.append(UInt8(variable.shape.count))
            for dim in variable.shape { u32(dim) }
            let byteCount = variable.declaredBytes ?? UInt32(variable.payload.count)
            if version >= 4 {
                data.append(variable.type)
                u32(byteCount)
            } else {
                let itemSize: UInt8 = variable.type == 0 ? 4 : (variable.type == 2 ? 2 : 1)
                data.append(itemSize)
                u32(byteCount / UInt32(itemSize))
            }
            data.append(variable.payload)
        }
        if version >= 3 {
            u32(UInt32(aliases.count))
            for (alias, target) in aliases { string(alias); string(target) }
        }
        return data
    }
}
