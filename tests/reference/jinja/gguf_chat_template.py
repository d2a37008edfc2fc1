"""Reads `tokenizer.chat_template` from a GGUF file's metadata (GGUF v2/v3).

Independent of Tandem's own GGUF loader: a direct walk over the key/value
section as the GGUF specification lays it out (little-endian).
Usage: python gguf_chat_template.py MODEL.gguf > template.jinja
"""
import struct
import sys

# GGUF metadata value types -> struct format of scalars (8 = string, 9 = array).
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _read(f, fmt):
    size = struct.calcsize("<" + fmt)
    return struct.unpack("<" + fmt, f.read(size))[0]


def _string(f):
    return f.read(_read(f, "Q")).decode("utf-8")


def _value(f, vtype):
    if vtype == 8:
        return _string(f)
    if vtype == 9:
        item_type, count = _read(f, "I"), _read(f, "Q")
        return [_value(f, item_type) for _ in range(count)]
    return _read(f, _SCALARS[vtype])


def read_metadata(path, wanted=None):
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        version = _read(f, "I")
        if version not in (2, 3):
            raise ValueError(f"{path}: unsupported GGUF version {version}")
        _read(f, "Q")  # tensor count
        n_kv = _read(f, "Q")
        out = {}
        for _ in range(n_kv):
            key = _string(f)
            value = _value(f, _read(f, "I"))
            if wanted is None or key in wanted:
                out[key] = value
        return out


def chat_template(path):
    return read_metadata(path, {"tokenizer.chat_template"})["tokenizer.chat_template"]


if __name__ == "__main__":
    sys.stdout.write(chat_template(sys.argv[1]))
