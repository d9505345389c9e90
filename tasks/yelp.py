"""Yelp restaurant review sentences, positive or negative (Kotzias et al. 2015).

The Yelp third of the UCI Sentiment Labelled Sentences, as shipped in the npm
package `sentiment@5.0.2` (`test/fixtures/yelp.json`, a list of
`{text, class}`; its trailing empty entry is left out): 1,000 sentences,
500 negative / 500 positive, 1 to 32 words (median 10). Licence: MIT (package).

No official split. After dropping 4 repeated sentences (996 left), a stratified
20 % test split with split_seed 0: 797 train (398 negative / 399 positive),
199 test (99 / 100).
"""

from bench.contracts import TaskCard
from bench.registry import TASKS
from bench.sources import JsonRecords

CARD = TaskCard(
    name="yelp",
    description="restaurant review sentence sentiment, very short texts",
    labels=("negative", "positive"),
    raw_labels=("0", "1"),
    label_words=("negative", "positive"),
    instruction="Is the sentiment of this restaurant review positive or negative?",
    source=JsonRecords("sentiment", "package/test/fixtures/yelp.json", label_key="class"),
    max_tokens=64,
    licence="UCI Sentiment Labelled Sentences (Kotzias et al. 2015); package MIT",
)
TASKS.register(CARD.name)(CARD)
