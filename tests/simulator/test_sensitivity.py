"""`promosim sensitivity`: Sobol' indices against their closed form, Morris screening ranks an
irrelevant assumption last, the tornado's ends, and the command line's files.

The plan: orders ≈ F₁ F₂ λ (a traffic factor F₁ and a conversion factor F₂, independent
uniforms; λ = 200,000 so shopper noise is 0.2 % and common to every plan). For a product of
independent X₁, X₂: V₁ = Var X₁ (E X₂)², V₂ = Var X₂ (E X₁)², V₁₂ = Var X₁ Var X₂,
S_i = V_i / V and ST_i = (V_i + V₁₂) / V, V = V₁ + V₂ + V₁₂. A third assumption, the return
rate, does not touch orders at all.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from simulator.sensitivity import analyse
from tests.helpers import one_sku

TRAFFIC = (0.6, 1.4)        # uniform factor: wide
CONVERSION = (0.9, 1.1)     # uniform factor: narrow


def product_plan():
    return one_sku(stock=10**8, hours=20, visits_per_hour=100_000.0, base_conversion=0.1, sku={"return_rate": 0.05},
                   extra={"uncertainty": {"assumptions": {
                       "traffic": {"paths": ["channels.*.visits_per_hour"],
                                   "uniform": {"low": TRAFFIC[0], "high": TRAFFIC[1]}, "relative": True},
                       "conversion": {"paths": ["skus.*.base_conversion"],
                                      "uniform": {"low": CONVERSION[0], "high": CONVERSION[1]}, "relative": True},
                       "returns": {"paths": ["skus.item.return_rate"], "uniform": {"low": 0.0, "high": 0.3}}}}})


def closed_form() -> dict[str, tuple[float, float]]:
    m1, v1 = np.mean(TRAFFIC), (TRAFFIC[1] - TRAFFIC[0]) ** 2 / 12
    m2, v2 = np.mean(CONVERSION), (CONVERSION[1] - CONVERSION[0]) ** 2 / 12
    a, b, ab = v1 * m2**2, v2 * m1**2, v1 * v2
    v = a + b + ab
    return {"traffic": (a / v, (a + ab) / v), "conversion": (b / v, (b + ab) / v)}


@pytest.fixture(scope="module")
def result():
    return analyse(product_plan(), ["orders"], trajectories=8, base=256, top=2, seeds=1, seed=3)


def test_sobol_indices_match_the_closed_form_within_their_intervals(result):
    want = closed_form()
    got = result.indices["orders"]
    assert set(got) == {"traffic", "conversion"}                 # the top two by Morris
    for name, (s1, st) in want.items():
        g = got[name]
        # SALib's bootstrap half-widths (95 %), at least 0.01 for shopper noise and rounding
        assert abs(g["S1"] - s1) <= max(g["S1_conf"], 0.01), (name, g, s1)
        assert abs(g["ST"] - st) <= max(g["ST_conf"], 0.01), (name, g, st)


def test_morris_ranks_the_irrelevant_assumption_last(result):
    mu = result.screening["orders"]
    assert sorted(mu, key=lambda n: -mu[n]["mu_star"]) == ["traffic", "conversion", "returns"]
    assert mu["returns"]["mu_star"] < 0.01 * mu["conversion"]["mu_star"]


def test_the_tornado_moves_orders_by_each_factor_alone(result):
    t = result.tornado["orders"]
    base = t["base"]
    assert t["traffic"]["p5"] == pytest.approx(0.6 + 0.8 * 0.05) and t["traffic"]["p95"] == pytest.approx(1.36)
    for name, (lo, hi) in (("traffic", TRAFFIC), ("conversion", CONVERSION)):
        mid = (lo + hi) / 2
        q5, q95 = lo + 0.05 * (hi - lo), lo + 0.95 * (hi - lo)
        assert t[name]["low"] / base == pytest.approx(q5 / mid, rel=0.01)
        assert t[name]["high"] / base == pytest.approx(q95 / mid, rel=0.01)
    assert t["returns"]["low"] == pytest.approx(base, rel=1e-3)
    assert result.evaluations == 1 + 2 * 3 + 8 * 4 + 256 * 4          # tornado, Morris, Saltelli (m + 2 each)


def test_the_command_writes_its_files_and_refuses_a_plan_without_assumptions(promosim, tmp_path):
    from tests.helpers import one_sku as plain

    src = tmp_path / "plan.yaml"
    src.write_text(json.dumps(product_plan().model_dump(mode="json", exclude_none=True)), encoding="utf-8")
    out = tmp_path / "sens"
    r = promosim("sensitivity", str(src), "--kpis", "orders,gmv", "--trajectories", "2", "--base", "4",
                 "--top", "2", "--seeds", "1", "--out", str(out), "--json", "--quiet")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data["indices"]["gmv"]) == set(data["indices"]["orders"]) and data["replications"] == data["evaluations"]
    assert json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))["kpis"] == ["orders", "gmv"]
    assert (out / "tornado_orders.png").read_bytes()[:4] == b"\x89PNG"
    bare = tmp_path / "bare.yaml"
    bare.write_text(json.dumps(plain(stock=10).model_dump(mode="json", exclude_none=True)), encoding="utf-8")
    r = promosim("sensitivity", str(bare), "--quiet")
    assert r.returncode == 2 and "no uncertainty: block" in r.stderr
    r = promosim("sensitivity", str(src), "--kpis", "gvm", "--quiet")
    assert r.returncode == 2 and "did you mean 'gmv'" in r.stderr
