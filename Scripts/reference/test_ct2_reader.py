#!/usr/bin/env python3
"""Self-test of whisper_numpy.CT2Model on synthetic model.bin files (numpy + stdlib only).

Writes small files in every binary layout (versions 1..6: no spec name before v2, no
aliases before v3, legacy item-size records before v4) and with every dtype id, then reads
them back. Also checks int8 dequantisation (per-row `_scale`) through an alias.

  python3 Scripts/reference/test_ct2_reader.py
"""

import os
import struct
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from whisper_numpy import CT2Model  # noqa: E402

_TYPE_IDS = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4}


def _str(s):
    b = s.encode("utf-8") + b"\0"
    return struct.pack("<H", len(b)) + b


def write_model(path, variables, aliases=(), version=6, spec="TestSpec", revision=7):
    """variables: list of (name, array or ("bfloat16", uint16 array))."""
    out = [struct.pack("<I", version)]
    if version >= 2:
        out += [_str(spec), struct.pack("<I", revision)]
    out.append(struct.pack("<I", len(variables)))
    for name, arr in variables:
        bf16 = isinstance(arr, tuple)
        data = arr[1] if bf16 else arr
        out += [_str(name), struct.pack("<B", data.ndim), struct.pack(f"<{data.ndim}I", *data.shape)]
        if version >= 4:
            type_id = 5 if bf16 else _TYPE_IDS[data.dtype.name]
            out.append(struct.pack("<BI", type_id, data.nbytes))
        else:
            out.append(struct.pack("<BI", data.dtype.itemsize, data.size))
        out.append(data.astype(data.dtype.newbyteorder("<")).tobytes())
    if version >= 3:
        out.append(struct.pack("<I", len(aliases)))
        for a, t in aliases:
            out += [_str(a), _str(t)]
    with open(path, "wb") as f:
        f.write(b"".join(out))


class CT2ReaderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "model.bin")

    def tearDown(self):
        self.tmp.cleanup()

    def test_all_dtypes_v6(self):
        rng = np.random.default_rng(0)
        f32 = rng.standard_normal((3, 5)).astype(np.float32)
        bf = np.array([1.0, -2.5, 3.140625], np.float32)
        bf_bits = (bf.view(np.uint32) >> 16).astype(np.uint16)
        variables = [
            ("a/f32", f32),
            ("b/i8", np.array([-128, 0, 127], np.int8)),
            ("c/i16", np.array(-3, np.int16)),                   # rank-0 scalar
            ("d/i32", np.arange(4, dtype=np.int32).reshape(2, 2)),
            ("e/f16", f32.astype(np.float16)),
            ("f/bf16", ("bfloat16", bf_bits)),
        ]
        write_model(self.path, variables, aliases=[("z/tied", "a/f32")])
        m = CT2Model(self.path)
        self.assertEqual((m.binary_version, m.spec_name, m.spec_revision), (6, "TestSpec", 7))
        np.testing.assert_array_equal(m.get("a/f32"), f32)
        np.testing.assert_array_equal(m.raw("b/i8"), [-128, 0, 127])
        self.assertEqual(m.scalar("c/i16"), -3)
        np.testing.assert_array_equal(m.raw("d/i32"), [[0, 1], [2, 3]])
        np.testing.assert_array_equal(m.get("e/f16"), f32.astype(np.float16).astype(np.float32))
        np.testing.assert_array_equal(m.get("f/bf16"), bf)
        np.testing.assert_array_equal(m.get("z/tied"), f32)

    def test_int8_scale_through_alias(self):
        w = np.array([[1.0, -0.5], [0.25, 2.0]], np.float32)
        scale = (127.0 / np.abs(w).max(axis=1)).astype(np.float32)
        q = np.rint(w * scale[:, None]).astype(np.int8)
        write_model(self.path, [("p/weight", q), ("p/weight_scale", scale)],
                    aliases=[("proj/weight", "p/weight")])
        m = CT2Model(self.path)
        np.testing.assert_allclose(m.get("p/weight"), w, atol=1e-2)
        np.testing.assert_array_equal(m.get("proj/weight"), m.get("p/weight"))

    def test_legacy_versions(self):
        arr = np.arange(6, dtype=np.float32).reshape(2, 3)
        for version in (1, 2, 3, 4, 5):
            with self.subTest(version=version):
                aliases = [("x/alias", "x/w")] if version >= 3 else []
                write_model(self.path, [("x/w", arr), ("x/n", np.array(5, np.int16))],
                            aliases=aliases, version=version)
                m = CT2Model(self.path)
                self.assertEqual(m.binary_version, version)
                self.assertEqual(m.spec_revision, 7 if version >= 2 else 1)
                np.testing.assert_array_equal(m.get("x/w"), arr)
                self.assertEqual(m.scalar("x/n"), 5)
                if version >= 3:
                    np.testing.assert_array_equal(m.get("x/alias"), arr)

    def test_rejects_newer_version(self):
        write_model(self.path, [], version=7)
        with self.assertRaises(ValueError):
            CT2Model(self.path)


if __name__ == "__main__":
    unittest.main()
