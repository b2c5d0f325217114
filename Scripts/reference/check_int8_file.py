#!/usr/bin/env python3
"""Read a Hark int8 model file with the safetensors library (numpy) and check it against its
source CTranslate2 model: every tensor 64-byte aligned, the source sha256 matches, and every
int8 matrix dequantizes (q * scale) to the source weights within half a quantization step.

  .venv-peer/bin/python Scripts/reference/check_int8_file.py FILE.safetensors Models/tiny.en
"""
import hashlib, json, struct, sys
import numpy as np
from safetensors.numpy import load_file
from whisper_numpy import CT2Model  # our numpy reader of model.bin


def main():
    path, model_dir = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    meta = header.pop("__metadata__")
    start = 8 + n
    misaligned = [k for k, v in header.items() if not k.startswith("__padding_") and (start + v["data_offsets"][0]) % 64]
    assert not misaligned, f"misaligned tensors: {misaligned[:5]}"
    with open(f"{model_dir}/model.bin", "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert meta["source_sha256"] == digest, "source sha256 differs"
    tensors = load_file(path)
    source = CT2Model(f"{model_dir}/model.bin")
    checked = 0
    worst = 0.0
    for name, q in tensors.items():
        if q.dtype != np.int8:
            continue
        scale = tensors[name + "_scale"].astype(np.float32)
        w = np.asarray(source.get(name), dtype=np.float32).reshape(q.shape[0], -1)
        restored = q.reshape(q.shape[0], -1).astype(np.float32) * scale[:, None]
        error = np.abs(restored - w) / np.maximum(scale[:, None], 1e-30)
        worst = max(worst, float(error.max()))
        assert error.max() <= 0.5 + 1e-3, f"{name}: error {error.max()} steps"
        checked += 1
    print(f"{path}: {len(tensors)} tensors read by safetensors {meta['format']} v{meta['format_version']}, "
          f"all 64-byte aligned, sha256 matches, {checked} int8 matrices within {worst:.3f} of a step")


if __name__ == "__main__":
    main()
