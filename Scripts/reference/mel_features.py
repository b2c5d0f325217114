#!/usr/bin/env python3
"""Reference Whisper log-mel features, numpy only, matching faster-whisper 1.2.1.

Pipeline (faster_whisper/feature_extractor.py, see shared reference notes section 3):

  1. samples = int16 PCM / 32768 -> float32, mono, 16 kHz (read with stdlib `wave`)
  2. append 160 zero samples
  3. centred STFT: reflect-pad n_fft//2 = 200 samples on both sides, frames of 400
     samples every 160, periodic Hann window np.hanning(401)[:-1] (float32), rfft
     (numpy >= 2 computes a float32 input in single precision -> complex64)
  4. power |X|^2 (float32), the last STFT frame is dropped
     -> n_frames = N // 160 + 1 for N input samples
  5. mel = filters (n_mels x 201, float32) @ power
  6. log10(max(mel, 1e-10)); max(x, x.max() - 8) with the max over the whole clip;
     (x + 4) / 4

The filterbank is librosa.filters.mel(sr=16000, n_fft=400, n_mels=N, htk=False,
norm="slaney") computed in float64 and cast to float32 at the end (as faster-whisper
does; librosa itself accumulates into a float32 array).

Cross-check against librosa 0.11.0 (throwaway venv, `check_against_librosa()` below):
  n_mels=80 : float64 filters identical (max diff 0); float32 max |ours - librosa|
              = 1.86e-09 (max filter value 0.0259: <= 1 ulp, librosa rounds to float32
              before applying the Slaney normalisation, we round once at the end)
  n_mels=128: float64 identical (max diff 0); float32 max diff 3.73e-09 (max value 0.0417)
Against faster-whisper 1.2.1's own FeatureExtractor (numpy 2.4.6), on
Audio/voice-note-16k.wav: filters bit-identical, features bit-identical (max diff 0.0).

CLI:
  python3 Scripts/reference/mel_features.py IN.wav OUT.f32 --n-mels 80

Output file ("HMEL"), little-endian:
  bytes  0..3  magic b"HMEL"
  u32          n_mels
  u32          n_frames
  f32[n_mels][n_frames]   row-major (one mel band per row)
"""

import argparse
import struct
import sys
import wave

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
PADDING = 160  # zero samples appended before the STFT

HMEL_MAGIC = b"HMEL"


# --------------------------------------------------------------------------- audio

def load_wav_16k_mono(path):
    """Read a 16-bit PCM mono 16 kHz WAV file as float32 samples in [-1, 1)."""
    with wave.open(str(path), "rb") as w:
        channels, width, rate, count = (
            w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes())
        raw = w.readframes(count)
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM, got {8 * width}-bit")
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: expected {SAMPLE_RATE} Hz, got {rate} Hz (resample first)")
    if channels != 1:
        raise ValueError(f"{path}: expected mono, got {channels} channels")
    pcm = np.frombuffer(raw, dtype="<i2")
    return (pcm.astype(np.float32) / np.float32(32768.0)).astype(np.float32)


# --------------------------------------------------------------------------- mel filterbank

def hz_to_mel(f):
    """Slaney mel scale (librosa htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    mel = f / f_sp
    return np.where(f >= min_log_hz,
                    min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep,
                    mel)


def mel_to_hz(m):
    """Inverse of hz_to_mel."""
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel,
                    min_log_hz * np.exp(logstep * (m - min_log_mel)),
                    f_sp * m)


def mel_filters(n_mels, sr=SAMPLE_RATE, n_fft=N_FFT, dtype=np.float32):
    """Slaney-normalised triangular mel filterbank, shape [n_mels, n_fft//2 + 1].

    Computed in float64 (librosa.filters.mel semantics, fmin=0, fmax=sr/2) and cast to
    `dtype` at the end.
    """
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)                     # [n_bins]
    mels = np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2)
    mel_f = mel_to_hz(mels)                                              # band edges, Hz
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])                 # Slaney area norm
    weights *= enorm[:, None]
    return weights.astype(dtype)


# --------------------------------------------------------------------------- features

def stft_power(samples):
    """|STFT|^2 of float32 samples: centred, reflect-padded, periodic Hann; last frame dropped.

    Returns float32 [n_fft//2 + 1, n_frames].
    """
    x = np.pad(samples.astype(np.float32), (N_FFT // 2, N_FFT // 2), mode="reflect")
    n_frames = 1 + (len(x) - N_FFT) // HOP_LENGTH
    idx = np.arange(N_FFT)[None, :] + HOP_LENGTH * np.arange(n_frames)[:, None]
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    frames = x[idx] * window                                             # [n_frames, n_fft] f32
    spec = np.fft.rfft(frames, n=N_FFT, axis=-1).astype(np.complex64).T  # [n_bins, n_frames]
    return (np.abs(spec[:, :-1]) ** 2).astype(np.float32)


def log_mel_spectrogram(samples, n_mels=80):
    """faster-whisper 1.2.1 log-mel features of 16 kHz float32 samples: [n_mels, N//160 + 1]."""
    samples = np.pad(np.asarray(samples, dtype=np.float32), (0, PADDING))
    power = stft_power(samples)
    mel = mel_filters(n_mels) @ power                                    # float32 matmul
    log_spec = np.log10(np.maximum(mel, np.float32(1e-10)))
    log_spec = np.maximum(log_spec, log_spec.max() - np.float32(8.0))
    return ((log_spec + np.float32(4.0)) / np.float32(4.0)).astype(np.float32)


# --------------------------------------------------------------------------- file format

def write_hmel(path, features):
    """Write [n_mels, n_frames] float32 features as an HMEL file."""
    features = np.ascontiguousarray(features, dtype="<f4")
    n_mels, n_frames = features.shape
    with open(path, "wb") as f:
        f.write(HMEL_MAGIC + struct.pack("<II", n_mels, n_frames))
        f.write(features.tobytes())


def read_hmel(path):
    """Read an HMEL file -> float32 [n_mels, n_frames]."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != HMEL_MAGIC:
        raise ValueError(f"{path}: not an HMEL file (magic {data[:4]!r})")
    n_mels, n_frames = struct.unpack_from("<II", data, 4)
    arr = np.frombuffer(data, dtype="<f4", offset=12)
    if arr.size != n_mels * n_frames:
        raise ValueError(f"{path}: expected {n_mels * n_frames} floats, found {arr.size}")
    return arr.reshape(n_mels, n_frames).astype(np.float32)


# --------------------------------------------------------------------------- checks

def check_against_librosa(n_mels_list=(80, 128)):
    """Print max |ours - librosa.filters.mel| (needs librosa; run from a throwaway venv)."""
    import librosa
    for n_mels in n_mels_list:
        ours64 = mel_filters(n_mels, dtype=np.float64)
        ref32 = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels)
        ref64 = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels, dtype=np.float64)
        d32 = np.abs(ours64.astype(np.float32) - ref32).max()
        d64 = np.abs(ours64 - ref64).max()
        print(f"librosa {librosa.__version__} n_mels={n_mels}: float32 max diff {d32:.3g}, "
              f"float64 max diff {d64:.3g}, max value {ref32.max():.4g}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input", help="16 kHz mono 16-bit PCM WAV file")
    p.add_argument("output", help="output HMEL file (.f32)")
    p.add_argument("--n-mels", type=int, default=80, choices=(80, 128))
    args = p.parse_args(argv)

    samples = load_wav_16k_mono(args.input)
    features = log_mel_spectrogram(samples, args.n_mels)
    write_hmel(args.output, features)
    print(f"{args.input}: {len(samples)} samples -> {features.shape[0]} x {features.shape[1]} "
          f"(min {features.min():.6f}, max {features.max():.6f}) -> {args.output}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
