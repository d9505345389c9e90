"""`tfidf`: TF-IDF word (and bigram) features with a logistic regression: the classical reference.

The baseline practitioners compare against first: no pretrained model at all,
seconds to fit on a CPU. Words and bigrams (by default) are weighted by
sublinear term frequency times inverse document frequency, each text's vector
L2-normalised, and a multinomial logistic regression (scikit-learn, L-BFGS,
inverse regularisation `C`) is fit on them. Every weight is trainable and
counted: one per feature and class, plus a bias per class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bench.contracts import ParameterCounts, Split, Strategy, TaskCard
from bench.registry import STRATEGIES


@dataclass(frozen=True)
class TfidfConfig:
    C: float = 10.0  # inverse L2 strength of the logistic regression
    ngram_max: int = 2  # longest word n-gram used as a feature (1: words only)
    min_df: int = 1  # ignore n-grams seen in fewer training texts than this
    max_iter: int = 2000  # L-BFGS iterations at most

    def __post_init__(self):
        if not self.C > 0 or self.ngram_max < 1 or self.min_df < 1 or self.max_iter < 1:
            raise ValueError("C must be > 0, and ngram_max, min_df and max_iter >= 1")


@STRATEGIES.register("tfidf")
class Tfidf(Strategy):
    Config = TfidfConfig
    family = "baseline"
    seeded = False  # deterministic: on the whole training split one run serves every seed
    search_space = {"C": (1.0, 10.0, 100.0), "ngram_max": (1, 2)}

    def fit(self, train: Split, task: TaskCard) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = TfidfVectorizer(ngram_range=(1, self.config.ngram_max), min_df=self.config.min_df,
                                          sublinear_tf=True)
        features = self.vectorizer.fit_transform(train.texts)
        self.model = LogisticRegression(C=self.config.C, max_iter=self.config.max_iter)
        self.model.fit(features, train.labels)
        self.n_labels = len(task.labels)

    def predict_proba(self, texts: Sequence[str]):
        import numpy as np

        proba = np.zeros((len(texts), self.n_labels))
        proba[:, self.model.classes_] = self.model.predict_proba(self.vectorizer.transform(texts))
        return proba

    def parameter_counts(self) -> ParameterCounts:
        weights = self.model.coef_.size + self.model.intercept_.size
        return ParameterCounts(trainable=int(weights), total=int(weights))

    def extra_info(self) -> dict:
        return {"features": len(self.vectorizer.vocabulary_)}
