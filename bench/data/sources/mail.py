"""Raw RFC 822 e-mails as classification text: the subject and the readable body.

`mail_text(raw)` parses one mail with the standard library's `email` package
and returns "subject\\n\\nbody":
- the Subject header is decoded (RFC 2047 encoded words, any charset);
- every text part that is not an attachment is decoded from its transfer
  encoding (base64, quoted-printable, 7/8 bit) and then from its charset;
- the plain-text parts make the body; a mail with only HTML parts (most spam)
  gets them converted to text (tags, scripts and styles removed, entities
  resolved), and so does a whole HTML document sent as text/plain; a part
  that declares a multipart type but whose boundary is broken is read as text
  as it stands.

Charsets: the declared one when Python knows it (a few names from mail clients
are mapped to the tables they really used, e.g. iso-8859-1 to cp1252), else
UTF-8, strictly. A part that fits neither (undeclared 8-bit text, or text that
breaks its own declaration) is read as Windows-1252, with its few undefined
bytes replaced by U+FFFD. No mail is dropped for its encoding; `mail_text` says
whether any part needed that fallback.

`MailFolders` is the data source: `<prefix>/<folder>/*.txt`, one mail per file,
each folder mapped to a label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, ClassVar

from bench.data.sources.archives import decode_text, describe, frame, members

if TYPE_CHECKING:
    import pandas as pd
    from email.message import Message

# Charset names seen in mail that Python lacks, or whose larger table mail clients really
# used (as web browsers assume too): Latin-1 mail is full of Windows-1252 quotes and dashes.
_CHARSETS = {"iso-8859-1": "cp1252", "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "gb2312": "gb18030",
             "gbk": "gb18030", "big5": "cp950", "chinesebig5": "cp950"}
_HTML_TAG = re.compile(r"<\s*(html|head|body|!doctype)\b", re.IGNORECASE)
_SKIP_TAGS = {"script", "style", "head", "title"}
_BLOCK_TAGS = {"br", "p", "div", "tr", "li", "td", "th", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}


class _TextOfHtml(HTMLParser):
    """Collects the visible text of an HTML document; entities are resolved by HTMLParser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIP_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self.skipping:
            self.skipping -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def _is_html_document(text: str) -> bool:
    """HTML sent as text/plain: starts with a tag and has an html/head/body tag.

    Mail that merely talks about HTML (quoting `<body>` in a discussion) does
    not start with a tag, and keeps its text as written.
    """
    return text.lstrip()[:1] == "<" and _HTML_TAG.search(text) is not None


def _subject(message: "Message") -> tuple[str, bool]:
    from email.errors import HeaderParseError
    from email.header import decode_header

    value = message.get("Subject")
    if value is None:
        return "", True
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError):  # a malformed encoded word: keep the header as written
        chunks = [(str(value), None)]
    texts, exact = [], True
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            chunk, ok = decode_text(chunk, _CHARSETS.get(charset, charset))
            exact &= ok
        texts.append(chunk)
    return " ".join("".join(texts).split()), exact


def mail_text(raw: bytes) -> tuple[str, bool]:
    """(subject + readable body, whether no part needed the Windows-1252 fallback)."""
    import email

    message = email.message_from_bytes(raw)
    subject, exact = _subject(message)
    plain, html = [], []
    for part in message.walk():
        if part.is_multipart() or "attachment" in str(part.get("Content-Disposition", "")).lower():
            continue
        maintype, subtype = part.get_content_maintype(), part.get_content_subtype()
        broken_multipart = maintype == "multipart"  # declared multipart, boundary not found
        if maintype != "text" and not broken_multipart:
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset()
        text, ok = decode_text(payload, _CHARSETS.get(charset, charset))
        exact &= ok
        (html if subtype == "html" or _is_html_document(text) else plain).append(text)
    body = "\n".join(plain) if any(p.strip() for p in plain) else "\n".join(html_to_text(h) for h in html)
    return f"{subject}\n\n{body}".strip(), exact


@dataclass(frozen=True)
class MailFolders:
    """`<prefix>/<folder>/*.txt` raw mails; `folders` maps each folder to its label."""

    kind: ClassVar[str] = "mail-folders"
    artifact: str
    prefix: str
    folders: tuple[tuple[str, str], ...]  # (folder, label)

    def describe(self) -> str:
        return describe(self.artifact, f"{self.prefix.rstrip('/')}/{{{','.join(f for f, _ in self.folders)}}}/*.txt")

    def load(self) -> tuple["pd.DataFrame", None]:
        texts, labels = self.parse()[:2]
        return frame(texts, labels), None

    def parse(self) -> tuple[list[str], list[str], list[str]]:
        """Texts, labels, and the names of the mails that needed the replacement fallback."""
        label_of = dict(self.folders)
        texts, labels, inexact = [], [], []
        for name, raw in members(self.artifact, self.prefix, ".txt"):
            folder, _, file = name[len(self.prefix):].lstrip("/").partition("/")
            if folder in label_of and file and "/" not in file:
                text, exact = mail_text(raw)
                texts.append(text)
                labels.append(label_of[folder])
                if not exact:
                    inexact.append(name)
        return texts, labels, inexact
