"""A corpus of realistic secrets and look-alikes, as session code, for the secrets detector.

Every value is synthetic: tokens are drawn from a seeded generator in the shapes real
providers use (AWS, GitHub, Slack, Stripe…), keys are generated here on import, passwords are
made up. Nothing in this file is a real credential.

Each :class:`Case` is a snippet run as a session (``__main__``) and saved; a secret case also
names the bytes (``needle``) that must not leave the machine when the snapshot is shared, and
may carry an IPython input line (``history``) that is shared with it. A look-alike must
be shared whole: no variable left out, no history line blanked. Used by
``tests/test_secrets.py`` and ``bench/bench_secrets.py``.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from dataclasses import dataclass, replace
from functools import cache


@dataclass(frozen=True)
class Case:
    id: str
    secret: bool
    code: str  # run as the session before saving
    needle: bytes = b""  # for a secret: bytes that must not be in anything shared
    history: str | None = None  # an IPython input shared with the snapshot
    kind: str = "value"  # value, nested, code, history, bytes, text
    held_out: bool = False  # written after the detector was tuned, never tuned on


_R = random.Random(20261121)
UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"


def rnd(alphabet: str, n: int) -> str:
    return "".join(_R.choice(alphabet) for _ in range(n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt() -> str:
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(
        json.dumps(
            {"sub": str(_R.randrange(10**6)), "name": "Ann Example", "iat": 1700000000}
        ).encode()
    )
    return f"{head}.{body}.{b64url(_R.randbytes(32))}"


def password() -> str:
    words = ["Tr0ub4dor", "Summer", "Blue", "Falcon", "Orbit", "Maple", "Quartz", "Nimbus"]
    return f"{_R.choice(words)}{_R.randrange(10, 99)}{_R.choice('!#$%&*')}{rnd(ALNUM, 4)}"


@cache
def _keys() -> dict[str, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    enc = serialization.Encoding
    fmt = serialization.PrivateFormat
    none = serialization.NoEncryption()
    return {
        "rsa_pem": rsa_key.private_bytes(enc.PEM, fmt.TraditionalOpenSSL, none),
        "ec_pem": ec_key.private_bytes(enc.PEM, fmt.PKCS8, none),
        "ssh_pem": ed_key.private_bytes(enc.PEM, fmt.OpenSSH, none),
        "rsa_der": rsa_key.private_bytes(enc.DER, fmt.PKCS8, none),
        "ec_der": ec_key.private_bytes(enc.DER, fmt.TraditionalOpenSSL, none),
        "ed_der": ed_key.private_bytes(enc.DER, fmt.PKCS8, none),
        "rsa_pub": rsa_key.public_key().public_bytes(
            enc.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "ssh_pub": ed_key.public_key().public_bytes(
            enc.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
    }


def _secret(
    id: str, code: str, needle: str | bytes, kind: str = "value", history: str | None = None
) -> Case:
    raw = needle.encode() if isinstance(needle, str) else needle
    return Case(id, True, code, raw, history, kind)


def _plain(id: str, code: str, kind: str = "value", history: str | None = None) -> Case:
    return Case(id, False, code, b"", history, kind)


def _history(id: str, line: str, needle: str) -> Case:
    return Case(id, True, "n_rows = 3", needle.encode(), line, "history")


@cache
def cases() -> tuple[Case, ...]:
    """The corpus: secrets first, then look-alikes (deterministic)."""
    keys = _keys()
    out: list[Case] = []
    s = out.append

    # --- secrets: recognisable formats -------------------------------------------------
    aws_id = "AKIA" + rnd(UPPER_DIGITS, 16)
    aws_secret = rnd(B64, 40)
    s(_secret("aws-key-id", f"aws_access_key_id = {aws_id!r}", aws_id))
    other_id = "ASIA" + rnd(UPPER_DIGITS, 16)
    s(_secret("aws-key-id-odd-name", f"k1 = {other_id!r}", other_id))
    s(_secret("aws-secret-named", f"aws_secret_access_key = {aws_secret!r}", aws_secret))
    pair = {
        "aws_access_key_id": "AKIA" + rnd(UPPER_DIGITS, 16),
        "aws_secret_access_key": rnd(B64, 40),
    }
    s(_secret("aws-pair-dict", f"creds = {pair!r}", pair["aws_secret_access_key"], "nested"))
    loose = rnd(B64, 40)
    s(_secret("aws-secret-in-tuple", f"s3_conf = ('eu-west-1', 'my-bucket', {loose!r})", loose))
    ghp = "ghp_" + rnd(ALNUM, 36)
    s(_secret("github-classic", f"gh = {ghp!r}", ghp))
    pat = "github_pat_" + rnd(ALNUM, 22) + "_" + rnd(ALNUM, 59)
    s(_secret("github-fine-grained", f"GH_PAT = {pat!r}", pat))
    gho = "gho_" + rnd(ALNUM, 36)
    s(
        _secret(
            "github-oauth-in-dict",
            f"oauth = {{'provider': 'github', 'access': {gho!r}}}",
            gho,
            "nested",
        )
    )
    glpat = "glpat-" + rnd(URLSAFE, 20)
    s(_secret("gitlab", f"gitlab = {glpat!r}", glpat))
    xoxb = f"xoxb-{rnd(string.digits, 12)}-{rnd(string.digits, 13)}-{rnd(ALNUM, 24)}"
    s(_secret("slack-bot", f"slack_client_token = {xoxb!r}", xoxb))
    hook = f"https://hooks.slack.com/services/T{rnd(UPPER_DIGITS, 8)}/B{rnd(UPPER_DIGITS, 10)}/{rnd(ALNUM, 24)}"
    s(
        _secret(
            "slack-webhook", f"alerts = {{'channel': '#ops', 'webhook': {hook!r}}}", hook, "nested"
        )
    )
    sk = "sk_live_" + rnd(ALNUM, 24)
    s(_secret("stripe-live", f"stripe_key = {sk!r}", sk))
    rk = "rk_live_" + rnd(ALNUM, 24)
    s(_secret("stripe-restricted", f"billing = {{'currency': 'eur', 'key': {rk!r}}}", rk, "nested"))
    skt = "sk_test_" + rnd(ALNUM, 24)
    s(
        _secret(
            "stripe-test",
            f"STRIPE = {{'publishable': 'pk_test_{rnd(ALNUM, 24)}', 'secret': {skt!r}}}",
            skt,
            "nested",
        )
    )
    twilio = rnd(HEX, 32)
    s(_secret("twilio-token-named", f"TWILIO_AUTH_TOKEN = {twilio!r}", twilio))
    tw = {"account_sid": "AC" + rnd(HEX, 32), "auth_token": rnd(HEX, 32)}
    s(_secret("twilio-dict", f"twilio = {tw!r}", tw["auth_token"], "nested"))
    dd = rnd(HEX, 32)
    s(_secret("datadog-api-key", f"DD_API_KEY = {dd!r}", dd))
    dda = {"api_key": rnd(HEX, 32), "app_key": rnd(HEX, 40), "site": "datadoghq.eu"}
    s(_secret("datadog-dict", f"datadog = {dda!r}", dda["app_key"], "nested"))
    mg = "key-" + rnd(HEX, 32)
    s(_secret("mailgun", f"mailgun = {mg!r}", mg))
    mg2 = "key-" + rnd(HEX, 32)
    s(
        _secret(
            "mailgun-settings-pairs",
            f"settings = [('MAILGUN_DOMAIN', 'mg.example.com'), ('MAILGUN_KEY', {mg2!r})]",
            mg2,
            "nested",
        )
    )
    sg = f"SG.{rnd(URLSAFE, 22)}.{rnd(URLSAFE, 43)}"
    s(_secret("sendgrid", f"sendgrid = {sg!r}", sg))
    oa = "sk-proj-" + rnd(URLSAFE, 48)
    s(_secret("openai", f"llm = {{'model': 'gpt-4o', 'api_key': {oa!r}}}", oa, "nested"))
    ant = "sk-ant-api03-" + rnd(URLSAFE, 93) + "AA"
    s(_secret("anthropic", f"claude_key = {ant!r}", ant))
    gapi = "AIza" + rnd(URLSAFE, 35)
    s(_secret("google-api-key", f"maps = {gapi!r}", gapi))
    hf = "hf_" + rnd(string.ascii_letters, 34)
    s(_secret("huggingface", f"HF = {hf!r}", hf))
    npm = "npm_" + rnd(ALNUM, 36)
    s(_secret("npm", f"npmrc = '//registry.npmjs.org/:_authToken={npm}'", npm, "text"))
    pypi = "pypi-AgEIcHlwaS5vcmc" + rnd(URLSAFE, 70)
    s(_secret("pypi", f"upload = {{'repository': 'pypi', 'password': {pypi!r}}}", pypi, "nested"))
    token = jwt()
    s(_secret("jwt", f"id_token = {token!r}", token))
    token2 = jwt()
    s(
        _secret(
            "jwt-in-headers",
            f"headers = {{'Accept': 'application/json', 'Authorization': 'Bearer {token2}'}}",
            token2,
            "nested",
        )
    )
    opaque = rnd(ALNUM, 40)
    s(_secret("bearer-opaque", f"hdrs = {{'Authorization': 'Bearer {opaque}'}}", opaque, "nested"))
    basic = base64.b64encode(f"deploy:{password()}".encode()).decode()
    s(
        _secret(
            "basic-auth",
            f"req_headers = [('User-Agent', 'x'), ('Authorization', 'Basic {basic}')]",
            basic,
            "nested",
        )
    )
    s(_secret("pem-rsa", f"key_pem = {keys['rsa_pem'].decode()!r}", keys["rsa_pem"][40:90]))
    s(_secret("pem-ec-bytes", f"signing_key = {keys['ec_pem']!r}", keys["ec_pem"][40:90], "bytes"))
    s(_secret("pem-openssh", f"deploy_key = {keys['ssh_pem'].decode()!r}", keys["ssh_pem"][50:100]))
    s(_secret("der-rsa", f"blob = {keys['rsa_der']!r}", keys["rsa_der"][30:80], "bytes"))
    s(_secret("der-ec", f"material = [{keys['ec_der']!r}]", keys["ec_der"][7:39], "bytes"))
    s(
        _secret(
            "der-ed25519",
            f"k = {{'alg': 'ed25519', 'raw': {keys['ed_der']!r}}}",
            keys["ed_der"][16:],
            "bytes",
        )
    )
    azure = rnd(B64, 86) + "=="
    conn = f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={azure};EndpointSuffix=core.windows.net"
    s(_secret("azure-connection-string", f"storage = {conn!r}", azure, "text"))
    sa = {"type": "service_account", "project_id": "acme", "private_key_id": rnd(HEX, 40),
          "private_key": keys["rsa_pem"].decode(), "client_email": "bot@acme.iam.gserviceaccount.com"}  # fmt: skip
    s(_secret("gcp-service-account", f"sa_info = {sa!r}", sa["private_key_id"], "nested"))
    heroku = str(uuid.UUID(int=_R.getrandbits(128), version=4))
    s(_secret("heroku-uuid-with-context", f"HEROKU_API_KEY = {heroku!r}", heroku))
    django = "django-insecure-" + rnd(ALNUM + "!@#%^&*(-_=+)", 50)
    s(_secret("django-secret-key", f"SECRET_KEY = {django!r}", django))
    discord = f"M{rnd(ALNUM, 23)}.{rnd(URLSAFE, 6)}.{rnd(URLSAFE, 27)}"
    s(
        _secret(
            "discord-bot", f"bot = {{'prefix': '!', 'bot_token': {discord!r}}}", discord, "nested"
        )
    )
    telegram = f"{rnd(string.digits, 10)}:{rnd(URLSAFE, 35)}"
    s(_secret("telegram-bot", f"TELEGRAM_BOT_TOKEN = {telegram!r}", telegram))

    # --- secrets: passwords by their context ------------------------------------------------
    p = password()
    s(
        _secret(
            "password-in-dict",
            f"db = {{'host': 'db.internal', 'user': 'app', 'password': {p!r}}}",
            p,
            "nested",
        )
    )
    p = password()
    s(_secret("password-in-url", f"DATABASE_URL = 'postgresql://app:{p}@db.internal:5432/prod'", p))
    p = password()
    s(
        _secret(
            "password-in-url-list",
            f"mirrors = ['https://mirror.example.org/simple', 'https://deploy:{p}@pkgs.example.com/simple']",
            p,
            "nested",
        )
    )
    p = password()
    s(_secret("redis-url", f"cache = {{'url': 'redis://:{p}@cache:6379/0'}}", p, "nested"))
    p = password()
    s(
        _secret(
            "nested-three-deep",
            f"config = {{'services': {{'db': {{'credentials': {{'user': 'etl', 'password': {p!r}}}}}}}, 'debug': False}}",
            p,
            "nested",
        )
    )
    p1, p2 = password(), password()
    s(
        _secret(
            "user-records",
            f"users = [{{'name': 'ann', 'email': 'ann@example.org', 'password': {p1!r}}}, {{'name': 'bo', 'email': 'bo@example.org', 'password': {p2!r}}}]",
            p2,
            "nested",
        )
    )
    p = password()
    s(_secret("db-pass-variable", f"db_pass = {p!r}", p))
    p = password()
    s(_secret("db-passwd-upper", f"DB_PASSWD = {p!r}", p))
    p = password()
    s(_secret("pwd-variable", f"pwd = {p!r}", p))
    s(
        _secret(
            "passphrase-words",
            "passphrase = 'correct horse battery staple'",
            "correct horse battery staple",
        )
    )
    p = password()
    s(_secret("smtp-password-camel", f"smtpPassword = {p!r}", p))
    p = password()
    s(
        _secret(
            "key-passphrase",
            f"tls = {{'key_file': '/etc/ssl/private/site.key', 'key_passphrase': {p!r}}}",
            p,
            "nested",
        )
    )
    p = password()
    s(_secret("bytes-dict", f"raw = {{b'user': b'svc', b'password': {p.encode()!r}}}", p, "bytes"))
    p = password()
    s(
        _secret(
            "ordered-dict",
            f"import collections\nconf = collections.OrderedDict(host='h', db_password={p!r})",
            p,
            "nested",
        )
    )
    ghp2 = "ghp_" + rnd(ALNUM, 36)
    s(
        _secret(
            "env-copy",
            f"env = {{'PATH': '/usr/bin', 'HOME': '/home/ann', 'GITHUB_TOKEN': {ghp2!r}}}",
            ghp2,
            "nested",
        )
    )
    tok = rnd(URLSAFE, 40)
    s(_secret("deep-tuple", f"conf = ('prod', {{'auth': {{'token': {tok!r}}}}})", tok, "nested"))
    p = password()
    s(
        _secret(
            "df-password-column",
            f"import pandas as pd\naccounts = pd.DataFrame({{'user': ['ann', 'bo'], 'password': [{p!r}, {password()!r}]}}, dtype=object)",
            p,
            "nested",
        )
    )
    tok = rnd(ALNUM, 32)
    s(_secret("api-key-plain-random", f"api_key = {tok!r}", tok))
    tok = rnd(ALNUM, 32)
    s(
        _secret(
            "client-secret",
            f"oauth_app = {{'client_id': 'acme-web', 'client_secret': {tok!r}}}",
            tok,
            "nested",
        )
    )

    # --- secrets: inside code and objects -----------------------------------------------------
    p = password()
    s(
        _secret(
            "class-attribute",
            f"class Mailer:\n    HOST = 'smtp.example.com'\n    SMTP_PASSWORD = {p!r}\n",
            p,
            "code",
        )
    )
    tok = rnd(ALNUM, 32)
    s(
        _secret(
            "class-attribute-api-key",
            f"class Client:\n    base = 'https://api.example.com'\n    API_KEY = {tok!r}\n",
            tok,
            "code",
        )
    )
    p = password()
    s(
        _secret(
            "default-arg-password",
            f"def connect(host='db.internal', password={p!r}):\n    return (host, password)\n",
            p,
            "code",
        )
    )
    ghp3 = "ghp_" + rnd(ALNUM, 36)
    s(
        _secret(
            "default-arg-token",
            f"def fetch(url, token={ghp3!r}):\n    return url, token\n",
            ghp3,
            "code",
        )
    )
    tok = rnd(ALNUM, 40)
    s(
        _secret(
            "kwonly-default",
            f"def upload(path, *, api_key={tok!r}):\n    return path\n",
            tok,
            "code",
        )
    )
    tok = rnd(ALNUM, 40)
    s(_secret("lambda-bearer", f"auth = lambda: {{'Authorization': 'Bearer {tok}'}}", tok, "code"))
    p = password()
    s(
        _secret(
            "lambda-login", f"login = lambda s: s.login(user='admin', password={p!r})", p, "code"
        )
    )
    sk2 = "sk_live_" + rnd(ALNUM, 24)
    s(
        _secret(
            "function-constant",
            f"def charge(amount):\n    import json\n    return json.dumps({{'key': {sk2!r}, 'amount': amount}})\n",
            sk2,
            "code",
        )
    )
    p = password()
    s(
        _secret(
            "dataclass-repr-false",
            f"from dataclasses import dataclass, field\n@dataclass\nclass DbConfig:\n    host: str\n    password: str = field(repr=False)\ncfg = DbConfig('db.internal', {p!r})\n",
            p,
            "code",
        )
    )
    tok = rnd(URLSAFE, 43)
    s(
        _secret(
            "dataclass-token",
            f"from dataclasses import dataclass, field\n@dataclass\nclass Api:\n    url: str\n    token: str = field(repr=False, default='')\napi = Api('https://api.example.com', {tok!r})\n",
            tok,
            "code",
        )
    )
    p = password()
    s(_secret("nested-object-attrs", "class Session:\n    pass\nclass Client:\n    def __init__(self):\n        self.session = Session()\n"
              f"svc = Client()\nsvc.session.auth = ('etl', {p!r})\n", p, "code"))  # fmt: skip
    tok = rnd(ALNUM, 50)
    s(
        _secret(
            "object-secret-key",
            f"class App:\n    def __init__(self):\n        self.name = 'web'\n        self.secret_key = {tok!r}\napp = App()\n",
            tok,
            "code",
        )
    )
    tok = "django-insecure-" + rnd(ALNUM, 40)
    s(
        _secret(
            "simple-namespace",
            f"import types\nsettings = types.SimpleNamespace(debug=False, secret_key={tok!r})",
            tok,
            "nested",
        )
    )
    p = password()
    s(
        _secret(
            "closure-cell",
            f"def make():\n    secret = {p!r}\n    return lambda: secret\nget_secret = make()\n",
            p,
            "code",
        )
    )
    tok = rnd(ALNUM, 32)
    s(
        _secret(
            "objects-in-list",
            f"class Client:\n    def __init__(self, name, api_key):\n        self.name, self.api_key = name, api_key\nclients = [Client('a', {tok!r})]\n",
            tok,
            "code",
        )
    )

    # --- secrets: inside text --------------------------------------------------------------------
    p = password()
    s(
        _secret(
            "dotenv-text",
            f"env_text = 'DEBUG=1\\nSECRET_KEY={rnd(ALNUM, 32)}\\nDB_PASSWORD={p}\\n'",
            p,
            "text",
        )
    )
    p = password()
    s(
        _secret(
            "yaml-text", f"yaml_text = 'db:\\n  host: db.internal\\n  password: {p}\\n'", p, "text"
        )
    )
    tok = rnd(ALNUM, 32)
    s(
        _secret(
            "json-text",
            f'raw_json = \'{{"client_id": "abc", "client_secret": "{tok}"}}\'',
            tok,
            "text",
        )
    )
    p = password()
    s(_secret("ini-text", f"ini = '[smtp]\\nuser = mailer\\npass = {p}\\n'", p, "text"))
    tok = rnd(ALNUM, 40)
    s(
        _secret(
            "curl-command-text",
            f"cmd = 'curl -H \"Authorization: token {tok}\" https://api.example.com/repos'",
            tok,
            "text",
        )
    )

    # --- secrets: IPython history -------------------------------------------------------------
    p = password()
    s(_history("history-db-pass", f'db_pass = "{p}"', p))
    oa2 = "sk-" + rnd(ALNUM, 48)
    s(_history("history-environ", f'os.environ["OPENAI_API_KEY"] = "{oa2}"', oa2))
    p = password()
    s(
        _history(
            "history-connect", f'conn = psycopg2.connect(host="db", user="etl", password="{p}")', p
        )
    )
    tok = rnd(ALNUM, 40)
    s(
        _history(
            "history-shell-curl",
            f'!curl -H "Authorization: Bearer {tok}" https://api.example.com/v1/me',
            tok,
        )
    )
    aws2 = rnd(B64, 40)
    s(_history("history-env-magic", f"%env AWS_SECRET_ACCESS_KEY={aws2}", aws2))
    tok = rnd(ALNUM, 32)
    s(_history("history-kwarg", f'client = Client(api_key="{tok}", region="eu")', tok))
    p = password()
    s(_history("history-auth-tuple", f'r = requests.get(url, auth=("admin", "{p}"))', p))
    ghp4 = "ghp_" + rnd(ALNUM, 36)
    s(
        _history(
            "history-multiline",
            f'import requests\nGH = "{ghp4}"\nr = requests.get("https://api.github.com/user")',
            ghp4,
        )
    )
    p = password()
    s(_history("history-dict", f'cfg = {{"user": "ann", "password": "{p}"}}', p))
    p = password()
    s(_history("history-export", f"!export PGPASSWORD='{p}' && psql -h db", p))

    # --- look-alikes ------------------------------------------------------------------------------
    n = out.append
    png = "data:image/png;base64," + base64.b64encode(_R.randbytes(1500)).decode()
    n(_plain("data-uri-image", f"logo = {png!r}"))
    n(_plain("base64-image-raw", f"thumb = {base64.b64encode(_R.randbytes(2400)).decode()!r}"))
    n(_plain("base64-payload", f"payload_b64 = {base64.b64encode(_R.randbytes(300)).decode()!r}"))
    thumbs = {f"img{i}.jpg": base64.b64encode(_R.randbytes(600)).decode() for i in range(3)}
    n(_plain("base64-thumbnails", f"thumbs = {thumbs!r}", "nested"))
    n(_plain("stripe-payment-intent", f"payment_intent = 'pi_3{rnd(ALNUM, 23)}'"))
    n(_plain("stripe-charge-id", f"charge = 'ch_3{rnd(ALNUM, 23)}'"))
    n(
        _plain(
            "stripe-customer-dict",
            f"invoice = {{'customer': 'cus_{rnd(ALNUM, 14)}', 'amount': 1200, 'currency': 'eur'}}",
            "nested",
        )
    )
    n(
        _plain(
            "stripe-charge-list",
            f"charges = {['ch_3' + rnd(ALNUM, 23) for _ in range(4)]!r}",
            "nested",
        )
    )
    n(
        _plain(
            "stripe-price-ids",
            f"prices = {{'price_1{rnd(ALNUM, 23)}': 10, 'price_1{rnd(ALNUM, 23)}': 20}}",
            "nested",
        )
    )
    n(_plain("stripe-publishable", f"stripe_pk = 'pk_live_{rnd(ALNUM, 24)}'"))
    n(_plain("token-type-bearer", "token_type = 'Bearer'"))
    n(_plain("password-min-length", "password_min_length = 12"))
    n(_plain("password-max-age", "password_max_age_days = 90"))
    n(_plain("uuid", f"run_id = {str(uuid.UUID(int=_R.getrandbits(128), version=4))!r}"))
    n(
        _plain(
            "uuid-list",
            f"batch_ids = {[str(uuid.UUID(int=_R.getrandbits(128), version=4)) for _ in range(5)]!r}",
            "nested",
        )
    )
    n(_plain("sha256-file-hash", f"file_hash = {rnd(HEX, 64)!r}"))
    n(
        _plain(
            "md5-dict",
            f"checksums = {{'a.csv': {rnd(HEX, 32)!r}, 'b.csv': {rnd(HEX, 32)!r}}}",
            "nested",
        )
    )
    n(_plain("git-sha", f"commit = {rnd(HEX, 40)!r}"))
    n(_plain("git-short-shas", f"shas = {[rnd(HEX, 7) for _ in range(6)]!r}", "nested"))
    n(_plain("docker-digest", f"image = 'python@sha256:{rnd(HEX, 64)}'"))
    n(_plain("etag", f"etag = '\"{rnd(HEX, 32)}\"'"))
    n(_plain("request-id", f"request_id = {rnd(HEX, 32)!r}"))
    n(
        _plain(
            "trace-id",
            f"span = {{'trace_id': {rnd(HEX, 32)!r}, 'span_id': {rnd(HEX, 16)!r}}}",
            "nested",
        )
    )
    n(
        _plain(
            "hex-colors",
            "palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd']",
            "nested",
        )
    )
    n(_plain("signature-hex", f"signature_hex = {rnd(HEX, 128)!r}"))
    n(
        _plain(
            "prose",
            "abstract = 'We study the effect of feature scaling on gradient descent. Results on three datasets show faster convergence.'",
        )
    )
    n(
        _plain(
            "prose-password-policy",
            "policy_text = 'Passwords must be at least 12 characters long and are rotated every 90 days.'",
        )
    )
    n(
        _plain(
            "prose-api-key-docs",
            "help_text = 'Set your API key in the settings page, then restart the kernel.'",
        )
    )
    n(_plain("nlp-tokens", "tokens = ['the', 'quick', 'brown', 'fox', 'jumps']", "nested"))
    n(_plain("nlp-token-ids", "token_ids = [101, 1996, 4248, 2829, 4419, 102]", "nested"))
    n(_plain("tokenizer-name", "tokenizer_name = 'bert-base-uncased'"))
    n(_plain("n-tokens", "n_tokens = 512"))
    n(_plain("max-tokens", "max_tokens = 4096"))
    n(_plain("tokenized-corpus", "tokenized = [['a', 'b'], ['c', 'd', 'e']]", "nested"))
    n(_plain("secret-santa", "secret_santa = {'ann': 'bob', 'bob': 'cy', 'cy': 'ann'}", "nested"))
    n(_plain("password-field-name", "password_field = 'password'"))
    n(
        _plain(
            "login-form",
            "form = {'fields': ['username', 'password'], 'submit': 'Log in'}",
            "nested",
        )
    )
    n(_plain("auth-url", "auth_url = 'https://login.example.com/oauth2/authorize'"))
    n(_plain("token-url", "token_url = 'https://oauth2.googleapis.com/token'"))
    n(_plain("api-key-header", "api_key_header = 'X-API-Key'"))
    n(_plain("secret-name", "secret_name = 'prod/db/password'"))
    n(_plain("key-path", "key_path = '/etc/ssl/private/server.key'"))
    n(_plain("private-key-file", "private_key_file = '~/.ssh/id_ed25519'"))
    n(_plain("pwd-directory", "pwd = '/home/alice/projects/churn'"))
    n(_plain("dict-keys-list", "keys = ['id', 'name', 'email', 'created_at']", "nested"))
    n(_plain("api-version", "api_version = '2023-10-01'"))
    n(_plain("public-key-pem", f"public_key = {_keys()['rsa_pub'].decode()!r}"))
    n(_plain("ssh-public-key", f"authorized = {_keys()['ssh_pub'].decode() + ' ann@laptop'!r}"))
    n(_plain("hash-algorithm", "hash_algorithm = 'sha256'"))
    n(_plain("bcrypt-rounds", "bcrypt_rounds = 12"))
    n(_plain("password-hint", 'password_hint = "your first pet\'s name"'))
    n(_plain("reset-template", "reset_template = 'Click here to reset your password: {link}'"))
    n(_plain("secret-id", "secret_id = 'projects/123/secrets/db-password/versions/latest'"))
    n(_plain("credentials-path", "credentials_path = '/var/run/secrets/creds.json'"))
    n(_plain("api-token-none", "api_token = None"))
    n(_plain("api-key-empty", "api_key = ''"))
    n(_plain("password-masked", "password = '********'"))
    n(_plain("password-template", "db_password = '${DB_PASSWORD}'"))
    n(_plain("api-key-placeholder", "api_key = '<your-api-key-here>'"))
    n(
        _plain(
            "example-key", "example = {'api_key': 'YOUR_API_KEY', 'region': 'us-east-1'}", "nested"
        )
    )
    n(_plain("sql-query", "query = 'SELECT user_id, password_hash FROM users WHERE active'"))
    n(
        _plain(
            "log-lines",
            "log = ['2024-01-01 INFO user alice logged in', '2024-01-01 WARN bad password for bob']",
            "nested",
        )
    )
    n(_plain("url-with-query", "link = 'https://example.com/search?q=pandas&page=2'"))
    n(_plain("git-ssh-url", "remote = 'ssh://git@github.com/acme/churn.git'"))
    n(_plain("url-with-port", "jupyter_url = 'http://localhost:8888/lab/tree/analysis.ipynb'"))
    n(_plain("auth-method", "auth_method = 'oauth2'"))
    n(_plain("cookie-name", "cookie_name = 'sessionid'"))
    n(_plain("csrf-header", "csrf_header = 'X-CSRFToken'"))
    n(_plain("jwt-algorithm", "jwt_algorithm = 'HS256'"))
    n(_plain("bearer-prefix", "bearer_prefix = 'Bearer '"))
    n(_plain("auth-header-name", "auth_header = 'Authorization'"))
    n(
        _plain(
            "source-code-text",
            "snippet = 'def check(password):\\n    return len(password) >= 12\\n'",
        )
    )
    n(_plain("keyboard", "keyboard_layout = 'qwerty'"))
    n(_plain("monkey", "monkey = 'george'"))
    n(_plain("passenger", "passenger_count = 3"))
    n(_plain("passage", "passage = 'It was the best of times, it was the worst of times.'"))
    n(_plain("compass", "compass_heading = 'NNW'"))
    n(_plain("sku-codes", "skus = ['SKU-2024-ABCD-1234', 'SKU-2024-EFGH-5678']", "nested"))
    n(
        _plain(
            "isbn-phone",
            "contacts = {'isbn': '978-3-16-148410-0', 'phone': '+46 70 123 45 67'}",
            "nested",
        )
    )
    n(_plain("version-describe", "build = 'v1.2.3-4-gdeadbee'"))
    n(
        _plain(
            "hyperparameters",
            "params = {'learning_rate': 0.0003, 'max_tokens': 256, 'tokenizer': 'gpt2'}",
            "nested",
        )
    )
    n(
        _plain(
            "password-policy-dict",
            "password_policy = {'min_length': 12, 'require_digit': True}",
            "nested",
        )
    )
    n(
        _plain(
            "users-no-password",
            "users = [{'name': 'ann', 'email': 'ann@example.org', 'role': 'admin'}]",
            "nested",
        )
    )
    n(_plain("nested-plain", "tree = {'a': {'b': {'c': 'hello world'}}}", "nested"))
    n(_plain("numbers", "import numpy as np\nweights = np.linspace(0, 1, 50)"))
    n(
        _plain(
            "dataframe",
            "import pandas as pd\nframe = pd.DataFrame({'city': ['Oslo', 'Lund'], 'code': ['NO-03', 'SE-M']})",
        )
    )
    n(
        _plain(
            "class-constants",
            "class Form:\n    PASSWORD_MIN = 12\n    FIELDS = ('user', 'password')\n",
            "code",
        )
    )
    n(
        _plain(
            "function-defaults",
            "def train(lr=0.01, max_tokens=512, tokenizer='bert-base-uncased'):\n    return lr\n",
            "code",
        )
    )
    n(_plain("lambda-colors", "color = lambda i: ['#1f77b4', '#ff7f0e'][i % 2]", "code"))
    n(
        _plain(
            "dataclass-uuid",
            f"from dataclasses import dataclass, field\n@dataclass\nclass Run:\n    name: str\n    run_id: str = field(repr=False, default='')\nrun = Run('baseline', {str(uuid.UUID(int=_R.getrandbits(128), version=4))!r})\n",
            "code",
        )
    )
    n(
        _plain(
            "function-password-check",
            "def strong(password, min_length=12):\n    if len(password) < min_length:\n        raise ValueError('password too short')\n    return True\n",
            "code",
        )
    )
    n(
        _plain(
            "object-attrs",
            "class Job:\n    def __init__(self):\n        self.name = 'nightly'\n        self.token_count = 1200\n        self.key = 'customer_id'\njob = Job()\n",
            "code",
        )
    )
    n(_plain("history-token-type", "n_rows = 3", "history", 'token_type = "Bearer"'))
    n(_plain("history-min-length", "n_rows = 3", "history", "password_min_length = 12"))
    n(_plain("history-read-csv", "n_rows = 3", "history", 'df = pd.read_csv("users.csv")'))
    n(
        _plain(
            "history-prompt",
            "n_rows = 3",
            "history",
            'pw = getpass.getpass("Enter your password: ")',
        )
    )
    n(
        _plain(
            "history-hashes",
            "n_rows = 3",
            "history",
            "hashes = [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]",
        )
    )
    n(
        _plain(
            "history-image",
            "n_rows = 3",
            "history",
            f'img = "data:image/png;base64,{base64.b64encode(_R.randbytes(400)).decode()}"',
        )
    )
    n(_plain("history-commit", "n_rows = 3", "history", f'commit = "{rnd(HEX, 40)}"'))
    n(_plain("history-environ-read", "n_rows = 3", "history", 'key = os.environ["OPENAI_API_KEY"]'))
    n(
        _plain(
            "history-stripe-id",
            "n_rows = 3",
            "history",
            f'stripe.PaymentIntent.retrieve("pi_3{rnd(ALNUM, 23)}")',
        )
    )
    n(
        _plain(
            "history-uuid",
            "n_rows = 3",
            "history",
            f'run = mlflow.get_run("{uuid.UUID(int=_R.getrandbits(128), version=4).hex}")',
        )
    )
    out.extend(replace(case, held_out=True) for case in _held_out())
    return tuple(out)


def _held_out() -> list[Case]:
    """Cases added after the detector was tuned on the ones above, to show how it does on
    values it was not fitted to. Do not tune the detector on these; add new ones instead."""
    out: list[Case] = []
    s = out.append
    vault = "hvs." + rnd(ALNUM, 24)
    s(_secret("ho-vault-token", f"vault_token = {vault!r}", vault))
    p = password()
    s(
        _secret(
            "ho-smtp-pass",
            f"config = {{'smtp': {{'auth': {{'user': 'mailer', 'pass': {p!r}}}}}}}",
            p,
            "nested",
        )
    )
    auth = base64.b64encode(f"ci:{password()}".encode()).decode()
    s(
        _secret(
            "ho-docker-auths",
            f"docker_cfg = {{'auths': {{'registry.example.com': {{'auth': {auth!r}}}}}}}",
            auth,
            "nested",
        )
    )
    p = password()
    s(
        _secret(
            "ho-sqlserver-conn",
            f"conn_string = 'Server=db;Database=prod;User Id=sa;Password={p};'",
            p,
            "text",
        )
    )
    p = password()
    s(
        _secret(
            "ho-mongo-uri",
            f"mongo_uri = 'mongodb+srv://app:{p}@cluster0.example.mongodb.net/prod'",
            p,
        )
    )
    p = password()
    s(_secret("ho-amqp", f"brokers = ['amqp://guest:{p}@rabbit:5672/']", p, "nested"))
    p = password()
    s(
        _secret(
            "ho-object-credentials",
            f"class Conn:\n    def __init__(self):\n        self.credentials = {{'username': 'x', 'password': {p!r}}}\nconn = Conn()\n",
            p,
            "code",
        )
    )
    hook = f"https://hooks.slack.com/services/T{rnd(UPPER_DIGITS, 8)}/B{rnd(UPPER_DIGITS, 10)}/{rnd(ALNUM, 24)}"
    s(
        _secret(
            "ho-default-webhook",
            f"def send(msg, webhook_url={hook!r}):\n    return msg\n",
            hook,
            "code",
        )
    )
    akia, sec = "AKIA" + rnd(UPPER_DIGITS, 16), rnd(B64, 40)
    s(_secret("ho-lambda-aws", f"sign = lambda: ({akia!r}, {sec!r})", sec, "code"))
    oa = "sk-" + rnd(ALNUM, 48)
    s(_history("ho-history-openai", f'openai.api_key = "{oa}"', oa))
    gl = "glpat-" + rnd(URLSAFE, 20)
    s(_history("ho-history-clone", f"!git clone https://oauth2:{gl}@gitlab.com/org/repo.git", gl))
    tok = rnd(ALNUM, 32)
    s(_history("ho-history-header", f'headers["X-Api-Key"] = "{tok}"', tok))
    tok = rnd(ALNUM, 40)
    s(_secret("ho-bytes-bearer", f"auth_pair = ('api.example.com', b'Bearer {tok}')", tok, "bytes"))
    p = password()
    s(
        _secret(
            "ho-namedtuple",
            f"from collections import namedtuple\nLogin = namedtuple('Login', 'user password')\nme = Login('ann', {p!r})\n",
            p,
            "code",
        )
    )
    p = password()
    s(
        _secret(
            "ho-host-tuples",
            f"hosts = [('db1', 'etl', {p!r}), ('db2', 'etl', {password()!r})]",
            p,
            "nested",
        )
    )
    shp = "shpat_" + rnd(HEX, 32)
    s(
        _secret(
            "ho-shopify",
            f"shop = {{'domain': 'acme.myshopify.com', 'access': {shp!r}}}",
            shp,
            "nested",
        )
    )
    sq = "sq0atp-" + rnd(URLSAFE, 22)
    s(_secret("ho-square", f"square = {sq!r}", sq))
    ghp = "ghp_" + rnd(ALNUM, 36)
    s(_secret("ho-frozenset", f"allowed = frozenset({{{ghp!r}}})", ghp, "nested"))
    p = password()
    s(
        _secret(
            "ho-django-databases",
            f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.postgresql', 'NAME': 'app', 'PASSWORD': {p!r}}}}}",
            p,
            "nested",
        )
    )
    tok = rnd(ALNUM, 32)
    s(_secret("ho-env-lines", f"env_lines = ['PATH=/usr/bin', 'API_SECRET={tok}']", tok, "nested"))

    n = out.append
    n(_plain("ho-password-changed-at", "password_changed_at = '2024-05-01T12:00:00Z'"))
    n(_plain("ho-token-count", "token_count = 1532"))
    n(_plain("ho-secret-word-game", "secret_word_game = ['apple', 'banana', 'cherry']", "nested"))
    n(_plain("ho-api-base", "api_base = 'https://api.openai.com/v1'"))
    n(_plain("ho-key-columns", "key_columns = ['customer_id', 'order_id']", "nested"))
    n(_plain("ho-primary-key", "primary_key = 'id'"))
    n(_plain("ho-sort-key", "sort_key = lambda r: r['created']", "code"))
    n(_plain("ho-auth-required", "auth_required = True"))
    n(_plain("ho-passwd-file", "passwd_file = '/etc/passwd'"))
    n(_plain("ho-pdf-b64", f"pdf_head_b64 = {base64.b64encode(_R.randbytes(120)).decode()!r}"))
    n(_plain("ho-model-hash", f"model_hash = 'sha256:{rnd(HEX, 64)}'"))
    n(_plain("ho-cache-key", "cache_key = 'user:1234:profile'"))
    n(_plain("ho-known-host", f"ssh_known_host = 'github.com ' + {_keys()['ssh_pub'].decode()!r}"))
    n(
        _plain(
            "ho-jwt-header",
            f"jwt_header = {{'alg': 'RS256', 'typ': 'JWT', 'kid': {rnd(HEX, 32)!r}}}",
            "nested",
        )
    )
    n(_plain("ho-otp-length", "otp_length = 6"))
    n(_plain("ho-secret-message", "secret_message = 'Meet at noon by the old oak tree.'"))
    n(_plain("ho-credential-type", "credential_type = 'service_account'"))
    n(_plain("ho-s3-key", "s3_key = 'raw/2024/05/01/events-0001.parquet'"))
    n(_plain("ho-cookie-name", "session_cookie_name = 'csrftoken'"))
    n(_plain("ho-nonce", f"nonce = {base64.b64encode(_R.randbytes(24)).decode()!r}"))
    n(_plain("ho-ami", "image_id = 'ami-0abcdef1234567890'"))
    n(_plain("ho-arn", "role_arn = 'arn:aws:iam::123456789012:role/etl'"))
    n(_plain("ho-commit-message", "commit_message = 'Fix password reset token expiry'"))
    n(_plain("ho-history-getenv", "n_rows = 3", "history", 'token = os.getenv("GITHUB_TOKEN")'))
    return out


def secrets() -> list[Case]:
    return [c for c in cases() if c.secret]


def lookalikes() -> list[Case]:
    return [c for c in cases() if not c.secret]
