"""Prompts built from a task card's template: the words a language model reads.

The card owns the wording (`instruction`, `answer_format` with `{choices}`,
`text_format` with `{text}`, `label_words`); this module only lays it out as
chat turns:

- the first user turn opens with the instruction and the answer format;
- each demonstration is a user turn (the text, shown through `text_format`)
  answered by the assistant with its label word;
- the text to classify is the last user turn; the assistant's turn is then
  opened, and the label words are scored as its continuation.

Demonstrations are chat turns, not pasted into one message, so the model sees
the exact answer it is scored on. A model with a chat template renders the
turns through it; one without (a base model) gets them as plain text, each
user turn ending in "\\nAnswer:" and each answer after a space.
"""

from __future__ import annotations

from typing import Any, Sequence

from bench.contracts import TaskCard


class PromptBuilder:
    """Lays a task's template out as turns and renders them for one tokenizer."""

    def __init__(self, task: TaskCard, tokenizer: Any):
        self.task = task
        self.tokenizer = tokenizer
        self.words = tuple(task.label_words or task.labels)
        self.chat = bool(getattr(tokenizer, "chat_template", None))

    def head(self) -> str:
        """The start of the first user turn: instruction and answer format."""
        instruction = self.task.instruction or f"Classify the text as one of: {', '.join(self.words)}."
        answer = self.task.answer_format.replace("{choices}", " or ".join(self.words))
        return f"{instruction}\n{answer}\n\n"

    def show(self, text: str) -> str:
        """A text as the model sees it (demonstration or query)."""
        return self.task.text_format.replace("{text}", text)

    def label_texts(self) -> list[str]:
        """The text scored after the prompt for each label: its words (after a space in plain prompts)."""
        return [("" if self.chat else " ") + w for w in self.words]

    def conversation(self, demos: Sequence[tuple[str, int]], last: str) -> list[dict]:
        """Each demonstration as a user turn answered by the assistant, then the user turn `last` (already shown)."""
        turns = []
        for i, (text, label) in enumerate(demos):
            turns += [{"role": "user", "content": (self.head() if i == 0 else "") + self.show(text)},
                      {"role": "assistant", "content": self.words[label]}]
        return turns + [{"role": "user", "content": ("" if demos else self.head()) + last}]

    def render(self, turns: list[dict]) -> str:
        """The prompt as text, ending where the assistant's answer starts."""
        if self.chat:
            return self.tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        plain = [t["content"] + "\nAnswer:" if t["role"] == "user" else f" {t['content']}\n\n" for t in turns]
        return (self.tokenizer.bos_token or "") + "".join(plain)
