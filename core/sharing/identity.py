"""Who signs and whom we trust: the user's Ed25519 key and teammates' public keys.

Files (in the per-user config dir, :func:`sessions.core.paths.config_dir`)
------------------------------------------------------------------
``identity.key``   the user's private key, 32 raw bytes, mode 0600, made on first use.
``trusted.toml``   ``[keys]`` table: ``name = "sessions-ed25519:<base64 public key>"``.

A public key is written ``sessions-ed25519:<base64 of the 32 raw bytes>``; its short form
(a fingerprint people can compare by voice) is ``SHA256``-free on purpose: the first 16 hex
chars of its blake3 hash, grouped in fours. The user's own key is always trusted.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import os
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import blake3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sessions.core.errors import SessionsError
from sessions.core.paths import config_dir
from sessions.core.store.atomic import FILE_MODE, ensure_dir, temp_path, write_file
from sessions.core.tomlfile import quote, read_toml

PREFIX = "sessions-ed25519:"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeyError_(SessionsError):
    """A key that cannot be read, parsed or saved."""


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes_raw()  # no serialization module: a load checks keys this way


def encode_public(raw: bytes) -> str:
    return PREFIX + base64.b64encode(raw).decode()


def parse_public(text: str) -> bytes:
    """The 32 raw bytes of a public key written ``sessions-ed25519:<base64>``."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise KeyError_(f"not a sessions public key (it should start with {PREFIX!r})")
    try:
        raw = base64.b64decode(text[len(PREFIX) :], validate=True)
    except ValueError:
        raise KeyError_("public key is not valid base64") from None
    if len(raw) != 32:
        raise KeyError_(f"public key has {len(raw)} bytes, an Ed25519 key has 32")
    return raw


def fingerprint(raw: bytes) -> str:
    """A short, comparable name for a public key: ``ab12-cd34-ef56-7890``."""
    digest = blake3.blake3(raw).hexdigest()[:16]
    return "-".join(digest[i : i + 4] for i in range(0, 16, 4))


def default_owner() -> str:
    """The name the user publishes under: ``[share] owner`` in config, else the login name."""
    from sessions.core.config import load_config

    owner = load_config().owner
    if owner:
        return owner
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "me"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", user).strip("-.") or "me"
    return safe[:64]


def check_owner(owner: str) -> str:
    if not _NAME_RE.match(owner):
        raise SessionsError(
            f"invalid owner or key name {owner!r}: letters, digits, '.', '_' or '-', at most 64"
        )
    return owner


@dataclass(frozen=True)
class Identity:
    """The user's signing key."""

    private: Ed25519PrivateKey
    path: Path

    @cached_property
    def public_raw(self) -> bytes:
        return _raw(self.private.public_key())

    @property
    def public_text(self) -> str:
        return encode_public(self.public_raw)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_raw)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def key_path() -> Path:
    return config_dir() / "identity.key"


@lru_cache(maxsize=4)
def _load(path: Path) -> Identity:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    except OSError as exc:
        raise KeyError_(f"cannot read your key {path}: {exc.strerror}") from None
    if not data:
        key = Ed25519PrivateKey.generate()
        from cryptography.hazmat.primitives import serialization

        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        ensure_dir(path.parent)
        tmp = temp_path(path.parent)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)  # whole or not at all; fails if another process got there first
        except FileExistsError:
            return _load.__wrapped__(path)  # theirs, complete: use it
        except OSError as exc:
            raise KeyError_(f"cannot create your key {path}: {exc.strerror}") from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return Identity(key, path)
    if len(data) != 32:
        raise KeyError_(f"your key {path} is damaged ({len(data)} bytes, expected 32)")
    mode = path.stat().st_mode & 0o077
    if mode:
        with contextlib.suppress(OSError):
            os.chmod(path, FILE_MODE)
    return Identity(Ed25519PrivateKey.from_private_bytes(data), path)


def identity() -> Identity:
    """The user's key, created (0600) on first use."""
    return _load(key_path())


def verify(public_raw: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- trust ----------------------------------------------------------------------------------
def trust_path() -> Path:
    return config_dir() / "trusted.toml"


def trusted() -> dict[str, bytes]:
    """Trusted teammates: name -> raw public key. Unreadable entries are ignored."""
    keys = read_toml(trust_path(), KeyError_).get("keys", {})
    out: dict[str, bytes] = {}
    for name, value in keys.items() if isinstance(keys, dict) else ():
        with contextlib.suppress(KeyError_):
            out[str(name)] = parse_public(str(value))
    return out


def _write_trusted(keys: dict[str, bytes]) -> None:
    lines = ["# Public keys whose snapshots you load: sessions-tui trust add|ls|rm", "[keys]"]
    lines += [f"{name} = {quote(encode_public(raw))}" for name, raw in sorted(keys.items())]
    ensure_dir(trust_path().parent)
    write_file(trust_path(), [("\n".join(lines) + "\n").encode()])


def trust_add(name: str, key_text: str) -> bytes:
    check_owner(name)
    raw = parse_public(key_text)
    keys = trusted()
    keys[name] = raw
    _write_trusted(keys)
    return raw


def trust_remove(name: str) -> None:
    keys = trusted()
    if name not in keys:
        known = ", ".join(sorted(keys)) or "none"
        raise SessionsError(f"no trusted key named {name!r} (trusted: {known})")
    del keys[name]
    _write_trusted(keys)


def who(public_raw: bytes) -> str | None:
    """``"you"``, a trusted name, or None for an unknown key."""
    if public_raw == identity().public_raw:
        return "you"
    for name, raw in trusted().items():
        if raw == public_raw:
            return name
    return None
