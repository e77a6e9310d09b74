"""Versioned trained heads on disk: <root>/<version>/{head.json, metrics.json}; <root>/CURRENT names the one in use."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from monitor.core.config import ClassifierSettings
from monitor.core.errors import ClassifierError

CURRENT = "CURRENT"
METRICS_FILE = "metrics.json"
# The committed heads ship inside the package, so a fresh checkout classifies without training.
PACKAGED_ROOT = Path(__file__).resolve().parent / "trained"


def trained_root(settings: ClassifierSettings) -> Path:
    """classifier.model_dir, or the heads committed in the repository when it is empty."""
    return Path(settings.model_dir).expanduser() if settings.model_dir else PACKAGED_ROOT


def current_version(root: Path) -> str:
    """The version CURRENT names; ClassifierError naming the directory and how to rebuild when absent."""
    pointer = root / CURRENT
    try:
        version = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ClassifierError(f"no trained classifier in {root} ({CURRENT} is missing); run `monitor train` "
                              "to build one, or set classifier.model_dir") from None
    except OSError as e:
        raise ClassifierError(f"cannot read {pointer}: {e.strerror}") from None
    if not version or "/" in version or not (root / version).is_dir():
        raise ClassifierError(f"{pointer} names {version!r}, which is not a directory in {root}; run `monitor train`")
    return version


def model_dir(root: Path, version: str | None = None) -> Path:
    """The directory of `version` (default: the current one)."""
    return root / (version or current_version(root))


def read_metrics(directory: Path) -> dict[str, Any]:
    """metrics.json of a trained version ({} when absent or unreadable)."""
    try:
        data = json.loads((directory / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_metrics(directory: Path, metrics: dict[str, Any]) -> None:
    """Write metrics.json beside the head."""
    (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def promote(root: Path, version: str) -> None:
    """Point CURRENT at `version` (atomic replace)."""
    fd, tmp = tempfile.mkstemp(prefix=".current-", dir=root)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(version + "\n")
    os.replace(tmp, root / CURRENT)
