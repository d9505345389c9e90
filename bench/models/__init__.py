"""Models: the packaged catalogue, where each one's files are, and the one-time GGUF conversion.

- `catalogue`: the models that ship inside pinned registry packages (kind, licence, provenance).
- `local`: a model name to a local folder; the offline switches for the hubs.
- `gguf`: GGUF language models converted once into a cached safetensors folder.
"""
