"""Signatures on manifests, and the trust check made before anything is unpickled.

A schema-2 manifest is signed over ``DOMAIN_V2 + head``, the bytes of its head exactly as
stored (sessions.core.store.manifest_index): encoded once when saved, checked as read, never
re-encoded; the head names every section by its hash. A schema-1 manifest was signed over
``DOMAIN + manifest.encode()`` with ``signature`` set to None, normalized first (encode,
decode) so that verifying, which re-encodes what it decoded, sees exactly the signed bytes;
those are still checked that way. The manifest names every blob by its blake3 hash and every
blob read re-hashes, so the signature covers the data too.

Owner names are bound to keys: a manifest's ``owner`` is only a claim, so a snapshot published
as ``alice`` must be signed by the key trusted as ``alice`` (or, for the user's own name, by
the user's key). One signed by another trusted teammate, or by an unknown key while ``alice``
has a trusted key, is an impersonation: never trusted, refused by pull and import even with
``--trust-once``, and labelled wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sessions.core.errors import SessionsError
from sessions.core.sharing import identity
from sessions.core.store.manifest import Manifest

DOMAIN = b"sessions.manifest.signature.v1\x00"
DOMAIN_V2 = b"sessions.manifest.signature.v2\x00"
ALG = "ed25519"


class TrustError(SessionsError):
    """A snapshot whose signature is missing, unknown or wrong; loading it is refused."""


def signed_bytes(manifest: Manifest) -> bytes:
    if manifest.schema[0] >= 2:
        return DOMAIN_V2 + manifest.head_bytes()
    return DOMAIN + replace(manifest, signature=None).encode()


def sign(manifest: Manifest, who: identity.Identity | None = None) -> Manifest:
    """``manifest`` signed with the user's key (or ``who``)."""
    who = who or identity.identity()
    if manifest.schema[0] >= 2:
        unsigned = replace(manifest, signature=None)
        head = unsigned.head_bytes()
        signature = who.sign(DOMAIN_V2 + head)
        signed = replace(unsigned, signature={"alg": ALG, "key": who.public_raw, "sig": signature})
        assert unsigned._parts is not None
        signed.cache_parts(*unsigned._parts)
        return signed
    normal = Manifest.decode(replace(manifest, signature=None).encode())
    signature = who.sign(signed_bytes(normal))
    return replace(normal, signature={"alg": ALG, "key": who.public_raw, "sig": signature})


@dataclass(frozen=True)
class Signer:
    """What a manifest's signature says: ``state`` is ``valid``, ``missing`` or ``invalid``;
    ``who`` is ``"you"``, a trusted name, or None when the key is unknown."""

    state: str
    key: bytes = b""
    who: str | None = None
    mismatch: str | None = None  # the owner it claims is bound to another key (see module doc)

    @property
    def fingerprint(self) -> str:
        return identity.fingerprint(self.key) if self.key else ""

    @property
    def trusted(self) -> bool:
        return self.state == "valid" and self.who is not None and self.mismatch is None

    def describe(self) -> str:
        if self.state == "missing":
            return "unsigned"
        if self.state == "invalid":
            return "signature does not match (changed after signing)"
        if self.mismatch:
            return f"NOT signed by its owner: {self.mismatch}"
        if self.who == "you":
            return "signed by you"
        if self.who:
            return f"signed by {self.who} (trusted)"
        return f"signed by an unknown key {self.fingerprint}"


def signer(manifest: Manifest) -> Signer:
    """Check ``manifest``'s signature and look its key up in the trust list."""
    sig = manifest.signature
    if not sig:
        return Signer("missing")
    key, value = sig.get("key", b""), sig.get("sig", b"")
    if sig.get("alg") != ALG or len(key) != 32 or len(value) != 64:
        return Signer("invalid", key if len(key) == 32 else b"")
    if not identity.verify(key, value, signed_bytes(manifest)):
        return Signer("invalid", key)
    who = identity.who(key)
    return Signer("valid", key, who, _mismatch(manifest.owner, key, who))


def _mismatch(owner: str | None, key: bytes, who: str | None) -> str | None:
    """Why ``owner`` (the name a manifest is published under) is not the signer's, or None."""
    if not owner or who == "you" or who == owner:
        return None
    fingerprint = identity.fingerprint(key)
    if who is not None:
        return f"published as {owner} but signed by {who}'s key {fingerprint}"
    bound = identity.trusted().get(owner)
    if bound is None and owner == identity.default_owner():
        bound = identity.identity().public_raw
    if bound is not None:
        return (
            f"published as {owner} but signed by an unknown key {fingerprint}, not the key "
            f"{identity.fingerprint(bound)} you trust as {owner}"
        )
    return None


def check_integrity(manifest: Manifest, what: str) -> Signer:
    """Refuse a manifest whose signature is wrong (a changed byte); any signer passes."""
    found = signer(manifest)
    if found.state == "invalid":
        raise TrustError(
            f"{what}: the manifest does not match its signature (changed after it was signed); "
            "refusing it"
        )
    return found


def check_trusted(manifest: Manifest, what: str | None = None, *, verb: str = "load") -> Signer:
    """Raise TrustError unless ``manifest`` is validly signed by you or a trusted key."""
    what = what or manifest.ref
    found = check_integrity(manifest, what)
    check_owner(found, what, verb)
    if found.trusted:
        return found
    if found.state == "missing":
        raise TrustError(
            f"refusing to {verb} {what}: it is not signed, so who made it cannot be checked; "
            f"{verb} it once anyway with trust=True (--trust-once)"
        )
    owner = manifest.owner or manifest.user or "its sender"
    raise TrustError(
        f"refusing to {verb} {what}: signed by {owner}'s key {found.fingerprint}, which you do "
        f"not trust; if that is {owner}'s key (ask them for `sessions-tui key`), run "
        f"`sessions-tui trust add {_name(owner)} {identity.encode_public(found.key)}`, "
        f"or {verb} it once with trust=True (--trust-once)"
    )


def check_owner(found: Signer, what: str, verb: str) -> None:
    """Refuse an impersonation (a manifest whose owner is bound to another key), whatever
    ``--trust-once`` says: trusting a stranger once is not trusting them as someone else."""
    if found.mismatch:
        raise TrustError(
            f"refusing to {verb} {what}: {found.mismatch}; if their key changed, trust the new "
            "one with `sessions-tui trust add`"
        )


def _name(owner: str) -> str:
    try:
        return identity.check_owner(owner)
    except SessionsError:
        return "NAME"
