#!/usr/bin/env python3
"""Reference speech probabilities and speech segments for HarkSpeech (issue #28).

Probabilities: the silero-vad 6.2.3 wheel's own ONNX model (silero_vad/data/silero_vad.onnx)
run by onnxruntime exactly as the wheel's utils_vad.py `OnnxWrapper` runs it at 16 kHz: chunks
of 512 new samples, each fed as a [1, 576] `input` with the 64 samples before it in front
(zeros before the first chunk), the [2, 1, 128] LSTM `state` carried from chunk to chunk
(zeros at first), `sr` = 16000 as an int64 scalar, one thread. The audio is zero-padded the
way faster-whisper 1.2.1's `get_speech_timestamps` pads it before running its model:
`512 - n % 512` zeros, so there are always n // 512 + 1 chunks (a whole chunk of zeros when
n is a multiple of 512; the wheel's own `audio_forward` would pad only a partial last chunk).

Segments: faster-whisper 1.2.1's own `faster_whisper.vad.get_speech_timestamps`, unchanged,
with its model replaced (monkeypatched `get_vad_model`) by one that returns the ONNX
probabilities above, for several `VadOptions`.

Speech map: faster-whisper's `SpeechTimestampsMap` (and the word rule of its
`restore_speech_timestamps`) on some of those segments, at times on a grid, at every
segment's end in the speech-only timeline and 5 ms either side of it.

Weights: Hark runs the initializers of the wheel's silero_vad_16k_op15.onnx (its 16 kHz-only
ONNX file, which gives the same probabilities as silero_vad.onnx, bit for bit). `numpy_probabilities`
is a plain numpy port of the network as tinygrad_model.py describes it; run on those
initializers (read by `onnx_initializers`, a minimal protobuf reader) it is checked against
onnxruntime on every clip, which shows that the tinygrad description is the network the ONNX
file runs. The wheel's silero_vad_16k.safetensors holds OTHER weights (every tensor but the
STFT basis differs; upstream issue snakers4/silero-vad#768): the numpy port on them is
written for one clip as `<clip>.tinygrad.vad.f32`, so that Hark's reading of that file is
tested too, and its distance from the ONNX model is printed.

Audio: 16 kHz mono 16-bit FLACs of the shared dev sets as they are, and clips with pauses
built by sox (speech, 3 s of digital silence, speech, brown noise, speech), each read as
float32 with `sox FILE -t f32 -` (int16 / 32768, the samples Hark's reader gives). The sox
commands are written into the fixture so that the Swift test builds the same files; the
sha256 of each clip's float32 samples is recorded so that a difference in the audio shows
as such, not as a wrong probability.

Usage (from the repository root; needs .venv-peer from Scripts/peer/setup-venv, sox, and the
wheel in the wheel cache, e.g. after Scripts/fetch-models silero-vad):

  .venv-peer/bin/python Scripts/reference/silero_reference.py [--wheel W] [--data DIR] [--out DIR]

Writes into Tests/HarkSpeechTests/Fixtures/:
  <clip>.vad.f32            "HVAD", u32 sample count, u32 chunk count, f32 probability per chunk
  <clip>.tinygrad.vad.f32   the same for the safetensors weights (one clip)
  clips.json                the clips: audio, sox recipe, sample count, sha256 of the samples
  segments.json             the option sets, and faster-whisper's segments (in samples) for
                            each clip and option set
  map.json                  SpeechTimestampsMap's answers for the segments of a few of them
"""

import argparse
import glob
import hashlib
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WHEEL_SHA256 = "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"
SAMPLE_RATE = 16000
CHUNK = 512
CONTEXT = 64

# Clips: `audio` is a path under the shared data ({data}) or built in a temporary folder ({tmp})
# by `recipe`, a list of sox argument lists run in order.
SILENCE_3S = ["-R", "-D", "-n", "-r", "16000", "-c", "1", "-b", "16", "{tmp}/silence-3s.wav", "trim", "0", "3"]


def noise(name, seconds, volume):
    return ["-R", "-D", "-n", "-r", "16000", "-c", "1", "-b", "16", "{tmp}/%s" % name,
            "synth", str(seconds), "brownnoise", "vol", str(volume)]


def kathleen(number):
    return "{data}/dev-clean/audio/kathleen_arctic_a%04d.flac" % number


def accented(identifier):
    return "{data}/dev-accented/audio/so762_%s.flac" % identifier


CLIPS = [
    {"name": "kathleen_arctic_a0001", "audio": kathleen(1)},
    {"name": "austen-0870", "audio": "{data}/dev-clean/audio/librivox_sense_and_sensibility_01_austen_64kb-0870.flac"},
    {"name": "so762_000240031", "audio": accented("000240031")},
    {"name": "so762_001570269", "audio": accented("001570269")},
    # Speech, 3 s of digital silence, speech, 3 s of quiet brown noise, speech.
    {"name": "pauses-clean", "audio": "{tmp}/pauses-clean.wav", "recipe": [
        SILENCE_3S,
        noise("brown-3s.wav", 3, 0.04),
        ["-R", "-D", kathleen(2), "{tmp}/silence-3s.wav", kathleen(3), "{tmp}/brown-3s.wav", kathleen(4),
         "-b", "16", "{tmp}/pauses-clean.wav"],
    ]},
    # The same with accented speech and louder noise, cut to a multiple of 512 samples (where
    # faster-whisper evaluates one extra chunk of zeros).
    {"name": "pauses-accented", "audio": "{tmp}/pauses-accented.wav", "trim_to_chunks": True, "recipe": [
        SILENCE_3S,
        noise("brown-4s.wav", 4, 0.1),
        ["-R", "-D", accented("001570212"), "{tmp}/silence-3s.wav", accented("001570216"), "{tmp}/brown-4s.wav",
         accented("001570272"), "-b", "16", "{tmp}/pauses-accented-full.wav"],
    ]},
    # Ten sentences back to back (only their own short pauses): long speech, for the splits
    # of max_speech_duration_s.
    {"name": "long-speech", "audio": "{tmp}/long-speech.wav", "recipe": [
        ["-R", "-D"] + [kathleen(n) for n in range(5, 15)] + ["-b", "16", "{tmp}/long-speech.wav"],
    ]},
]

# VadOptions sets (faster-whisper's names; absent keys take its defaults).
OPTION_SETS = [
    {"name": "defaults"},
    {"name": "short-silence", "min_silence_duration_ms": 100, "speech_pad_ms": 30, "min_speech_duration_ms": 250},
    {"name": "max-speech-3s", "max_speech_duration_s": 3, "min_silence_duration_ms": 500, "speech_pad_ms": 100},
    {"name": "max-speech-1.5s", "threshold": 0.6, "neg_threshold": 0.3, "max_speech_duration_s": 1.5,
     "min_silence_duration_ms": 300, "speech_pad_ms": 200},
    {"name": "max-speech-0.8s-no-pad", "max_speech_duration_s": 0.8, "speech_pad_ms": 0},
    {"name": "low-threshold", "threshold": 0.3, "min_speech_duration_ms": 500, "speech_pad_ms": 0,
     "min_silence_duration_ms": 1000},
    {"name": "min-speech-1s", "min_speech_duration_ms": 1000, "min_silence_duration_ms": 200, "speech_pad_ms": 50},
    # Drops some pieces of speech shorter than 2 s (6 on these clips).
    {"name": "min-speech-2s-no-pad", "min_speech_duration_ms": 2000, "min_silence_duration_ms": 100, "speech_pad_ms": 0},
]


def find_wheel(path):
    if path is None:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        found = sorted(glob.glob(os.path.join(cache, "hark", "wheels", "silero_vad-6.2.3-*.whl")))
        if not found:
            sys.exit("no silero-vad 6.2.3 wheel in the cache: run Scripts/fetch-models silero-vad, or give --wheel")
        path = found[0]
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit("%s: sha256 %s, expected %s" % (path, digest, WHEEL_SHA256))
    return path


def expand(text, data, tmp):
    return text.replace("{data}", data).replace("{tmp}", tmp)


def read_samples(path):
    """The file's samples as float32, as sox converts them (int16 / 32768)."""
    rate = subprocess.run(["soxi", "-r", path], check=True, capture_output=True, text=True).stdout.strip()
    channels = subprocess.run(["soxi", "-c", path], check=True, capture_output=True, text=True).stdout.strip()
    if rate != "16000" or channels != "1":
        sys.exit("%s: %s Hz, %s channels; the reference needs 16 kHz mono" % (path, rate, channels))
    raw = subprocess.run(["sox", path, "-t", "f32", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def build_clip(clip, data, tmp):
    """Runs the clip's recipe (recording the concrete commands) and returns its samples."""
    commands = [list(command) for command in clip.get("recipe", [])]
    for command in commands:
        subprocess.run(["sox"] + [expand(argument, data, tmp) for argument in command], check=True)
    if clip.get("trim_to_chunks"):
        full = expand(commands[-1][-1], data, tmp)
        count = int(subprocess.run(["soxi", "-s", full], check=True, capture_output=True, text=True).stdout)
        command = ["-R", "-D", commands[-1][-1], "-b", "16", clip["audio"], "trim", "0", "%ds" % (count - count % CHUNK)]
        subprocess.run(["sox"] + [expand(argument, data, tmp) for argument in command], check=True)
        commands.append(command)
    return read_samples(expand(clip["audio"], data, tmp)), commands


def padded_like_faster_whisper(samples):
    return np.pad(samples, (0, CHUNK - samples.shape[0] % CHUNK))


def onnx_probabilities(session, samples):
    """OnnxWrapper.__call__ chunk by chunk over faster-whisper's padding of `samples`."""
    audio = padded_like_faster_whisper(samples)
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros((1, CONTEXT), dtype=np.float32)
    rate = np.array(SAMPLE_RATE, dtype=np.int64)
    probabilities = []
    for start in range(0, audio.shape[0], CHUNK):
        x = np.concatenate([context, audio[None, start:start + CHUNK]], axis=1)
        output, state = session.run(None, {"input": x, "state": state, "sr": rate})
        context = x[:, -CONTEXT:]
        probabilities.append(output[0, 0])
    return np.array(probabilities, dtype=np.float32)


# The initializers of silero_vad_16k_op15.onnx under the names of tinygrad_model.py.
ONNX_NAMES = {
    "model.stft.forward_basis_buffer": "stft_conv.weight",
    "model.encoder.0.reparam_conv.weight": "conv1.weight", "model.encoder.0.reparam_conv.bias": "conv1.bias",
    "model.encoder.1.reparam_conv.weight": "conv2.weight", "model.encoder.1.reparam_conv.bias": "conv2.bias",
    "model.encoder.2.reparam_conv.weight": "conv3.weight", "model.encoder.2.reparam_conv.bias": "conv3.bias",
    "model.encoder.3.reparam_conv.weight": "conv4.weight", "model.encoder.3.reparam_conv.bias": "conv4.bias",
    "model.decoder.rnn.weight_ih": "lstm_cell.weight_ih", "model.decoder.rnn.weight_hh": "lstm_cell.weight_hh",
    "model.decoder.rnn.bias_ih": "lstm_cell.bias_ih", "model.decoder.rnn.bias_hh": "lstm_cell.bias_hh",
    "model.decoder.decoder.2.weight": "final_conv.weight", "model.decoder.decoder.2.bias": "final_conv.bias",
}


def protobuf_fields(data):
    """(field number, wire type, value) of a protobuf message: an int for varints, bytes otherwise."""
    offset = 0

    def varint():
        nonlocal offset
        value = shift = 0
        while True:
            byte = data[offset]
            offset += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    while offset < len(data):
        tag = varint()
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 2:
            length = varint()
            yield number, wire, data[offset:offset + length]
            offset += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            yield number, wire, data[offset:offset + size]
            offset += size
        else:
            raise ValueError("wire type %d" % wire)


def onnx_initializers(data):
    """ModelProto.graph (7) -> GraphProto.initializer (5) -> TensorProto: dims (1),
    data_type (2, 1 = float32), name (8), raw_data (9); renamed as in tinygrad_model.py."""
    tensors = {}
    for number, _, graph in protobuf_fields(data):
        if number != 7:
            continue
        for field, _, tensor in protobuf_fields(graph):
            if field != 5:
                continue
            dims, name, raw, dtype = [], None, None, None
            for key, wire, value in protobuf_fields(tensor):
                if key == 1:
                    dims += [value] if wire == 0 else list(_packed(value))
                elif key == 2:
                    dtype = value
                elif key == 8:
                    name = value.decode()
                elif key == 9:
                    raw = value
            assert dtype == 1 and raw is not None, name
            tensors[ONNX_NAMES[name]] = np.frombuffer(raw, dtype="<f4").reshape(dims)
    return tensors


def _packed(data):
    """The varints of a packed repeated field."""
    offset = 0
    while offset < len(data):
        value = shift = 0
        while True:
            byte = data[offset]
            offset += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        yield value


def numpy_probabilities(weights, samples):
    """The network of tinygrad_model.py in numpy (float32), from silero_vad_16k.safetensors."""
    def conv1d(x, weight, bias, stride, padding):
        # x [channels, time], weight [out, in, kernel]
        if padding:
            x = np.pad(x, ((0, 0), (padding, padding)))
        kernel = weight.shape[2]
        steps = (x.shape[1] - kernel) // stride + 1
        columns = np.stack([x[:, t * stride:t * stride + kernel].reshape(-1) for t in range(steps)], axis=1)
        out = weight.reshape(weight.shape[0], -1) @ columns
        return out + bias[:, None] if bias is not None else out

    sigmoid = lambda v: 1 / (1 + np.exp(-v))
    audio = padded_like_faster_whisper(samples)
    h = np.zeros(128, dtype=np.float32)
    c = np.zeros(128, dtype=np.float32)
    context = np.zeros(CONTEXT, dtype=np.float32)
    probabilities = []
    for start in range(0, audio.shape[0], CHUNK):
        x = np.concatenate([context, audio[start:start + CHUNK]])
        context = x[-CONTEXT:]
        x = np.pad(x, (0, 64), mode="reflect")[None, :]
        spectrum = conv1d(x, weights["stft_conv.weight"], None, 128, 0)
        x = np.sqrt(spectrum[:129] ** 2 + spectrum[129:] ** 2)
        x = np.maximum(conv1d(x, weights["conv1.weight"], weights["conv1.bias"], 1, 1), 0)
        x = np.maximum(conv1d(x, weights["conv2.weight"], weights["conv2.bias"], 2, 1), 0)
        x = np.maximum(conv1d(x, weights["conv3.weight"], weights["conv3.bias"], 2, 1), 0)
        x = np.maximum(conv1d(x, weights["conv4.weight"], weights["conv4.bias"], 1, 1), 0)[:, 0]
        gates = (weights["lstm_cell.weight_ih"] @ x + weights["lstm_cell.bias_ih"]
                 + weights["lstm_cell.weight_hh"] @ h + weights["lstm_cell.bias_hh"])
        i, f, g, o = np.split(gates, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        logit = weights["final_conv.weight"][0, :, 0] @ np.maximum(h, 0) + weights["final_conv.bias"][0]
        probabilities.append(sigmoid(logit))
    return np.array(probabilities, dtype=np.float32)


def read_safetensors(data):
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    header.pop("__metadata__", None)
    tensors = {}
    for name, entry in header.items():
        assert entry["dtype"] == "F32", name
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[8 + length + begin:8 + length + end], dtype="<f4").reshape(entry["shape"])
    return tensors


def faster_whisper_segments(samples, probabilities, options):
    """faster_whisper.vad.get_speech_timestamps with its model answering `probabilities`."""
    import faster_whisper.vad as vad

    def model(padded_audio):
        assert padded_audio.shape[0] == probabilities.shape[0] * CHUNK
        return probabilities

    original = vad.get_vad_model
    vad.get_vad_model = lambda: model
    try:
        fields = {key: value for key, value in options.items() if key != "name"}
        speeches = vad.get_speech_timestamps(samples, vad.VadOptions(**fields))
    finally:
        vad.get_vad_model = original
    result = []
    for speech in speeches:
        start, end = speech["start"], speech["end"]
        assert float(start).is_integer() and float(end).is_integer(), speech
        result.append([int(start), int(end)])
    return result


# (clip, option set) whose segments the speech map fixture maps: pauses and shared gaps, and
# segments that touch (max-speech splits: no gap at all).
MAP_CASES = [("pauses-clean", "defaults"), ("pauses-accented", "short-silence"), ("long-speech", "max-speech-1.5s")]


def speech_map_cases(segments):
    """SpeechTimestampsMap at chosen times of the speech-only timeline, for MAP_CASES."""
    from faster_whisper.vad import SpeechTimestampsMap

    cases = []
    for clip, option_set in MAP_CASES:
        chunks = [{"start": start, "end": end} for start, end in segments[clip][option_set]]
        speech_map = SpeechTimestampsMap(chunks, SAMPLE_RATE)
        total = sum(end - start for start, end in segments[clip][option_set]) / SAMPLE_RATE
        times = {round(0.37 * step, 6) for step in range(int(total / 0.37) + 2)}
        for end in speech_map.chunk_end_sample:
            times |= {end / SAMPLE_RATE, end / SAMPLE_RATE - 0.005, end / SAMPLE_RATE + 0.005}
        rows = []
        for time in sorted(times):
            # A word from `time` to 0.3 s later, mapped through the segment of its middle.
            word_index = speech_map.get_chunk_index(time + 0.15)
            rows.append([time, speech_map.get_chunk_index(time), speech_map.get_chunk_index(time, is_end=True),
                         speech_map.get_original_time(time), speech_map.get_original_time(time, is_end=True),
                         speech_map.get_original_time(time, word_index), speech_map.get_original_time(time + 0.3, word_index)])
        cases.append({"clip": clip, "option_set": option_set, "segments": segments[clip][option_set],
                      "chunk_end_sample": speech_map.chunk_end_sample,
                      "total_silence_before": speech_map.total_silence_before, "times": rows})
    return cases


def write_probabilities(path, sample_count, probabilities):
    with open(path, "wb") as handle:
        handle.write(b"HVAD")
        handle.write(struct.pack("<II", sample_count, probabilities.shape[0]))
        handle.write(probabilities.astype("<f4").tobytes())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", help="the silero-vad 6.2.3 wheel (default: the one in the hark wheel cache)")
    parser.add_argument("--data", default=os.path.join(os.path.dirname(REPO), "shared", "data"),
                        help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--out", default=os.path.join(REPO, "Tests", "HarkSpeechTests", "Fixtures"))
    arguments = parser.parse_args()

    import faster_whisper
    import onnxruntime

    assert faster_whisper.__version__ == "1.2.1", faster_whisper.__version__
    wheel = find_wheel(arguments.wheel)
    with zipfile.ZipFile(wheel) as archive:
        onnx_model = archive.read("silero_vad/data/silero_vad.onnx")
        onnx_weights = onnx_initializers(archive.read("silero_vad/data/silero_vad_16k_op15.onnx"))
        tinygrad_weights = read_safetensors(archive.read("silero_vad/data/silero_vad_16k.safetensors"))
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(onnx_model, providers=["CPUExecutionProvider"], sess_options=options)

    os.makedirs(arguments.out, exist_ok=True)
    clips = []
    segments = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index, clip in enumerate(CLIPS):
            samples, recipe = build_clip(clip, arguments.data, tmp)
            probabilities = onnx_probabilities(session, samples)
            port_error = float(np.abs(numpy_probabilities(onnx_weights, samples) - probabilities).max())
            assert port_error < 1e-5, (clip["name"], port_error)
            write_probabilities(os.path.join(arguments.out, clip["name"] + ".vad.f32"), samples.shape[0], probabilities)
            if index == 0:
                tinygrad = numpy_probabilities(tinygrad_weights, samples)
                write_probabilities(os.path.join(arguments.out, clip["name"] + ".tinygrad.vad.f32"), samples.shape[0], tinygrad)
                print("%s: the safetensors weights give probabilities up to %.3f from the ONNX model's"
                      % (clip["name"], float(np.abs(tinygrad - probabilities).max())))
            clips.append({
                "name": clip["name"],
                "audio": clip["audio"],
                "recipe": recipe,
                "samples": int(samples.shape[0]),
                "samples_sha256": hashlib.sha256(samples.astype("<f4").tobytes()).hexdigest(),
                "chunks": int(probabilities.shape[0]),
            })
            segments[clip["name"]] = {options["name"]: faster_whisper_segments(samples, probabilities, options)
                                      for options in OPTION_SETS}
            speech = sum(end - start for start, end in segments[clip["name"]]["defaults"])
            print("%-22s %7d samples %4d chunks, max p %.3f, numpy port vs onnxruntime %.1e, "
                  "default segments %d (%.1f s of %.1f s)"
                  % (clip["name"], samples.shape[0], probabilities.shape[0], probabilities.max(), port_error,
                     len(segments[clip["name"]]["defaults"]), speech / SAMPLE_RATE, samples.shape[0] / SAMPLE_RATE))

    provenance = {
        "silero_vad_wheel": "silero-vad==6.2.3 sha256 " + WHEEL_SHA256,
        "onnxruntime": onnxruntime.__version__,
        "faster_whisper": faster_whisper.__version__,
    }
    write_json(os.path.join(arguments.out, "clips.json"), dict(
        comment="Made by Scripts/reference/silero_reference.py: the clips of the <clip>.vad.f32 fixtures.",
        **provenance, clips=clips))
    option_sets = []
    for options in OPTION_SETS:
        record = {key: value for key, value in options.items() if not (isinstance(value, float) and math.isinf(value))}
        option_sets.append(record)
    write_json(os.path.join(arguments.out, "segments.json"), dict(
        comment="Made by Scripts/reference/silero_reference.py: faster_whisper.vad.get_speech_timestamps "
                "on the probabilities of <clip>.vad.f32, [start, end) in samples at 16 kHz.",
        **provenance, option_sets=option_sets, segments=segments))
    write_json(os.path.join(arguments.out, "map.json"), dict(
        comment="Made by Scripts/reference/silero_reference.py: faster_whisper.vad.SpeechTimestampsMap on segments "
                "of segments.json. Each row of times: time in the speech-only timeline (s), get_chunk_index(time), "
                "get_chunk_index(time, is_end=True), get_original_time(time), get_original_time(time, is_end=True), "
                "and a word from time to time + 0.3 mapped through the chunk of its middle: its start and end.",
        **provenance, cases=speech_map_cases(segments)))


def write_json(path, document):
    """Indented JSON with each innermost list (a segment, a sox command) on one line."""
    text = json.dumps(document, indent=1)
    text = re.sub(r"\[\s*([^\[\]:]*?)\s*\]", lambda match: "[" + re.sub(r"\s*\n\s*", " ", match.group(1)) + "]", text)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")


if __name__ == "__main__":
    main()
