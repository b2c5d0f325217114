#!/usr/bin/env python3
"""Reference fixture for HarkTokenizer, made with the real HF `tokenizers` package.

Encodes a list of tricky strings with the tokenizer.json of each model
(English-only tiny.en and multilingual base) and records their ids and decoded
text; also decodes token sequences whose bytes are not valid UTF-8, to pin down
how invalid bytes become U+FFFD. Tests/HarkTokenizerTests compares the Swift
tokenizer against this file.

Re-run (from the repository root, with the models in Models/, see Scripts/setup):

    python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install tokenizers
    /tmp/tokvenv/bin/python Scripts/reference/tokenizer_fixture.py

Options: --models DIR (default: Models/ or $HARK_MODELS),
         --output FILE (default: Tests/HarkTokenizerTests/Fixtures/tokenizer_fixture.json).
"""

import argparse
import json
import os
import sys
from pathlib import Path

from tokenizers import Tokenizer, __version__ as tokenizers_version

ROOT = Path(__file__).resolve().parents[2]
MODELS = ["tiny.en", "base"]

TEXTS = [
    "",
    "hello",
    " hello",
    "Hello world",
    " Hello world, how are you?",
    "  two leading spaces",
    "trailing space ",
    "trailing spaces   ",
    "I'm here and they'll go, but don't stop.",
    "We've we're he'd she's it'll",
    "IT'S LOUD'RE 'S",
    "rock 'n' roll ''quoted''",
    "1,234.56 and 2024",
    "3.14159 007 12345678901234567890",
    "...!!!??? -- ---",
    "Wait... what?!",
    "(parenthetical) [brackets] {braces} <tags>",
    "a  b   c    d",
    "line one\nline two",
    "para\n\npara\n",
    "tab\tseparated\tvalues",
    "\n\n",
    "   ",
    " \n x",
    "\r\n windows\r\nline",
    "  \t mixed whitespace  x",
    "café naïve résumé Ångström",
    "e\u0301 combining acute",
    "你好世界",
    " こんにちは、世界。",
    "안녕하세요",
    "Привет, мир!",
    "مرحبا بالعالم",
    "שלום עולם",
    "👍🏽",
    "I 👍 emoji 🎉🎉 family 👨‍👩‍👧",
    "mixed English 中文 and Ελληνικά text",
    "½ ² Ⅻ ٣ numbers",
    "non\u00a0breaking\u2009thin\u3000ideographic",
    "zero\u200bwidth \ufeffbom",
    "$100 #hashtag @user 50% & C++ C#",
    "email@example.com https://example.com/path?q=1",
    "antidisestablishmentarianism supercalifragilisticexpialidocious",
    "<|endoftext|> is just text here",
]

# Byte sequences (as single-byte tokens) that are not valid UTF-8 on their own,
# mixed with valid ones: truncated characters, stray continuation bytes,
# overlong forms, surrogates, bytes out of range.
BYTE_SEQUENCES = [
    [0xF0, 0x9F, 0x91],              # 👍 cut short
    [0x41, 0x80, 0x42],              # stray continuation byte
    [0xE4, 0xBD, 0x20, 0x41],        # 你 cut short, then " A"
    [0xC0, 0x80, 0x43],              # overlong NUL
    [0xED, 0xA0, 0x80],              # UTF-16 surrogate
    [0xF4, 0x90, 0x80, 0x80],        # above U+10FFFF
    [0xFF, 0xFE, 0x44],              # never valid
    [0xE2, 0x82, 0xAC, 0xE2, 0x82],  # € then a cut €
]


def byte_token_ids(tokenizer, data):
    """Ids of the single-byte tokens for the bytes in data (GPT-2 bytes_to_unicode)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    mapping, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return [tokenizer.token_to_id(mapping[b]) for b in data]


def literal_tokenizer(spec):
    """The same BPE without added tokens, so "<|endoftext|>" in text is encoded as
    plain text (as Hark's Tokenizer.encode does, like tiktoken with
    disallowed_special=()) instead of becoming the special id."""
    spec = dict(spec, added_tokens=[], post_processor=None)
    return Tokenizer.from_str(json.dumps(spec))


def fixture_for(model_dir):
    with open(model_dir / "tokenizer.json", encoding="utf-8") as f:
        spec = json.load(f)
    tokenizer = Tokenizer.from_str(json.dumps(spec))
    literal = literal_tokenizer(spec)
    cases = []
    for text in TEXTS:
        ids = literal.encode(text, add_special_tokens=False).ids
        if "<|" not in text:
            # Without special-token strings both tokenizers agree.
            assert ids == tokenizer.encode(text, add_special_tokens=False).ids, text
        cases.append({"text": text, "ids": ids, "decoded": tokenizer.decode(ids)})
    byte_cases = []
    for data in BYTE_SEQUENCES:
        ids = byte_token_ids(tokenizer, data)
        byte_cases.append({"bytes": data, "ids": ids, "decoded": tokenizer.decode(ids)})
    return {"encode": cases, "decodeBytes": byte_cases}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path,
                        default=Path(os.environ.get("HARK_MODELS", ROOT / "Models")))
    parser.add_argument("--output", type=Path,
                        default=ROOT / "Tests/HarkTokenizerTests/Fixtures/tokenizer_fixture.json")
    args = parser.parse_args()

    fixture = {
        "generator": "Scripts/reference/tokenizer_fixture.py",
        "tokenizers": tokenizers_version,
        "models": {name: fixture_for(args.models / name) for name in MODELS},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as out:
        json.dump(fixture, out, ensure_ascii=False, indent=1)
        out.write("\n")
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
