"""Single sentences from IMDb reviews, positive or negative (Kotzias et al. 2015).

The IMDb third of the UCI Sentiment Labelled Sentences, as shipped in the npm
package `sentiment@5.0.2` (`test/fixtures/imdb.json`, a list of
`{text, class}`; its trailing empty entry is left out): 1,000 sentences,
500 negative / 500 positive, 1 to 71 words (median 12). Not the `imdb` task's
full-length reviews. Licence: MIT (package).

No official split. After dropping 3 repeated sentences (997 left), a stratified
20 % test split with split_seed 0: 798 train (399 negative / 399 positive),
199 test (100 / 99).
"""

from bench.contracts import TaskCard
from bench.registry import TASKS
from bench.sources import JsonRecords

CARD = TaskCard(
    name="imdb-sentences",
    description="movie review sentence sentiment, very short texts",
    labels=("negative", "positive"),
    raw_labels=("0", "1"),
    label_words=("negative", "positive"),
    instruction="Is the sentiment of this sentence from a movie review positive or negative?",
    source=JsonRecords("sentiment", "package/test/fixtures/imdb.json", label_key="class"),
    max_tokens=96,
    licence="UCI Sentiment Labelled Sentences (Kotzias et al. 2015); package MIT",
)
TASKS.register(CARD.name)(CARD)
