"""The machinery strategies share: prompts, label scoring, retrieval, training.

- `prompts`: a task card's template laid out as chat turns.
- `scoring`: a causal LM scores each label's words after a prompt (prefix cache, batching, calibration).
- `retrieval`: sentence embeddings in a FAISS index, cached on disk.
- `training`: the one training loop (validation split, curves, best epoch, early stopping, artifacts).
- `classifier`: a transformers sequence classifier fine-tuned through that loop (lora, full, partial).
"""
