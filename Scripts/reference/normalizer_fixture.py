#!/usr/bin/env python3
"""Reference fixture for HarkEvaluation's text normalisers, made with openai-whisper's own.

Runs whisper.normalizers.EnglishTextNormalizer and BasicTextNormalizer (openai-whisper,
MIT) over a list of tricky strings and writes their outputs as a Swift table,
Tests/HarkEvaluationTests/NormalizerFixtures.swift, which NormalizerFixtureTests compares
with the Swift ports. The normalisers need only `regex` and `more-itertools`: the
whisper package's __init__ (which imports torch) is bypassed.

Re-run from the repository root:

    python3 -m venv /tmp/owvenv && /tmp/owvenv/bin/pip install regex more-itertools
    /tmp/owvenv/bin/python Scripts/reference/normalizer_fixture.py

Options: --whisper-src DIR (an extracted openai-whisper source tree; default: pip download
         of the pinned sdist), --output FILE.
"""

import argparse
import glob
import os
import subprocess
import sys
import tarfile
import tempfile
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHISPER_VERSION = "20250625"

ENGLISH = [
    # punctuation, case, white space
    "Hello, World!",
    "Hello... world?!",
    "   extra   spaces\tand\nnewlines  ",
    'He said "hi" \u2014 then left\u2026',
    "e-mail co-operate fifty-fifty",
    "the end.",
    # brackets, parentheses, fillers
    "[MUSIC] Welcome back (applause) everyone",
    "<noise> um so uh hmm yeah mhm",
    "Umbrella and hummus are not fillers",
    # contractions
    "He won't pay $5.50 for twenty five apples.",
    "I can't believe it's not butter",
    "Let's go, y'all!",
    "I'm gonna wanna gotta",
    "Shoulda coulda woulda, ma'am",
    "ain't nothing",
    "She's been there; he's gone; they'd done it; he's got it",
    "You'll see; we've won; I'd go; they're here",
    "don't, doesn't, isn't",
    "the cat's whiskers and O'Brien's dog",
    "rock 'n' roll",
    "I 'm here",
    # titles
    "Mr. Smith and Dr. Jones met St. Peter",
    "Mrs Brown, Prof Plum, Gen. Lt. Col. Capt. Sr. Jr.",
    # spelling
    "The colour of the theatre",
    "We organised a programme to analyse behaviour",
    "the archaeology of the flyer",
    # diacritics and other scripts
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    "Bj\u00f6rk's \u0152uvre, stra\u00dfe",
    "\uff21\uff42\uff43\uff11\uff12\uff13 fullwidth",
    "x\u00b2 and \u00bd",
    # numbers: cardinals
    "one hundred and two",
    "twenty-five",
    "ninety nine bottles",
    "one thousand two hundred thirty four",
    "two million three hundred thousand",
    "two thousand and nineteen",
    "eleven hundred",
    "a hundred",
    "hundreds of thousands",
    "nineteen eighty four",
    "twenty twenty one",
    "a million and one",
    # numbers: digits
    "1,234 people",
    "10,000,000",
    "version 2.0.1",
    "192.168.0.1",
    "It's 3:45 p.m.",
    "mp3 files and 4x4 trucks",
    "5.0 and 007",
    # nominal digits
    "one oh one",
    "zero zero seven",
    "five six seven eight",
    "double five triple seven",
    # ordinals, plurals, suffixes
    "the third time",
    "the twenty first century",
    "seventy sixth",
    "thirty second and thirty seconds",
    "first, second and third",
    "1st 2nd 3rd 4th",
    "twelfth night",
    "sixes and sevens",
    "twenties thirties",
    "the 1960s and 70s",
    "5th avenue",
    # one stays a word
    "one is the loneliest number",
    "the ones that got away",
    "one two three",
    # decimals and halves
    "three point one four",
    "point five",
    "two and a half hours",
    "2 and a half",
    "and a half",
    # percent, signs, currency
    "fifty percent and fifty per cent",
    "100% and 50 % off",
    "minus five degrees and plus twenty",
    "twenty dollars and fifty cents",
    "two dollars and seven cents",
    "$20 million",
    "\u00a33.50 and five pounds",
    "$0.05",
    "ten cents",
    "one euro",
    "costs $ and %",
    # an English sentence
    "And so, my fellow Americans: ask not what your country can do for you",
    "At 6 o'clock, he'd been waiting for 2 hours.",
]

BASIC = [
    # (input, remove_diacritics, split_letters)
    ("Hello, World!", False, False),
    ("Caf\u00e9 (note) [x] na\u00efve", False, False),
    ("Caf\u00e9 (note) [x] na\u00efve", True, False),
    ("\u00bfQu\u00e9 tal? \u00a1Muy bien!", False, False),
    ("Stra\u00dfe \u00f8re \u0142\u00f3d\u017a", True, False),
    ("\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002", False, True),
    ("\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", False, False),
    ("  Tabs\tand\nlines  ", False, False),
]


def whisper_source(explicit):
    if explicit:
        return Path(explicit)
    work = Path(tempfile.mkdtemp(prefix="openai-whisper-"))
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    f"openai-whisper=={WHISPER_VERSION}", "-d", str(work)], check=True)
    archive = glob.glob(str(work / "openai_whisper-*.tar.gz"))[0]
    with tarfile.open(archive) as tar:
        tar.extractall(work, members=[m for m in tar.getmembers() if "/whisper/normalizers/" in m.name])
    return next(Path(p) for p in glob.glob(str(work / "openai_whisper-*")) if os.path.isdir(p))


def load_normalizers(source):
    # A bare package for `whisper`, so that whisper/__init__.py (torch) is not run.
    package = types.ModuleType("whisper")
    package.__path__ = [str(source / "whisper")]
    sys.modules["whisper"] = package
    from whisper.normalizers import BasicTextNormalizer, EnglishTextNormalizer
    return EnglishTextNormalizer, BasicTextNormalizer


def swift_string(text):
    out = []
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) > 0x7E:
            out.append("\\u{%X}" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--whisper-src")
    parser.add_argument("--output", default=str(ROOT / "Tests/HarkEvaluationTests/NormalizerFixtures.swift"))
    args = parser.parse_args()

    English, Basic = load_normalizers(whisper_source(args.whisper_src))
    english = English()
    lines = [
        "// Generated by Scripts/reference/normalizer_fixture.py with openai-whisper "
        f"{WHISPER_VERSION}'s normalisers. Do not edit by hand.",
        "",
        "/// Inputs and the output of whisper.normalizers.EnglishTextNormalizer.",
        "let englishNormalizerFixtures: [(input: String, expected: String)] = [",
    ]
    for text in ENGLISH:
        lines.append(f"    ({swift_string(text)}, {swift_string(english(text))}),")
    lines += [
        "]",
        "",
        "/// Inputs, options and the output of whisper.normalizers.BasicTextNormalizer.",
        "let basicNormalizerFixtures: [(input: String, removeDiacritics: Bool, splitLetters: Bool, expected: String)] = [",
    ]
    for text, remove, split in BASIC:
        expected = Basic(remove_diacritics=remove, split_letters=split)(text)
        lines.append(f"    ({swift_string(text)}, {str(remove).lower()}, {str(split).lower()}, {swift_string(expected)}),")
    lines.append("]")
    Path(args.output).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(ENGLISH)} English and {len(BASIC)} basic cases to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
