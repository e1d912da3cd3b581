"""Which variables hold credentials, so that sharing leaves them out by default.

Judged at save time on what is actually pickled: every string and bytes constant a group's
stream holds, read from its opcodes (``scan.pickled_strings``: dict values, object
attributes, list items, function defaults and code constants, class bodies, closures),
each with its path (``config["db"]["password"]``) and the name it was stored under. The
verdicts go into the manifest's ``secrets``; sharing leaves out every flagged variable
and blanks history lines that hold one (:func:`line_reason`), and re-checks names and
previews of manifests made before this existed (:func:`reason`).

Three kinds of evidence, strongest first:

1. *Formats*: AWS key ids, GitHub/GitLab/Slack/Stripe/OpenAI/Google/Hugging Face/npm/PyPI/
   SendGrid/Mailgun tokens, JWTs, PEM and DER private keys, Azure account keys, passwords in
   URLs, ``Authorization`` headers. Anywhere, whatever the name.
2. *Context*: a value stored under a credential name (``db_pass``, ``"password"``,
   ``.api_key``, ``password=`` in a call, ``SECRET_KEY=`` in a text) that looks like one:
   not empty, masked, a placeholder, a path, a URL or an ``ENV_NAME``. Names qualified by
   what they describe (``token_type``, ``password_min_length``, ``private_key_path``) are
   not credentials.
3. *Randomness*: a 24–200 character run of mixed-case letters and digits with high
   entropy, unless it is known public data (base64 blobs and data URIs, Stripe object ids,
   UUIDs, hex digests, public keys).

False positives cost a variable a teammate can ask for (``--include-secrets``); false
negatives leak a credential. Measured on ``tests/secrets_corpus.py`` by
``bench/bench_secrets.py`` (bench/RESULTS.md, "Secrets").
"""

from __future__ import annotations

import ast
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

log = logging.getLogger("sessions.core.sharing.secrets")

_MAX_TEXT = 64 * 1024
_MAX_ITEMS = 200
# Bounds on the work per group: opcodes walked (~0.1-0.3 s at most), then the formats only
# in the first bytes of the stream and of each text-like buffer (scan_bytes). A large group
# is judged on its first part.
_MAX_WALK_OPS = 60_000
_MAX_RAW_SCAN = 4 * 1024 * 1024

# --- 1. formats ---------------------------------------------------------------------------

_FORMATS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
        "an AWS access key id",
    ),
    (re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), "a PEM private key"),
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        "a JSON web token",
    ),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"), "a GitHub token"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{60,}"), "a GitHub token"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), "a GitLab token"),
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (
        re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"),
        "a Slack webhook",
    ),
    (re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"), "a Stripe secret key"),
    (
        re.compile(r"\bsk-(?:proj-|ant-[a-z0-9]+-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
        "an API secret key",
    ),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), "a Google API key"),
    (re.compile(r"\bhf_[A-Za-z]{30,}\b"), "a Hugging Face token"),
    (re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), "an npm token"),
    (re.compile(r"\bpypi-AgE[A-Za-z0-9_-]{50,}"), "a PyPI token"),
    (re.compile(r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b"), "a SendGrid key"),
    (re.compile(r"\bkey-[0-9a-f]{32}\b"), "a Mailgun key"),
    (re.compile(r"\bSK[0-9a-f]{32}\b"), "a Twilio API key"),
    (re.compile(r"AccountKey=[A-Za-z0-9+/]{40,}={0,2}"), "an Azure account key"),
    (
        re.compile(r"\b[MN][A-Za-z0-9]{23}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}"),
        "a Discord bot token",
    ),
    (re.compile(r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b"), "a Telegram bot token"),
]
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"]*:([^/\s@'\"]{3,})@")
_AUTH_HEADER = re.compile(r"(?i)\b(?:bearer|token|basic)\s+([A-Za-z0-9._~+/=-]{16,})")
# DER private keys: SEQUENCE { INTEGER 0|1, then an RSA modulus, a PKCS#8 algorithm (RSA, EC,
# Ed25519/Ed448) or an EC private key OCTET STRING }
_DER_KEY = re.compile(
    rb"\A\x30(?:\x82..|\x81.|[\x00-\x7f])\x02\x01[\x00\x01]"
    rb"(?:\x02\x82|\x02\x81|\x04[\x20\x30\x42]"
    rb"|\x30.{2,20}?(?:\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01|\x2a\x86\x48\xce\x3d\x02\x01|\x2b\x65[\x70\x71]))",
    re.S,
)
_ANY_FORMAT = re.compile("|".join(f"(?:{p.pattern})" for p, _ in _FORMATS))
# Literal parts of the formats above, found with bytes.find (memchr speed), so that a large
# stream or buffer is searched without running the regexes over all of it.
_LITERALS = (
    b"AKIA", b"ASIA", b"AGPA", b"AIDA", b"AROA", b"A3T", b"PRIVATE KEY", b"eyJ", b"ghp_",
    b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_", b"glpat-", b"xox", b"hooks.slack.com",
    b"k_live_", b"k_test_", b"sk-", b"AIza", b"hf_", b"npm_", b"pypi-", b"SG.", b"key-",
    b"AccountKey=", b"://", b"earer ", b"oken ", b"asic ", b":AA",
)  # fmt: skip
_LITERAL = re.compile(b"|".join(re.escape(literal) for literal in _LITERALS))
# What every match of _ANY_FORMAT holds: a literal part of its format, or for the two
# formats with none in _LITERALS, "SK" (Twilio) and the start of a Discord token. A regex of
# alternatives that each begin with \b runs at a few MB/s; plain literals and one character
# class, searched apart, run many times faster, so format_reason screens with them first
# (64 KB of array bytes held in a stream: 74 ms unscreened, measured; 2 ms screened).
_FORMAT_LITERALS = re.compile(
    "|".join([re.escape(literal.decode()) for literal in _LITERALS] + ["ANPA", "ANVA", "AIPA"])
)
_DISCORD_START = re.compile(r"[MN][A-Za-z0-9]{23}\.")


def _may_hold_format(text: str) -> bool:
    """False only when no pattern of _FORMATS can match ``text`` (a fast screen)."""
    return bool(_FORMAT_LITERALS.search(text) or "SK" in text or _DISCORD_START.search(text))


# The four non-ASCII letters an IGNORECASE regex matches to ASCII ones (İ ı ſ K).
_FOLDING = ("\u0130", "\u0131", "\u017f", "\u212a")


def _may_hold_auth(text: str) -> bool:
    """False only when _AUTH_HEADER cannot match ``text``: it holds none of its scheme
    words in any case (str.lower and ``in`` at C speed; an IGNORECASE regex is slower)."""
    low = text.lower()
    return (
        "bearer" in low
        or "token" in low
        or "basic" in low
        or (not text.isascii() and any(c in text for c in _FOLDING))
    )


_MAX_LITERAL_HITS = 2_000

# --- 2. context -------------------------------------------------------------------------

_PASSWORD_WORDS = {"password", "passwd", "pwd", "pass", "passphrase", "pw", "passwords", "pword"}
_TOKEN_WORDS = {
    "secret", "secrets", "token", "credential", "credentials", "creds", "apikey", "bearer",
    "authorization", "auth", "dsn", "webhook", "passkey", "privatekey", "accesstoken",
}  # fmt: skip
_KEY_OWNERS = {
    "api", "access", "secret", "private", "app", "auth", "client", "signing", "encryption",
    "master", "account", "license", "subscription", "service", "consumer", "deploy", "ssh",
    "gpg", "pgp", "sas", "storage", "session", "mailgun", "stripe", "twilio", "datadog", "dd",
    "sendgrid", "openai", "anthropic", "github", "gitlab", "slack", "aws", "gcp", "azure",
    "heroku", "google", "maps", "hf", "npm", "pypi", "bot", "admin", "root", "hmac", "jwt",
}  # fmt: skip
# A last word saying the name describes a credential rather than holds one.
_QUALIFIERS = {
    "type", "types", "length", "len", "min", "max", "count", "counts", "num", "size", "url",
    "urls", "uri", "endpoint", "file", "files", "path", "paths", "dir", "name", "names",
    "field", "fields", "header", "prefix", "suffix", "env", "var", "policy", "hint", "prompt",
    "template", "expiry", "expires", "expiration", "ttl", "timeout", "age", "days", "algorithm",
    "alg", "version", "id", "ids", "kind", "format", "scope", "scopes", "label", "message",
    "msg", "regex", "pattern", "rounds", "strength", "required", "enabled", "index", "idx",
    "column", "col", "placeholder", "example", "rotation", "reset", "hash", "hashed", "salt",
    "method", "methods", "provider", "class", "mode", "store", "manager", "location", "level",
    "santa", "sauce", "agent", "attempts", "retries", "changed", "valid", "sent", "used",
    "is", "has", "check", "checker", "validator", "strategy", "secure", "cache", "fn", "func",
}  # fmt: skip
_LEADING_QUALIFIERS = {"n", "num", "max", "min", "count", "is", "has", "use", "total"}
_NOT_NAME = re.compile(r"tokeni[sz]|tokens?_(?:count|len|ids?)|n_tokens|num_tokens", re.I)
_PLACEHOLDER = re.compile(
    r"\A(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{?[^{}]*\}?\}|<[^<>]*>|%\(?[a-z_]*\)?s|\*+|x+|X+"
    r"|\.+|-+|(?i:your[_ -].*|changeme|redacted|none|null|nil|undefined|todo|tbd|secret|password"
    r"|xxx+|example|dummy|placeholder|\*\*\*+|<?redacted>?))\Z"
)
_ENV_NAME = re.compile(r"\A[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\Z")

# --- 3. randomness ------------------------------------------------------------------------

_CANDIDATE = re.compile(r"[A-Za-z0-9+/=_\-.~]{20,}")
_PUBLIC_ID = re.compile(
    r"\A(?:pi|ch|cus|price|prod|in|ii|txn|evt|acct|sub|si|seti|src|py|re|po|pm|cs|pk_live"
    r"|pk_test|plink|promo|coupon|card|ba|btok|tr|fee|li|il|ord|sku)_[A-Za-z0-9]{8,}\Z"
)
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_HEXISH = re.compile(r"\A(?:0x)?[0-9a-fA-F]+\Z")
_DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+")
_PUBLIC_BLOCK = re.compile(
    r"-----BEGIN (?:PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE|CERTIFICATE REQUEST|PGP PUBLIC KEY BLOCK)-----"
    r".*?-----END [A-Z ]+-----",
    re.S,
)
_SSH_PUBLIC = re.compile(
    r"\b(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-ssh-\S+)\s+AAAA[A-Za-z0-9+/=]+"
)
_KEY_VALUE = re.compile(
    r"""(?P<key>[A-Za-z_][A-Za-z0-9_.-]{1,60})["']?[ \t]*(?:=|:)[ \t]*["']?(?P<value>[^\s"',;&<>)]{1,400})"""
)


def words(name: str) -> list[str]:
    """``dbPass`` / ``DB_PASS`` / ``db-pass`` → ``["db", "pass"]``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", snake.lower()) if w]


# Every word name_kind() can answer for contains one of these (pwd, passwd, creds, apikey,
# authorization...), so a name holding none of them is answered at C speed: most names.
_TRIGGER = re.compile(
    r"pw|pass|secret|token|cred|key|bearer|auth|dsn|webhook|sid|pat|otp|pin|cookie"
)


def name_kind(name: str | None) -> str | None:
    """``"password"``, ``"token"`` or None: what a value stored under ``name`` would be."""
    if not name or len(name) > 80 or not _TRIGGER.search(name.lower()):
        return None
    if _NOT_NAME.search(name):
        return None
    parts = words(name)
    if not parts or parts[-1] in _QUALIFIERS or parts[0] in _LEADING_QUALIFIERS:
        return None
    joined = "".join(parts)
    if any(p in _PASSWORD_WORDS for p in parts) or joined in ("dbpass", "pgpassword"):
        return "password"
    if any(p in _TOKEN_WORDS for p in parts) or joined.endswith(
        ("apikey", "secretkey", "privatekey")
    ):
        return "token"
    if parts[-1] in ("key", "keys") and len(parts) > 1 and parts[-2] in _KEY_OWNERS:
        return "token"
    if parts[-1] in ("sid", "pat", "otp", "pin", "cookie") and len(parts) > 1:
        return "token"
    return None


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def _not_a_value(value: str) -> bool:
    """Empty, masked, a placeholder, a path or URL, a name: nothing secret by itself."""
    text = value.strip()
    if len(text) < 4 or _PLACEHOLDER.match(text) or _ENV_NAME.match(text):
        return True
    if text.startswith(("/", "~/", "./", "../", "http://", "https://", "file://")):
        return not _URL_PASSWORD.search(text)
    return bool(re.match(r"\A[A-Za-z]:\\", text))


def _looks_like(value: str, kind: str, strict: bool = False) -> bool:
    """Whether ``value``, stored under a name of ``kind``, plausibly is that credential.
    ``strict`` (inside code, where names are less tied to values): token rules for all."""
    if _not_a_value(value):
        return False
    text = value.strip()
    if kind == "password" and not strict:
        if len(text) > 200:
            return False
        if " " in text:  # a passphrase: a few plain words
            parts = text.split()
            return 3 <= len(parts) <= 8 and all(p.isalpha() and p.islower() for p in parts)
        return True
    if " " in text or len(text) < 8 or len(text) > 4096:
        return False
    if strict and text.isidentifier():
        return False
    has_digit = any(c.isdigit() for c in text)
    has_alpha = any(c.isalpha() for c in text)
    mixed = any(c.islower() for c in text) and any(c.isupper() for c in text)
    if strict:
        return has_digit and has_alpha and _entropy(text) >= 3.0
    return ((has_digit and has_alpha) or (mixed and len(text) >= 16)) and _entropy(text) >= 2.8


def _random_run(token: str) -> bool:
    if not 24 <= len(token) <= 200 or _PUBLIC_ID.match(token) or _HEXISH.match(token):
        return False
    if _UUID.fullmatch(token) or token.count("/") > 3 or token.count(".") > 3:
        return False
    if "." in token and token.replace("-", "").replace(".", "").isalpha():
        return False
    return (
        any(c.isdigit() for c in token)
        and any(c.islower() for c in token)
        and any(c.isupper() for c in token)
        and _entropy(token) >= 4.0
    )


def format_reason(text: str) -> str | None:
    """A recognisable credential format inside ``text`` (strong evidence, any context)."""
    if _may_hold_format(text) and _ANY_FORMAT.search(text):
        for pattern, what in _FORMATS:
            if pattern.search(text):
                return what
    if "://" not in text and " " not in text:
        return None
    if "://" in text:  # (what _URL_PASSWORD needs)
        for match in _URL_PASSWORD.finditer(text):
            if not _not_a_value(match.group(1)) and not match.group(1).startswith("$"):
                return "a URL with a password"
    if not _may_hold_auth(text):
        return None
    for match in _AUTH_HEADER.finditer(text):
        if _random_run(match.group(1)) or (
            len(match.group(1)) >= 20 and _looks_like(match.group(1), "token")
        ):
            return "an Authorization header with a token"
    return None


def text_reason(text: str, *, context: str | None = None, strict: bool = False) -> str | None:
    """Why ``text`` (stored under the name ``context``, if any) looks like a credential, or
    None. ``strict``: the weaker evidence code constants get (see ``_looks_like``)."""
    text = text[:_MAX_TEXT]
    kind = name_kind(context)
    if len(text) < 10 and not kind:
        return None  # shorter than any format, and stored under no credential name
    found = format_reason(text)
    if found:
        return f"holds {found}"
    if kind and _looks_like(text, kind, strict):
        what = "a password" if kind == "password" else "a token or key"
        return f"looks like {what} (stored as {context!r})"
    if len(text) < 20:
        return None
    if "=" in text or ":" in text:
        for match in _KEY_VALUE.finditer(text):
            inner = name_kind(match.group("key"))
            if inner and _looks_like(
                match.group("value"), inner, strict=True if inner == "token" else strict
            ):
                return f"holds {match.group('key')}=… with a credential"
    cleaned = _SSH_PUBLIC.sub(" ", _PUBLIC_BLOCK.sub(" ", _DATA_URI.sub(" ", text)))
    for token in _CANDIDATE.findall(cleaned):
        if len(token) > 200:
            continue  # a long base64 run is data (images, payloads), not a key
        if _random_run(token.strip("=-_.~")):
            return "holds a long random-looking string (a key or token?)"
    return None


def bytes_reason(data: bytes, *, context: str | None = None, strict: bool = False) -> str | None:
    """Why ``data`` looks like a credential: a DER private key, or its text does (judged by
    its name only when it is text: binary data, bytecode above all, is no password)."""
    data = data[:_MAX_TEXT]
    if _DER_KEY.match(data):
        return "holds a DER private key"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if not text or not text.isprintable() or strict:
        found = format_reason(data.decode("latin-1"))
        return f"holds {found}" if found else None
    return text_reason(text, context=context, strict=strict)


# --- what a save pickles -----------------------------------------------------------------


def scan_bytes(data: bytes | memoryview, limit: int = _MAX_RAW_SCAN) -> str | None:
    """A credential format in the first ``limit`` bytes of ``data`` (a stream or buffer):
    one pass for the formats' literal parts, the full patterns checked around each hit."""
    if _DER_KEY.match(data):
        return "a DER private key"
    for hits, match in enumerate(_LITERAL.finditer(data, 0, limit)):
        if hits >= _MAX_LITERAL_HITS:
            break
        start = match.start()
        found = format_reason(bytes(data[max(0, start - 120) : start + 400]).decode("latin-1"))
        if found:
            return found
    return None


_PRINTABLE = bytes(range(32, 127))


def _texty(data: memoryview) -> bool:
    """Whether a buffer looks like text (string data) rather than numbers."""
    sample = bytes(data[:4096])
    printable = len(sample) - len(sample.translate(None, _PRINTABLE))  # counted at C speed
    return bool(sample) and printable >= 0.8 * len(sample)


def in_group(
    stream: bytes | memoryview, names: Sequence[str], buffers: Iterable[memoryview] = ()
) -> dict[str, str]:
    """``{variable: why}`` for the variables of one group stream that hold a credential,
    judged on every string and bytes constant pickled (see module doc). The reason names
    the path: ``config['db']['password'] looks like a password (stored as 'password')``.
    Out-of-band buffers (array data) are searched for credential formats only. Never raises."""
    from sessions.core.engine.scan import pickled_strings
    from sessions.core.errors import FormatError

    found: dict[str, str] = {}
    raw = stream if isinstance(stream, bytes) else memoryview(stream).cast("B")  # no copy
    try:
        walked = pickled_strings(raw, max_ops=_MAX_WALK_OPS)
    except (FormatError, RecursionError, MemoryError) as exc:
        log.debug("secrets scan of a group failed: %s", exc)
        walked = None
    if walked is not None:
        code_context = {
            variable: next((n for n in found_names if name_kind(n)), None)
            for variable, found_names in walked.code_names.items()
        }
        for leaf in walked.leaves:
            if leaf.variable in found or leaf.variable not in names:
                continue
            context = leaf.context
            if leaf.in_code and not name_kind(context):
                context = code_context.get(leaf.variable)
            judge = bytes_reason if isinstance(leaf.value, bytes) else text_reason
            why = judge(leaf.value, context=context, strict=leaf.in_code)  # type: ignore[arg-type]
            if why:
                where = (
                    f"{leaf.path} (in its code, defaults or attributes)"
                    if leaf.in_code
                    else leaf.path
                )
                found[leaf.variable] = f"{where} {why}"
    if walked is None or not walked.complete:
        # what the walk did not reach: known formats anywhere in the group's bytes
        why = scan_bytes(raw)
        if why:
            for name in names:
                found.setdefault(name, f"the pickled bytes of its group hold {why}")
    for buffer in buffers:
        if not _texty(buffer):
            continue
        why = scan_bytes(bytes(buffer[:_MAX_RAW_SCAN]))
        if why:
            for name in names:
                found.setdefault(name, f"its data holds {why}")
            break
    return found


# --- names and previews, live values, history lines ----------------------------------


def _value_reason(value: Any, context: str | None, depth: int = 0) -> str | None:
    if isinstance(value, str):
        return text_reason(value, context=context)
    if isinstance(value, (bytes, bytearray)) and len(value) <= _MAX_TEXT:
        return bytes_reason(bytes(value), context=context)
    if depth >= 4:
        return None
    if isinstance(value, dict) and len(value) <= _MAX_ITEMS:
        for key, item in value.items():
            found = _value_reason(item, key if isinstance(key, str) else context, depth + 1)
            if found:
                return f"[{key!r}] {found}"
    if isinstance(value, (list, tuple, set, frozenset)) and len(value) <= _MAX_ITEMS:
        for index, item in enumerate(value):
            found = _value_reason(item, context, depth + 1)
            if found:
                return f"[{index}] {found}"
    return _frame_reason(value)


def _frame_reason(value: Any) -> str | None:
    """A DataFrame with a credential-named column of strings (its cells may be pickled out of
    band, where the stream scan cannot see them)."""
    columns = getattr(value, "columns", None)
    if columns is None or type(value).__name__ != "DataFrame" or len(columns) > 10_000:
        return None
    for column in columns:
        if not isinstance(column, str) or not name_kind(column):
            continue
        try:
            cells = [c for c in value[column].head(50).tolist() if isinstance(c, (str, bytes))]
        except Exception:
            continue
        for cell in cells:
            text = cell.decode("latin-1") if isinstance(cell, bytes) else cell
            if _looks_like(text, name_kind(column) or "token"):
                return f"[{column!r}] holds values that look like credentials"
    return None


def reason(name: str, value: Any, *, preview: bool = False) -> str | None:
    """Why the variable ``name`` = ``value`` looks like a credential, judged on the live
    value: its name as context, nested dicts and lists, DataFrame columns. Never raises.
    ``preview``: ``value`` is a preview's (possibly cut) repr text, judged by formats and
    names only, since a cut repr of a long base64 blob would look like a random key."""
    try:
        if preview:
            if not isinstance(value, str):
                return None
            text = value[:_MAX_TEXT]
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                text = text[1:-1]
            found = format_reason(text)
            kind = name_kind(name)
            if found:
                return f"{name} holds {found}"
            if kind and _looks_like(text, kind):
                return f"{name} looks like a credential (its name and value)"
            return None
        found = _value_reason(value, name)
    except Exception:
        return None
    if not found:
        return None
    return f"{name}{found}" if found.startswith("[") else f"{name} {found}"


def line_reason(line: str) -> str | None:
    """Why an input line (IPython history: Python, ``!shell``, ``%magic``) looks like it holds
    a credential: string literals judged with the name they are assigned or passed to
    (``db_pass = "…"``, ``connect(password="…")``, ``{"token": "…"}``), and the whole text."""
    text = line[:_MAX_TEXT]
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        tree = None
    if tree is not None:
        for context, literal in _literals(tree):
            why = text_reason(literal, context=context)
            if why:
                return why
    if tree is not None:
        return None
    for statement in text.splitlines():  # %env KEY=value, !export KEY=value, KEY=value lines
        cleaned = re.sub(r"\A\s*(?:[%!]+\s*\w+\s+|export\s+)", "", statement)
        for match in _KEY_VALUE.finditer(cleaned):
            kind = name_kind(match.group("key"))
            if kind and _looks_like(match.group("value").strip("'\""), kind):
                return f"holds {match.group('key')}=… with a credential"
    return text_reason(text)


def _literals(tree: ast.AST) -> Iterable[tuple[str | None, str]]:
    """(name it is stored under, string) for every string literal in ``tree``."""
    named: dict[int, str] = {}
    for node in ast.walk(tree):
        pairs: list[tuple[str, ast.AST]] = []
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                label = _target_name(target)
                if label:
                    pairs.append((label, node.value))  # type: ignore[arg-type]
        elif isinstance(node, ast.keyword) and node.arg:
            pairs.append((node.arg, node.value))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    pairs.append((key.value, value))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            label = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if label in ("setenv", "putenv", "__setitem__", "set_password", "setdefault"):
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    pairs.extend((first.value, arg) for arg in node.args[1:])
        for label, held in pairs:
            items: list[ast.AST] = (
                list(held.elts) if isinstance(held, (ast.Tuple, ast.List)) else [held]
            )
            for item in items:
                named.setdefault(id(item), label)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield named.get(id(node)), node.value
        elif isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
            yield named.get(id(node)), "".join(str(p) for p in parts)


def _target_name(target: ast.AST) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript):
        index = target.slice
        if isinstance(index, ast.Constant) and isinstance(index.value, str):
            return index.value
    return None
