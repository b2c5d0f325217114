#!/usr/bin/env python3
"""Cross-check the numpy references against faster-whisper 1.2.1 and ctranslate2.

Run with the peer venv (Scripts/peer/setup-venv), which has both packages:

  .venv-peer/bin/python Scripts/reference/check_against_ct2.py \\
      [--model-dir Models/tiny.en] [--wav Audio/voice-note-16k.wav]

Checks, all on one clip:
  1. mel_features.log_mel_spectrogram vs faster_whisper FeatureExtractor (80 and 128 mels)
     on the same samples (and our stdlib WAV reader vs faster-whisper's decode_audio)
  2. whisper_numpy encoder vs ctranslate2 Whisper.encode (compute_type float32) on the
     same faster-whisper first window; also the stride-10 rows kept in the fixture
  3. whisper_numpy greedy tokens/score/no_speech_prob vs ctranslate2 generate(beam_size=1)
     with faster-whisper's options, with and without timestamps
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import mel_features as mf  # noqa: E402
import whisper_numpy as wn  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", default=os.path.join(REPO, "Models", "tiny.en"))
    p.add_argument("--wav", default=os.path.join(REPO, "Audio", "voice-note-16k.wav"))
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    import ctranslate2
    from faster_whisper.audio import decode_audio
    from faster_whisper.feature_extractor import FeatureExtractor

    # 1. features
    samples = mf.load_wav_16k_mono(args.wav)
    fw_samples = decode_audio(args.wav)
    print(f"samples: ours {samples.shape} vs decode_audio {fw_samples.shape}, "
          f"max diff {np.abs(samples - fw_samples).max() if samples.shape == fw_samples.shape else 'n/a'}")
    mels = {}
    for n in (80, 128):
        ours = mf.log_mel_spectrogram(samples, n)
        ref = FeatureExtractor(feature_size=n)(samples)
        mels[n] = ours
        print(f"mel{n}: {ours.shape} identical={np.array_equal(ours, ref)} "
              f"max diff {np.abs(ours - ref).max():.3g}")

    # 2. encoder
    model = wn.Whisper(args.model_dir)
    x = wn.window_features(mels[model.n_mels])
    ct = ctranslate2.models.Whisper(args.model_dir, device="cpu", compute_type="float32",
                                    intra_threads=args.threads)
    enc_ct = ct.encode(ctranslate2.StorageView.from_array(x[None]), to_cpu=True)
    ref = np.array(enc_ct)[0]
    ours = model.encode(x)
    d = np.abs(ours - ref)
    print(f"encoder {os.path.basename(args.model_dir)} {ours.shape}: max abs diff {d.max():.3g}, "
          f"mean {d.mean():.3g}, 99.99th pct {np.percentile(d, 99.99):.3g}, "
          f"max |ref| {np.abs(ref).max():.3g}; stride-10 rows: max {d[::10].max():.3g}, "
          f"mean {d[::10].mean():.3g}")
    keep = model.encode(wn.window_features(mels[model.n_mels], keep_last_frame=True))
    print(f"  (keeping the last mel frame instead would change the output by up to "
          f"{np.abs(keep - ours).max():.3g})")

    # 3. greedy decoding
    for without_ts in (False, True):
        prompt = model.sot_sequence("en", without_ts)
        r = ct.generate(enc_ct, [prompt], beam_size=1, suppress_blank=True, suppress_tokens=[-1],
                        max_initial_timestamp_index=50, return_scores=True,
                        return_no_speech_prob=True, max_length=448)[0]
        g = model.greedy(ours, prompt)
        score = g["sum_logprob"] / max(1, len(g["tokens"]))
        print(f"greedy prompt {prompt}: same tokens={r.sequences_ids[0] == g['tokens']} "
              f"({len(g['tokens'])}), score ct2 {r.scores[0]:.6f} numpy {score:.6f}, "
              f"no_speech ct2 {r.no_speech_prob:.6f} numpy {g['no_speech_prob']:.6f}")
        print(f"  {model.vocab.decode(g['tokens']).strip()!r}")


if __name__ == "__main__":
    main()
