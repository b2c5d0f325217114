#!/usr/bin/env python3
"""Reference Whisper in numpy: CTranslate2 model.bin reader, float32 encoder, greedy decoder.

Model reader (`CT2Model`): CTranslate2 binary_version <= 6 (see the shared reference
notes, section 1): little-endian, packed; u32 version; [v>=2] str spec name + u32 spec
revision; u32 count; per variable: str name, u8 rank, u32 dims[rank], then [v>=4] u8
dtype id + u32 byte count, or [v<4] u8 item size + u32 element count; [v>=3] u32 alias
count + (str alias, str target) pairs. str = u16 length including a trailing NUL, bytes.
dtype ids: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16. Aliases also map
`alias_scale`/`alias_zero` to the target's. int8/int16 weights with a `<name>_scale`
variable are dequantised as q / scale (per output row, or one scalar for int16).

Encoder (`Whisper.encode`), float32 throughout (LayerNorm statistics too):
  conv1 (k3 s1 p1) + GELU(erf), conv2 (k3 s2 p1) + GELU, + position encodings,
  pre-norm blocks: x += SelfAttn(LN(x)) (fused QKV, q scaled by 1/sqrt(head_dim));
  x += FFN(LN(x)) (GELU erf); final LayerNorm; all LayerNorms eps 1e-5.

Decoder (`Whisper.greedy`): one 30 s window, greedy (argmax) decoding with the
CTranslate2 / faster-whisper logit rules: suppress_tokens (config.json suppress_ids),
suppress_blank at the first step, timestamp rules (max initial timestamp index 50),
at most 224 new tokens, plus no_speech_prob from the <|startoftranscript|> position.

The encoder input follows faster-whisper's first window (seek 0): the mel features of the
whole clip minus the LAST frame (content_frames = n_frames - 1), trimmed to 3000 frames or
padded with 0.0 (normalised log-mel domain) to 3000 frames. `--keep-last-frame` uses all
frames instead.

Subcommands:
  info    MODEL_DIR                        list variables (name, shape, dtype), aliases
  encode  MODEL_DIR MEL.f32 OUT.f32 [--stride N] [--keep-last-frame]
  greedy  MODEL_DIR MEL.f32 [--without-timestamps] [--language en] [--json]

Encoder output file ("HENC"), little-endian:
  magic b"HENC", u32 rows, u32 d_model, u32 stride, then f32[rows][d_model] row-major,
  where row i is encoder output frame i * stride (stride 1 = all 1500 frames).
"""

import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mel_features import read_hmel  # noqa: E402

N_FRAMES = 3000          # mel frames per 30 s window
HENC_MAGIC = b"HENC"

# --------------------------------------------------------------------------- model.bin

_DTYPES = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
    5: "bfloat16",
}
_LEGACY_ITEM_SIZE = {4: np.dtype("<f4"), 2: np.dtype("<i2"), 1: np.dtype("i1")}
MAX_BINARY_VERSION = 6


class CT2Model:
    """Variables of a CTranslate2 model.bin, as numpy arrays in their stored dtype."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.path = path
        self.variables = {}
        self.aliases = {}
        pos = 0

        def u(fmt):
            nonlocal pos
            vals = struct.unpack_from("<" + fmt, data, pos)
            pos += struct.calcsize("<" + fmt)
            return vals if len(vals) > 1 else vals[0]

        def string():
            nonlocal pos
            n = u("H")
            if n == 0:
                raise ValueError(f"{path}: empty string at offset {pos - 2}")
            raw = data[pos:pos + n]
            pos += n
            return raw[:-1].decode("utf-8")   # drop the trailing NUL

        self.binary_version = u("I")
        if self.binary_version > MAX_BINARY_VERSION:
            raise ValueError(f"{path}: binary version {self.binary_version} > {MAX_BINARY_VERSION}")
        if self.binary_version >= 2:
            self.spec_name = string()
            self.spec_revision = u("I")
        else:
            self.spec_name, self.spec_revision = "", 1

        for _ in range(u("I")):
            name = string()
            rank = u("B")
            shape = tuple(struct.unpack_from(f"<{rank}I", data, pos)) if rank else ()
            pos += 4 * rank
            if self.binary_version >= 4:
                dtype = _DTYPES[u("B")]
                num_bytes = u("I")
            else:
                item_size = u("B")
                dtype = _LEGACY_ITEM_SIZE[item_size]
                num_bytes = u("I") * item_size
            count = int(np.prod(shape, dtype=np.int64)) if rank else 1
            itemsize = 2 if dtype == "bfloat16" else dtype.itemsize
            if num_bytes != count * itemsize:
                raise ValueError(f"{path}: {name}: {num_bytes} bytes for shape {shape}")
            raw = data[pos:pos + num_bytes]   # a copy: payloads are unaligned
            pos += num_bytes
            if dtype == "bfloat16":
                arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                arr = np.frombuffer(raw, dtype).copy()
            self.variables[name] = arr.reshape(shape)

        if self.binary_version >= 3:
            for _ in range(u("I")):
                alias, target = string(), string()
                self.aliases[alias] = target
                for suffix in ("_scale", "_zero"):
                    self.aliases[alias + suffix] = target + suffix
        if pos != len(data):
            raise ValueError(f"{path}: {len(data) - pos} trailing bytes")

    def _resolve(self, name):
        return self.aliases.get(name, name) if name not in self.variables else name

    def __contains__(self, name):
        return self._resolve(name) in self.variables

    def raw(self, name):
        return self.variables[self._resolve(name)]

    def get(self, name):
        """Variable as float32, dequantised if it is int8/int16 with a `_scale`."""
        arr = self.raw(name)
        if arr.dtype in (np.int8, np.int16) and (name + "_scale") in self:
            if (name + "_zero") in self:
                raise NotImplementedError(f"{name}: AWQ zero points are not supported")
            scale = self.raw(name + "_scale").astype(np.float32)
            if scale.ndim == 1 and arr.ndim >= 2:
                scale = scale.reshape((-1,) + (1,) * (arr.ndim - 1))
            return (arr.astype(np.float32) / scale).astype(np.float32)
        return arr.astype(np.float32)

    def scalar(self, name, default=None):
        if name not in self:
            return default
        return self.raw(name).reshape(-1)[0].item()


# --------------------------------------------------------------------------- vocabulary

def _byte_decoder():
    """Inverse of GPT-2's bytes_to_unicode table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


class Vocabulary:
    """vocabulary.txt (one token a line) or vocabulary.json (a list) of a CT2 Whisper dir."""

    def __init__(self, model_dir):
        txt = os.path.join(model_dir, "vocabulary.txt")
        if os.path.exists(txt):
            with open(txt, encoding="utf-8") as f:
                self.tokens = f.read().split("\n")
            if self.tokens and self.tokens[-1] == "":
                self.tokens.pop()
        else:
            with open(os.path.join(model_dir, "vocabulary.json"), encoding="utf-8") as f:
                self.tokens = json.load(f)
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self._bytes = _byte_decoder()
        self.eot = self.ids["<|endoftext|>"]
        self.sot = self.ids["<|startoftranscript|>"]
        self.transcribe = self.ids.get("<|transcribe|>")
        self.no_timestamps = self.ids["<|notimestamps|>"]
        self.no_speech = self.ids.get("<|nospeech|>", self.ids.get("<|nocaptions|>"))
        self.timestamp_begin = self.ids["<|0.00|>"]
        self.multilingual = len(self.tokens) >= 51865   # as ctranslate2's is_multilingual

    def decode(self, ids):
        """Text of the non-special tokens (ids < eot)."""
        data = bytearray()
        for i in ids:
            if i < self.eot:
                data.extend(self._bytes[c] for c in self.tokens[i])
        return data.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- layers

_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    """GELU, erf form, evaluated in float64 and rounded to float32."""
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1.0 + _erf(x64 / math.sqrt(2.0)).astype(np.float64))).astype(np.float32)


def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True, dtype=np.float32)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True, dtype=np.float32)
    return ((x - mean) / np.sqrt(var + np.float32(eps)) * gamma + beta).astype(np.float32)


def conv1d(x, weight, bias, stride):
    """x [C_in, T], weight [C_out, C_in, 3], padding 1 -> [C_out, T_out] (im2col + matmul)."""
    c_in, t = x.shape
    k = weight.shape[2]
    xp = np.pad(x, ((0, 0), (1, 1)))
    t_out = (t + 2 - k) // stride + 1
    cols = np.stack([xp[:, j:j + stride * (t_out - 1) + 1:stride] for j in range(k)], axis=1)
    out = weight.reshape(weight.shape[0], c_in * k) @ cols.reshape(c_in * k, t_out)
    return (out + bias[:, None]).astype(np.float32)


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def attention(q, k, v, num_heads, mask=None):
    """q [Tq, D], k/v [Tk, D] -> [Tq, D]; q is scaled by 1/sqrt(head_dim)."""
    tq, d = q.shape
    hd = d // num_heads
    qh = (q * np.float32(1.0 / math.sqrt(hd))).reshape(tq, num_heads, hd).transpose(1, 0, 2)
    kh = k.reshape(-1, num_heads, hd).transpose(1, 0, 2)
    vh = v.reshape(-1, num_heads, hd).transpose(1, 0, 2)
    scores = qh @ kh.transpose(0, 2, 1)                       # [H, Tq, Tk]
    if mask is not None:
        scores = scores + mask
    out = softmax(scores) @ vh                                # [H, Tq, hd]
    return out.transpose(1, 0, 2).reshape(tq, d).astype(np.float32)


# --------------------------------------------------------------------------- model

class Whisper:
    def __init__(self, model_dir):
        self.model_dir = model_dir
        self.m = CT2Model(os.path.join(model_dir, "model.bin"))
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            self.config = json.load(f)
        self.vocab = Vocabulary(model_dir)
        g = self.m.get
        self.w = {name: g(name) for name in self.m.variables
                  if self.m.raw(name).ndim > 0 and not name.endswith(("_scale", "_zero"))}
        for alias in self.m.aliases:
            if alias in self.m and not alias.endswith(("_scale", "_zero")):
                self.w[alias] = g(alias)
        self.n_mels = self.w["encoder/conv1/weight"].shape[1]
        self.d_model = self.w["encoder/conv1/weight"].shape[0]
        self.enc_heads = int(self.m.scalar("encoder/num_heads", self.d_model // 64))
        self.dec_heads = int(self.m.scalar("decoder/num_heads", self.d_model // 64))
        self.enc_layers = self._count("encoder/layer_")
        self.dec_layers = self._count("decoder/layer_")

    def _count(self, prefix):
        n = 0
        while f"{prefix}{n}/ffn/linear_0/weight" in self.w:
            n += 1
        return n

    def _linear(self, x, name):
        y = x @ self.w[name + "/weight"].T
        if name + "/bias" in self.w:
            y = y + self.w[name + "/bias"]
        return y.astype(np.float32)

    def _ln(self, x, name):
        return layer_norm(x, self.w[name + "/gamma"], self.w[name + "/beta"])

    def _ffn(self, x, p):
        h = self._ln(x, p + "/ffn/layer_norm")
        return self._linear(gelu(self._linear(h, p + "/ffn/linear_0")), p + "/ffn/linear_1")

    # ---------------------------------------------------------------- encoder
    def encode(self, mel):
        """mel [n_mels, T] float32 (T = 3000 normally) -> [T/2, d_model] float32."""
        w = self.w
        x = gelu(conv1d(mel.astype(np.float32), w["encoder/conv1/weight"], w["encoder/conv1/bias"], 1))
        x = gelu(conv1d(x, w["encoder/conv2/weight"], w["encoder/conv2/bias"], 2))
        x = x.T + w["encoder/position_encodings/encodings"][:x.shape[1]]
        d = self.d_model
        for i in range(self.enc_layers):
            p = f"encoder/layer_{i}"
            h = self._ln(x, p + "/self_attention/layer_norm")
            qkv = self._linear(h, p + "/self_attention/linear_0")
            a = attention(qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:], self.enc_heads)
            x = x + self._linear(a, p + "/self_attention/linear_1")
            x = x + self._ffn(x, p)
        return self._ln(x, "encoder/layer_norm")

    # ---------------------------------------------------------------- decoder
    def _decoder_state(self, enc):
        d = self.d_model
        cross = []
        for i in range(self.dec_layers):
            kv = self._linear(enc, f"decoder/layer_{i}/attention/linear_1")
            cross.append((kv[:, :d], kv[:, d:]))
        return {"cross": cross, "self": [None] * self.dec_layers, "offset": 0}

    def _decode_step(self, state, tokens):
        """Run `tokens` through the decoder (KV cache in `state`) -> logits [len(tokens), vocab]."""
        w, d = self.w, self.d_model
        off, n = state["offset"], len(tokens)
        x = w["decoder/embeddings/weight"][tokens] + w["decoder/position_encodings/encodings"][off:off + n]
        mask = np.triu(np.full((n, off + n), -np.inf, np.float32), k=off + 1)
        for i in range(self.dec_layers):
            p = f"decoder/layer_{i}"
            h = self._ln(x, p + "/self_attention/layer_norm")
            qkv = self._linear(h, p + "/self_attention/linear_0")
            k, v = qkv[:, d:2 * d], qkv[:, 2 * d:]
            if state["self"][i] is not None:
                k = np.concatenate([state["self"][i][0], k])
                v = np.concatenate([state["self"][i][1], v])
            state["self"][i] = (k, v)
            x = x + self._linear(attention(qkv[:, :d], k, v, self.dec_heads, mask),
                                 p + "/self_attention/linear_1")
            h = self._ln(x, p + "/attention/layer_norm")
            q = self._linear(h, p + "/attention/linear_0")
            ck, cv = state["cross"][i]
            x = x + self._linear(attention(q, ck, cv, self.dec_heads), p + "/attention/linear_2")
            x = x + self._ffn(x, p)
        state["offset"] = off + n
        x = self._ln(x, "decoder/layer_norm")
        return (x @ w["decoder/projection/weight"].T).astype(np.float32)

    def sot_sequence(self, language="en", without_timestamps=False):
        v = self.vocab
        seq = [v.sot]
        if v.multilingual:
            seq += [v.ids[f"<|{language}|>"], v.transcribe]
        if without_timestamps:
            seq.append(v.no_timestamps)
        return seq

    def greedy(self, enc, prompt, max_initial_timestamp_index=50, max_length=448):
        """Greedy decoding of one window.

        Returns dict(tokens (without eot), sum_logprob (including eot's, like ctranslate2's
        score * len), no_speech_prob).
        """
        v = self.vocab
        suppress = [t for t in self.config.get("suppress_ids", []) if t >= 0]
        timestamps = prompt[-1] != v.no_timestamps
        ts_begin, vocab_size = v.timestamp_begin, self.w["decoder/embeddings/weight"].shape[0]
        state = self._decoder_state(enc)
        logits = self._decode_step(state, prompt)
        sot_index = prompt.index(v.sot)
        no_speech_prob = float(softmax(logits[sot_index].astype(np.float64))[v.no_speech]) \
            if v.no_speech is not None else 0.0
        logits = logits[-1]
        out, score = [], 0.0
        max_new = min(max_length // 2, max_length - len(prompt))
        for step in range(max_new):
            lg = logits.astype(np.float32).copy()
            lg[suppress] = -np.inf
            if step == 0:
                lg[[220, v.eot]] = -np.inf                       # suppress_blank
            if timestamps:
                self._timestamp_rules(lg, out, step, ts_begin, vocab_size, max_initial_timestamp_index)
            logp = lg.astype(np.float64) - np.logaddexp.reduce(lg.astype(np.float64))
            tok = int(np.argmax(lg))
            score += float(logp[tok])                            # the eot's log-prob counts too
            if tok == v.eot:
                break
            out.append(tok)
            logits = self._decode_step(state, [tok])[-1]
        return {"tokens": out, "sum_logprob": score, "no_speech_prob": no_speech_prob}

    def _timestamp_rules(self, lg, out, step, ts_begin, vocab_size, max_initial):
        v = self.vocab
        lg[v.no_timestamps] = -np.inf
        last_ts = len(out) >= 1 and out[-1] >= ts_begin
        penult_ts = len(out) < 2 or out[-2] >= ts_begin
        if last_ts:
            if penult_ts:
                lg[ts_begin:] = -np.inf                          # a pair is closed: text next
            else:
                lg[:v.eot] = -np.inf                             # must close the pair (or eot)
        ts = [t for t in out if t >= ts_begin]
        if ts:                                                   # timestamps don't decrease
            last = ts[-1] if (last_ts and not penult_ts) else ts[-1] + 1
            lg[ts_begin:last] = -np.inf
        if step == 0:
            lg[:ts_begin] = -np.inf
            if max_initial is not None:
                lg[ts_begin + max_initial + 1:] = -np.inf
        lg64 = lg.astype(np.float64)
        logp = lg64 - np.logaddexp.reduce(lg64)
        if np.logaddexp.reduce(logp[ts_begin:]) > logp[:ts_begin].max():
            lg[:ts_begin] = -np.inf

    def segments(self, tokens, time_offset=0.0):
        """Split decoded tokens into (start, end, text) at timestamp tokens."""
        v, tb = self.vocab, self.vocab.timestamp_begin
        segs, start, cur = [], None, []
        for t in tokens:
            if t >= tb:
                ts = time_offset + (t - tb) * 0.02
                if start is None:
                    start = ts
                elif cur:
                    segs.append((start, ts, v.decode(cur)))
                    start, cur = None, []
                else:
                    start = ts
            else:
                cur.append(t)
        if cur:
            segs.append((start if start is not None else time_offset, None, v.decode(cur)))
        return segs


# --------------------------------------------------------------------------- I/O helpers

def window_features(mel, seek=0, keep_last_frame=False):
    """faster-whisper's encoder input for the window starting at mel frame `seek`."""
    content = mel.shape[1] if keep_last_frame else mel.shape[1] - 1
    size = max(0, min(N_FRAMES, content - seek))
    seg = mel[:, seek:seek + size]
    return np.pad(seg, ((0, 0), (0, N_FRAMES - seg.shape[1]))).astype(np.float32)


def write_henc(path, enc, stride=1):
    rows = np.ascontiguousarray(enc[::stride], dtype="<f4")
    with open(path, "wb") as f:
        f.write(HENC_MAGIC + struct.pack("<III", rows.shape[0], rows.shape[1], stride))
        f.write(rows.tobytes())


def read_henc(path):
    """-> (float32 [rows, d_model], stride)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != HENC_MAGIC:
        raise ValueError(f"{path}: not an HENC file")
    rows, d, stride = struct.unpack_from("<III", data, 4)
    return np.frombuffer(data, "<f4", offset=16).reshape(rows, d).astype(np.float32), stride


# --------------------------------------------------------------------------- CLI

def cmd_info(args):
    m = CT2Model(os.path.join(args.model_dir, "model.bin"))
    print(f"binary_version {m.binary_version}, spec {m.spec_name!r} rev {m.spec_revision}, "
          f"{len(m.variables)} variables, {len(m.aliases) // 3} aliases")
    for name, arr in m.variables.items():
        val = f" = {arr.item()}" if arr.ndim == 0 else ""
        print(f"  {name:60s} {str(list(arr.shape)):16s} {arr.dtype}{val}")
    for alias, target in m.aliases.items():
        if not alias.endswith(("_scale", "_zero")):
            print(f"  {alias} -> {target}")


def _load_window(args, model):
    mel = read_hmel(args.mel)
    if mel.shape[0] != model.n_mels:
        sys.exit(f"{args.mel}: {mel.shape[0]} mel bands, the model wants {model.n_mels}")
    return window_features(mel, keep_last_frame=args.keep_last_frame)


def cmd_encode(args):
    model = Whisper(args.model_dir)
    t0 = time.time()
    enc = model.encode(_load_window(args, model))
    write_henc(args.output, enc, args.stride)
    print(f"encoded {args.mel} -> {enc.shape} in {time.time() - t0:.1f} s; wrote every "
          f"{args.stride} row(s) to {args.output}", file=sys.stderr)


def cmd_greedy(args):
    model = Whisper(args.model_dir)
    enc = model.encode(_load_window(args, model))
    prompt = model.sot_sequence(args.language, args.without_timestamps)
    res = model.greedy(enc, prompt)
    res["prompt"] = prompt
    res["text"] = model.vocab.decode(res["tokens"]).strip()
    res["score"] = res["sum_logprob"] / max(1, len(res["tokens"]))      # ct2 score, length_penalty 1
    res["avg_logprob"] = res["sum_logprob"] / (len(res["tokens"]) + 1)  # faster-whisper's
    res["segments"] = [{"start": s, "end": e, "text": t} for s, e, t in model.segments(res["tokens"])]
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        for s in res["segments"]:
            end = "?" if s["end"] is None else f"{s['end']:.2f}"
            print(f"[{s['start']:.2f} -> {end}] {s['text'].strip()}")
        print(f"tokens: {res['tokens']}\nno_speech_prob {res['no_speech_prob']:.6f} "
              f"avg_logprob {res['avg_logprob']:.6f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("info", help="list the variables of MODEL_DIR/model.bin")
    s.add_argument("model_dir")
    s.set_defaults(func=cmd_info)
    for name, func in (("encode", cmd_encode), ("greedy", cmd_greedy)):
        s = sub.add_parser(name)
        s.add_argument("model_dir")
        s.add_argument("mel", help="HMEL features of the whole clip (mel_features.py)")
        s.add_argument("--keep-last-frame", action="store_true",
                       help="do not drop the last mel frame (faster-whisper drops it)")
        s.set_defaults(func=func)
        if name == "encode":
            s.add_argument("output", help="HENC output file")
            s.add_argument("--stride", type=int, default=1, help="keep every Nth output frame")
        else:
            s.add_argument("--language", default="en", help="multilingual models only")
            s.add_argument("--without-timestamps", action="store_true")
            s.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
