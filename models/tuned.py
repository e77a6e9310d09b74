"""Fine-tuned top encoder layers stored beside a head (encoder_layers.safetensors, fp16) and put on the encoder at load."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

from models.encoder import Encoder, TunedTop
from models.head import Head
from monitor.core.errors import ClassifierError

TUNED_FILE = "encoder_layers.safetensors"


def save_tuned(layers: Any, first: int, directory: Path) -> str:
    """Write the fine-tuned layers `first`.. (a torch ModuleList) as fp16 safetensors; returns the file's sha256."""
    import torch
    from safetensors.torch import save_file

    tensors = {f"{first + i}.{name}": value.detach().to(torch.float16).contiguous()
               for i, layer in enumerate(layers) for name, value in layer.state_dict().items()}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / TUNED_FILE
    save_file(tensors, str(path), metadata={"first": str(first), "layers": str(len(layers))})
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_tuned(encoder: Encoder, directory: Path, head: Head) -> TunedTop:
    """The head's fine-tuned layers as copies of the encoder's own; ClassifierError when absent or not this head's."""
    import torch
    from safetensors.torch import load

    path = directory / TUNED_FILE
    wanted = head.encoder_layers
    span = f"{wanted[0]}-{wanted[-1]}" if wanted else "-"
    rebuild = "run `monitor train --finetune` again, or point CURRENT at a head without fine-tuned layers"
    if not wanted or wanted != tuple(range(wanted[0], encoder.layers + 1)):
        raise ClassifierError(f"the head in {directory} was fine-tuned with encoder layers {span}, which are not the "
                              f"top layers of this {encoder.layers}-layer encoder; {rebuild}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ClassifierError(f"the head in {directory} was fine-tuned together with encoder layers {span}, but "
                              f"their weights ({TUNED_FILE}) are missing there; {rebuild}") from None
    except OSError as e:
        raise ClassifierError(f"cannot read {path}: {e.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != head.encoder_layers_sha256:
        raise ClassifierError(f"{path} is not the file the head in {directory} was trained with "
                              f"(sha256 {digest[:12]}…, expected {head.encoder_layers_sha256[:12]}…); {rebuild}")
    try:
        tensors = load(data)
        layers = torch.nn.ModuleList()
        for number in wanted:
            layer = copy.deepcopy(encoder.model.encoder.layer[number - 1])
            state = {name: tensors[f"{number}.{name}"].to(value.dtype) for name, value in layer.state_dict().items()}
            layer.load_state_dict(state, strict=True)
            layers.append(layer)
    except (KeyError, RuntimeError, ValueError) as e:
        raise ClassifierError(f"{path} does not fit this encoder ({e}); {rebuild}") from None
    layers.to(encoder.device).eval()
    layers.requires_grad_(False)
    return TunedTop(wanted[0], layers, digest)


def apply_tuned(encoder: Encoder, directory: Path, head: Head) -> None:
    """Give the encoder the head's fine-tuned top layers, or take them away for a head on the frozen encoder."""
    encoder.tuned = load_tuned(encoder, directory, head) if head.encoder_layers else None
