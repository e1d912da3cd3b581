"""The demo's session: a small churn analysis, saved the way a user would save theirs.

Run as ``python -m sessions.tui.demo_session`` with ``SESSIONS_HOME`` pointing at the demo dir; it
saves a few snapshots (two versions of one name, a model, a function, a skipped connection,
a database URL with a password in it) and drops a ``dill.dump_module`` file next to them.
"""

import sqlite3

import dill
import numpy as np
import pandas as pd

import sessions

rng = np.random.default_rng(7)
n = 2_000
customers = pd.DataFrame(
    {
        "customer_id": np.arange(10_000, 10_000 + n),
        "plan": rng.choice(["basic", "pro", "team"], size=n, p=[0.6, 0.3, 0.1]),
        "monthly_spend": rng.gamma(2.0, 18.0, size=n).round(2),
        "tenure_months": rng.integers(1, 60, size=n),
        "churned": rng.random(n) < 0.18,
    }
)
spend = customers["monthly_spend"].to_numpy()
features = ["monthly_spend", "tenure_months"]
config = {"seed": 7, "test_size": 0.25, "threshold": 0.5}
warehouse_url = "postgresql://analyst:Tr0ub4dor-3x@warehouse.internal:5432/churn"  # a credential
warehouse = sqlite3.connect(":memory:")  # cannot be saved: shows up as skipped


class ChurnModel:
    """A tiny logistic model, defined in the session (saved by value, restored as a class)."""

    def __init__(self, features):
        self.features = list(features)
        self.weights = np.zeros(len(features) + 1)

    def fit(self, frame, target, steps=300, rate=0.05):
        x = np.column_stack([np.ones(len(frame)), frame[self.features].to_numpy(float)])
        x[:, 1:] = (x[:, 1:] - x[:, 1:].mean(0)) / x[:, 1:].std(0)
        y = frame[target].to_numpy(float)
        for _ in range(steps):
            p = 1 / (1 + np.exp(-x @ self.weights))
            self.weights -= rate * x.T @ (p - y) / len(y)
        return self

    def predict(self, frame):
        x = np.column_stack([np.ones(len(frame)), frame[self.features].to_numpy(float)])
        x[:, 1:] = (x[:, 1:] - x[:, 1:].mean(0)) / x[:, 1:].std(0)
        return 1 / (1 + np.exp(-x @ self.weights))


def churn_rate(frame, by="plan"):
    """Share of churned customers per group."""
    return frame.groupby(by)["churned"].mean().round(3)


sessions.save("churn-analysis", note="raw customers loaded", tags=["demo", "churn"])

clean = customers[customers["monthly_spend"] > 5].reset_index(drop=True)
model = ChurnModel(features).fit(clean, "churned")
rates = churn_rate(clean)
to_percent = lambda value: f"{100 * value:.1f}%"  # noqa: E731
sessions.save("churn-analysis", note="cleaned, model fitted", tags=["demo", "churn", "model"])

sessions.save(
    "demo-model", include=["model", "ChurnModel", "churn_rate", "config"], note="just the model"
)

del warehouse
legacy_scores = model.predict(clean)[:100]
# An editable install lives outside site-packages, so dill would pickle the sessions package
# (and every subpackage bound on it) by value: leave it out, as a user's old script never had
# it, and add no new name for the path (build_demo sets SESSIONS_HOME).
del sessions
dill.dump_module(
    __import__("os").path.join(__import__("os").environ["SESSIONS_HOME"], "legacy-experiment.pkl")
)
