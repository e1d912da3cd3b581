"""Which variables look like credentials, so that sharing leaves them out by default.

Judged at save time, on the live value (names and values), and recorded in the manifest's
``secrets``; sharing also re-checks names and previews of manifests made before this
existed. False positives cost a variable a teammate can ask for (``--include-secrets``);
false negatives leak a credential, so the checks lean to flagging.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

_NAME = re.compile(
    r"(?:^|[^a-z])(?:token|secret|passwd|password|passphrase|pwd|api_?key|apikey|access_?key"
    r"|private_?key|secret_?key|client_?secret|credentials?|auth_?token|bearer|session_?key"
    r"|cookie|dsn)(?:$|[^a-z])",
    re.IGNORECASE,
)
_NOT_NAME = re.compile(r"tokeni[sz]e|tokens?_(?:count|len|ids?)|n_tokens|num_tokens", re.I)
_VALUES = [
    (re.compile(r"(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}"), "an AWS access key id"),
    (re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"), "a PEM private key"),
    (
        re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        "a JSON web token",
    ),
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}"), "a GitHub token"),
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"sk-[A-Za-z0-9_-]{20,}"), "an API secret key"),
    (re.compile(r"://[^/\s:@]+:[^/\s@]{3,}@"), "a URL with a password"),
]
_CANDIDATE = re.compile(r"[A-Za-z0-9+/=_\-]{24,512}")
_MAX_TEXT = 64 * 1024
_MAX_ITEMS = 200


def _name_reason(name: str) -> str | None:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    if _NAME.search(snake) and not _NOT_NAME.search(snake):
        return f"its name {name!r} looks like a credential"
    return None


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def text_reason(text: str) -> str | None:
    """Why ``text`` looks like a credential, or None."""
    text = text[:_MAX_TEXT]
    for pattern, what in _VALUES:
        if pattern.search(text):
            return f"its value contains {what}"
    for token in _CANDIDATE.findall(text):
        # high entropy and mixed: letters of both cases and digits (hex digests, words and
        # numbers do not qualify)
        if (
            any(c.isdigit() for c in token)
            and any(c.islower() for c in token)
            and any(c.isupper() for c in token)
            and _entropy(token) >= 4.2
        ):
            return "its value contains a long random-looking string (a key or token?)"
    return None


def _value_reason(value: Any, depth: int = 0) -> str | None:
    if isinstance(value, str):
        return text_reason(value)
    if isinstance(value, (bytes, bytearray)) and len(value) <= _MAX_TEXT:
        return text_reason(bytes(value).decode("latin-1"))
    if depth >= 2:
        return None
    if isinstance(value, dict) and len(value) <= _MAX_ITEMS:
        for key, item in value.items():
            if isinstance(key, str) and isinstance(item, (str, bytes)) and item:
                named = _name_reason(key)
                if named:
                    return f"it holds {key!r}, which looks like a credential"
            found = _value_reason(item, depth + 1)
            if found:
                return found
    if isinstance(value, (list, tuple)) and len(value) <= _MAX_ITEMS:
        for item in value:
            found = _value_reason(item, depth + 1)
            if found:
                return found
    return None


def reason(name: str, value: Any) -> str | None:
    """Why the variable ``name`` = ``value`` looks like a credential, or None. Never raises:
    a value whose inspection fails is judged by its name alone."""
    named = _name_reason(name)
    if named and (isinstance(value, (str, bytes, dict)) or value is None):
        return named
    try:
        return _value_reason(value)
    except Exception:
        return named
