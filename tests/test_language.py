"""Language detection on short ru/kk/en posts, including Kazakh without its special letters."""

import pytest

from monitor.ingest.language import detect_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("В Талгаре ученики избили одноклассника", "ru"),
        ("Қаскелең мектебінде оқушылар төбелесті", "kk"),
        ("Алматы облысы Талғар ауданы, 12-мектеп", "kk"),
        ("Мектепте окушылар тобелесті, бул туралы ата-аналар айтты", "kk"),
        ("A fight at a school in Almaty was filmed by students", "en"),
        ("mektepte oqushylar tobelesti", "kk"),
        ("v shkole izbili uchenika", "ru"),
        ("😡😡😡", "other"),
        ("", "other"),
        ("12345 !!!", "other"),
        ("Новость про школу в Қонаев", "ru"),
    ],
)
def test_detect_language(text, lang):
    assert detect_language(text) == lang
