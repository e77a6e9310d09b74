"""The untrained baseline from issue 4: cosine to hand-written prototype sentences per class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.encoder import Encoder

# A dozen per class, in the three languages; written for this baseline, not taken from any dataset.
INCIDENT_PROTOTYPES: tuple[str, ...] = (
    "Старшеклассники избили ученика возле школы, видео драки разошлось в соцсетях.",
    "Одноклассники травят девочку в чате класса и выкладывают её фото с оскорблениями.",
    "Учительница ударила первоклассника и оскорбляла детей на уроке, родители пишут жалобу.",
    "У школьников отбирают деньги и телефоны, вымогают под угрозой избиения.",
    "Подросток пришёл в школу с ножом и угрожал одноклассникам.",
    "Педагога подозревают в домогательствах к ученице, возбуждено уголовное дело.",
    "Мектепте оқушыны сыныптастары ұрып-соқты, бала ауруханаға түсті.",
    "Мұғалім оқушыларды қорлап, ұрғаны туралы ата-аналар шағымданды.",
    "Оқушыны әлеуметтік желіде мазақтап, қорқытып жүр.",
    "A group of students beat up a classmate after school and posted the video online.",
    "A teacher was accused of sexually harassing pupils at a local school.",
    "A pupil threatened to bring a gun to school; police are investigating.",
)
NEWS_PROTOTYPES: tuple[str, ...] = (
    "Школьники области заняли призовые места на республиканской олимпиаде по математике.",
    "В школе завершился капитальный ремонт спортзала и столовой.",
    "Выпускники показали высокие результаты на ЕНТ.",
    "Турнир по вольной борьбе среди юношей прошёл в районном спорткомплексе.",
    "В школах прошла акция против буллинга и классные часы о дружбе.",
    "Мектепте жаңа оқу жылына арналған салтанатты жиын өтті.",
    "Оқушылар ҰБТ-дан жоғары нәтиже көрсетті.",
    "Қазақ күресінен мектеп оқушылары арасында жарыс өтті.",
    "Students from the region won medals at the national science olympiad.",
    "The school opened a new library and computer lab for pupils.",
    "A new film about bullying premiered at the city cinema.",
    "Two men fought in a cafe downtown; police detained both.",
)


class PrototypeBaseline:
    """Flag when the nearest incident prototype is closer than the nearest news prototype."""

    version = "prototype-baseline-1"

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.positive = encoder.embed(INCIDENT_PROTOTYPES)
        self.negative = encoder.embed(NEWS_PROTOTYPES)

    def margins(self, embeddings: np.ndarray) -> np.ndarray:
        """max cosine to an incident prototype minus max cosine to a news prototype (> 0 means flag)."""
        return np.asarray((embeddings @ self.positive.T).max(axis=1) - (embeddings @ self.negative.T).max(axis=1))

    def scores_of(self, embeddings: np.ndarray) -> np.ndarray:
        """A score in (0, 1) for ranking metrics; >= 0.5 exactly when the margin is positive."""
        return np.asarray(1.0 / (1.0 + np.exp(-self.margins(embeddings) * 50.0)), dtype=np.float64)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """scores_of the texts' embeddings."""
        return self.scores_of(self.encoder.embed(texts))
