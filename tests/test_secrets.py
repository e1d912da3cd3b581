"""What a share leaves out: credentials found in what is actually pickled (nested values,
object attributes, function defaults, code constants, class bodies, closures, bytes) and in
history lines, each named with its path; look-alikes travel. Values are synthetic
(tests/secrets_corpus.py builds them on import)."""

from __future__ import annotations

import json
import tarfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from conftest import cli, run_python
from secrets_corpus import cases, jwt, password, rnd

from sessions.core.engine.save import save
from sessions.core.sharing import secrets, share
from sessions.core.store.blobs import decode_framed
from sessions.core.store.session_dir import Store


def _share(store: Store, code: str, history: list[str] | None = None) -> tuple[Any, bytes]:
    """Run ``code`` as a session, save it, and prepare it for sharing: (Shareable, every
    byte the share would publish)."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(code, "<session>", "exec"), namespace)
    namespace.pop("__builtins__", None)
    manifest = save(namespace, store=store, name="t").manifest
    if history is not None:
        manifest = replace(manifest, history=tuple(history))
    shared = share.prepare(manifest, owner="me", version=1)
    published = bytearray(shared.manifest.encode())
    for group in shared.manifest.groups:
        for ref in group.blobs:
            published += store.blobs.read(ref.hash)
    return shared, bytes(published)


def test_recall_and_false_positive_rate_on_the_corpus(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    missed, withheld = [], []
    tuned = [c for c in cases() if not c.held_out]
    for case in tuned:
        history = [case.history] if case.history is not None else None
        shared, published = _share(store, case.code, history)
        if case.secret and case.needle in published:
            missed.append(case.id)
        blanked = history is not None and shared.manifest.history != tuple(history)
        if not case.secret and (shared.left_out or blanked):
            withheld.append((case.id, shared.left_out))
    secrets = sum(c.secret for c in tuned)
    assert secrets >= 80 and len(tuned) - secrets >= 80
    assert len(missed) <= 0.05 * secrets, missed
    assert len(withheld) <= 0.05 * (len(tuned) - secrets), withheld


def test_a_nested_password_leaves_the_whole_variable_out_naming_its_path(tmp_path: Path) -> None:
    secret = password()
    shared, published = _share(
        Store(tmp_path / "store"),
        f"config = {{'debug': False, 'services': {{'db': {{'credentials': "
        f"{{'user': 'etl', 'password': {secret!r}}}}}}}}}\n"
        "settings = {'region': 'eu-north-1', 'timeout': 30}\n",
    )
    assert set(shared.left_out) == {"config"}
    assert "config['services']['db']['credentials']['password']" in shared.left_out["config"]
    assert secret.encode() not in published
    assert b"eu-north-1" in published  # the rest travels
    assert "config" in shared.manifest.skipped


def test_a_credential_saved_again_unchanged_is_still_flagged(tmp_path: Path) -> None:
    """A second save reuses unchanged immutable values without pickling them again."""
    store = Store(tmp_path / "store")
    secret, token = password(), "ghp_" + rnd("abcdefghijklmnopqrstuvwxyz0123456789", 36)
    namespace = {"db_pass": secret, "hosts": ("db1", token), "n": 3}
    first = save(namespace, store=store, name="t").manifest
    second = save(namespace, store=store, name="t").manifest
    assert set(first.secrets) == set(second.secrets) == {"db_pass", "hosts"}


def test_credentials_in_code_objects_and_bytes_do_not_travel(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    values = {name: password() for name in ("default", "lam", "cls", "dc", "attr", "cell")}
    token = "ghp_" + rnd("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 36)
    code = f"""
from dataclasses import dataclass, field

def connect(host="db.internal", password={values["default"]!r}):
    return host, password

login = lambda s: s.login(user="admin", password={values["lam"]!r})

class Mailer:
    SMTP_PASSWORD = {values["cls"]!r}

@dataclass
class DbConfig:
    host: str
    password: str = field(repr=False)

cfg = DbConfig("db.internal", {values["dc"]!r})

class Session:
    pass

class Client:
    def __init__(self):
        self.session = Session()

svc = Client()
svc.session.auth = ("etl", {values["attr"]!r})

def make():
    secret = {values["cell"]!r}
    return lambda: secret

get_secret = make()
fetch_headers = {{"Accept": "application/json", "tokens": [{token!r}]}}
key_der = {der!r}

def mean(xs, start=0):
    return sum(xs, start) / len(xs)
"""
    shared, published = _share(Store(tmp_path / "store"), code)
    for value in [*values.values(), token]:
        assert value.encode() not in published, value
    assert der[7:39] not in published
    kept = {v.name for v in shared.manifest.variables}
    assert "mean" in kept and "Session" in kept and "Client" in kept
    for name in ("connect", "login", "Mailer", "cfg", "svc", "get_secret", "fetch_headers"):
        assert name in shared.left_out, (name, shared.left_out)
    assert "svc.session.auth[1]" in shared.left_out["svc"]
    assert "cfg.password" in shared.left_out["cfg"]
    assert "DER private key" in shared.left_out["key_der"]


def test_history_lines_holding_credentials_are_blanked_and_the_rest_kept(tmp_path: Path) -> None:
    secret, token = password(), jwt()
    history = [
        f'db_pass = "{secret}"',
        f'conn = psycopg2.connect(host="db", user="etl", password="{secret}")',
        f'!curl -H "Authorization: Bearer {token}" https://api.example.com/v1/me',
        f"%env AWS_SECRET_ACCESS_KEY={rnd('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 40)}",
        'token_type = "Bearer"',
        "password_min_length = 12",
        'pw = getpass.getpass("Enter your password: ")',
        'df = pd.read_csv("users.csv")',
    ]
    shared, published = _share(Store(tmp_path / "store"), "n_rows = 3", history)
    assert shared.manifest.history[4:] == tuple(history[4:])
    assert all("left out when shared" in line for line in shared.manifest.history[:4])
    assert secret.encode() not in published and token.encode() not in published


def test_look_alikes_travel(tmp_path: Path) -> None:
    code = "\n".join(
        c.code for c in cases() if not c.secret and not c.held_out and c.kind == "value"
    )
    shared, _ = _share(Store(tmp_path / "store"), code)
    assert shared.left_out == {}


def test_export_names_the_path_and_the_bundle_holds_no_byte_of_it(
    home: Path, tmp_path: Path
) -> None:
    secret = password()
    home.mkdir(parents=True)
    run_python(
        home,
        f"""
        import sessions
        users = [{{"name": "ann", "password": {secret!r}}}]
        region = "eu-north-1"
        sessions.save("accounts")
        """,
    )
    bundle = tmp_path / "accounts.sessions"
    done = cli(home, "export", "accounts", "-o", str(bundle))
    assert done.returncode == 0, done.stderr
    assert "users[0]['password']" in done.stdout, done.stdout
    contents = []
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.startswith("blobs/"):
                data = decode_framed(member.name[6:], data, max_size=1 << 30)
            contents.append(data)
    assert not any(secret.encode() in data for data in contents)
    assert any(b"eu-north-1" in data for data in contents)
    listed = json.loads(cli(home, "show", "accounts", "--json").stdout)
    assert "users" in listed["manifest"]["secrets"]


# one token of every credential format, each as its own pattern wants it
_FORMAT_TOKENS = {
    "an AWS access key id": ["AKIA" + "Q" * 16, "ANPA" + "7" * 16, "A3TX" + "K" * 16],
    "a PEM private key": ["-----BEGIN RSA PRIVATE KEY-----"],
    "a JSON web token": ["eyJhbGciOiJ.eyJzdWIiOiJ.c2lnbmF0dXJl"],
    "a GitHub token": ["ghp_" + "a1" * 18, "github_pat_" + "b2" * 30],
    "a GitLab token": ["glpat-" + "c3" * 10],
    "a Slack token": ["xoxb-" + "1234567890ab"],
    "a Slack webhook": ["hooks.slack.com/services/T0123/B0123/" + "d4" * 8],
    "a Stripe secret key": ["rk_live_" + "e5" * 8],
    "an API secret key": ["sk-proj-" + "f6" * 10],
    "a Google API key": ["AIza" + "g7" * 17 + "h"],
    "a Hugging Face token": ["hf_" + "abcde" * 6],
    "an npm token": ["npm_" + "i8" * 18],
    "a PyPI token": ["pypi-AgE" + "j9" * 25],
    "a SendGrid key": ["SG." + "k" * 22 + "." + "m" * 43],
    "a Mailgun key": ["key-" + "0a" * 16],
    "a Twilio API key": ["SK" + "1b" * 16],
    "an Azure account key": ["AccountKey=" + "n" * 44],
    "a Discord bot token": ["M" + "p" * 23 + ".q" + "r" * 5 + "." + "s" * 27],
    "a Telegram bot token": ["123456789:AA" + "t" * 33],
}


def test_every_credential_format_is_found_inside_binary_data() -> None:
    """Array bytes pickled in a stream are searched for every format (the fast screen in
    front of the format patterns lets none through), and Authorization headers in any case."""
    import numpy as np

    noise = np.random.default_rng(7).random(4096).tobytes()
    for what, tokens in _FORMAT_TOKENS.items():
        for token in tokens:
            data = noise + b" " + token.encode() + b" " + noise
            assert secrets.bytes_reason(data) == f"holds {what}", token
    for scheme in ("Bearer", "BEARER", "token", "Basic"):
        text = f"Authorization: {scheme} aB3dE5gH7jK9mN1pQ3sT5vX7zY9wQ2"
        assert secrets.format_reason(text) == "an Authorization header with a token", scheme
    assert secrets.format_reason("x://user:s3cr3tpass@host/db") == "a URL with a password"
    assert secrets.bytes_reason(noise) is None
