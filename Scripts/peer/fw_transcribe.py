#!/usr/bin/env python3
"""Peer transcriber: faster-whisper 1.2.1 over a manifest, for comparison with Hark.

Run with the peer venv's python (create it with Scripts/peer/setup-venv):

  .venv-peer/bin/python Scripts/peer/fw_transcribe.py --model-dir Models/tiny.en \\
      --manifest ../shared/data/dev-clean.tsv --out /tmp/hyp.tsv --beam-size 1 --limit 20

  .venv-peer/bin/python Scripts/peer/fw_transcribe.py --model-dir Models/tiny.en \\
      --single Audio/voice-note-16k.wav              # segments + tokens as JSON

Manifest: TSV with a header line and columns id, audio[, ...]; audio paths are relative to
the manifest's directory. Output: `id<TAB>hypothesis` per utterance, the hypothesis being
the segment texts joined and stripped (tabs/newlines turned into spaces); no header.

WhisperModel(model_dir, device="cpu", compute_type, cpu_threads) and
WhisperModel.transcribe(audio, language=..., beam_size=..., without_timestamps=...) with
every other option at faster-whisper's defaults (temperature fallback, condition on
previous text, no VAD, ...). Language: "en" by default (English-only models only accept
"en"); `--language auto` lets a multilingual model detect it.

Timing (stderr): model load time, transcription wall time, total audio duration, RTF.
"""

import argparse
import csv
import dataclasses
import json
import os
import sys
import time


def load_model(args):
    from faster_whisper import WhisperModel

    t0 = time.perf_counter()
    model = WhisperModel(args.model_dir, device="cpu", compute_type=args.compute_type,
                         cpu_threads=args.threads, local_files_only=True)
    print(f"loaded {args.model_dir} ({args.compute_type}, {args.threads} threads) in "
          f"{time.perf_counter() - t0:.2f} s", file=sys.stderr)
    return model


def transcribe(model, audio, args):
    """-> (list of Segment, TranscriptionInfo); the segment generator is consumed."""
    segments, info = model.transcribe(
        audio,
        language=None if args.language == "auto" else args.language,
        beam_size=args.beam_size,
        without_timestamps=args.without_timestamps,
    )
    return list(segments), info


def read_manifest(path, limit=None):
    base = os.path.dirname(os.path.abspath(path))
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if limit is not None:
        rows = rows[:limit]
    return [(r["id"], os.path.join(base, r["audio"])) for r in rows]


def run_manifest(model, args):
    items = read_manifest(args.manifest, args.limit)
    total_audio = 0.0
    t0 = time.perf_counter()
    with open(args.out, "w", encoding="utf-8") as out:
        for n, (utt_id, audio) in enumerate(items, 1):
            t1 = time.perf_counter()
            segments, info = transcribe(model, audio, args)
            text = " ".join("".join(s.text for s in segments).split())
            out.write(f"{utt_id}\t{text}\n")
            out.flush()
            total_audio += info.duration
            if args.verbose:
                print(f"[{n}/{len(items)}] {utt_id} {info.duration:.2f} s audio, "
                      f"{time.perf_counter() - t1:.2f} s: {text}", file=sys.stderr)
    wall = time.perf_counter() - t0
    print(f"{len(items)} utterances, {total_audio:.1f} s audio, wall {wall:.1f} s, "
          f"RTF {wall / max(total_audio, 1e-9):.3f} -> {args.out}", file=sys.stderr)


def run_single(model, args):
    t0 = time.perf_counter()
    segments, info = transcribe(model, args.single, args)
    wall = time.perf_counter() - t0
    result = {
        "file": args.single,
        "language": info.language,
        "language_probability": info.language_probability,
        "duration": info.duration,
        "wall_seconds": round(wall, 3),
        "text": "".join(s.text for s in segments).strip(),
        "segments": [
            {k: v for k, v in dataclasses.asdict(s).items() if k != "words"}
            for s in segments
        ],
    }
    print(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"{info.duration:.2f} s audio, wall {wall:.2f} s", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", required=True, help="CTranslate2 Whisper model directory")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", help="TSV: id<TAB>audio (relative to the TSV) ...")
    src.add_argument("--single", metavar="FILE", help="transcribe one file, print JSON")
    p.add_argument("--out", help="hypothesis TSV (with --manifest)")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--compute-type", choices=("float32", "int8"), default="float32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, help="only the first N utterances")
    p.add_argument("--language", default="en", help='"en" (default) or "auto" to detect')
    p.add_argument("--without-timestamps", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="one stderr line per utterance")
    args = p.parse_args()
    if args.manifest and not args.out:
        p.error("--manifest needs --out")

    model = load_model(args)
    if args.single:
        run_single(model, args)
    else:
        run_manifest(model, args)


if __name__ == "__main__":
    main()
