"""Tests of the PLS path model and the ACSI index (crm_analytics.satisfaction.pls).

The reference values come from a separately written PLS-PM (``reference_plspm``: plain
loops, no code shared with the package), from closed-form facts and from data
simulated with a known structural model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_analytics.errors import (
    ConvergenceWarning,
    DataQualityWarning,
    InputError,
    NotFittedError,
)
from crm_analytics.satisfaction.plotting import (
    plot_importance_performance,
    plot_path_diagram,
    plot_sla_trend,
)
from crm_analytics.satisfaction.pls import ECSI_CONSTRUCTS, ECSI_PATHS, SatisfactionIndex

# 12 respondents, 3 constructs x 2 items on a 1-7 scale (a -> b, a -> c, b -> c).
HAND = pd.DataFrame(
    [[4, 3, 4, 4, 4, 3], [5, 6, 3, 3, 3, 4], [3, 4, 4, 5, 1, 1], [3, 2, 3, 5, 3, 1],
     [3, 3, 1, 2, 4, 3], [3, 3, 2, 2, 4, 2], [3, 4, 3, 2, 2, 2], [6, 7, 5, 5, 5, 6],
     [4, 3, 1, 1, 1, 1], [2, 4, 2, 3, 3, 2], [6, 6, 4, 3, 5, 5], [5, 4, 3, 5, 4, 4]],
    columns=["a1", "a2", "b1", "b2", "c1", "c2"], dtype=float,
)
HAND_CONSTRUCTS = {"a": ["a1", "a2"], "b": ["b1", "b2"], "c": ["c1", "c2"]}
HAND_PATHS = [("a", "b"), ("a", "c"), ("b", "c")]


def reference_plspm(data, blocks, paths, modes, scheme, tol=1e-12, max_iter=1000):
    """Lohmoller's PLS-PM written out step by step (Tenenhaus et al. 2005, sec. 2)."""
    n = len(data)
    Z = (data - data.mean(axis=0)) / data.std(axis=0)
    J = len(blocks)
    weights = [np.ones(len(b)) for b in blocks]

    def score(j, w):
        y = Z[:, blocks[j]] @ w
        return y / y.std()

    for _ in range(max_iter):
        Y = np.column_stack([score(j, weights[j]) for j in range(J)])
        inner = np.zeros((n, J))
        for j in range(J):
            preds = [a for a, b in paths if b == j]
            succs = [b for a, b in paths if a == j]
            if scheme == "path":
                if preds:
                    beta = np.linalg.lstsq(Y[:, preds], Y[:, j], rcond=None)[0]
                    for k, b in zip(preds, beta, strict=True):
                        inner[:, j] += b * Y[:, k]
                for k in succs:
                    inner[:, j] += np.corrcoef(Y[:, j], Y[:, k])[0, 1] * Y[:, k]
            else:
                for k in preds + succs:
                    r = np.corrcoef(Y[:, j], Y[:, k])[0, 1]
                    inner[:, j] += (np.sign(r) if scheme == "centroid" else r) * Y[:, k]
        new = []
        for j in range(J):
            if modes[j] == "A":
                w = np.array([np.mean(Z[:, h] * inner[:, j]) for h in blocks[j]])
            else:
                w = np.linalg.lstsq(Z[:, blocks[j]], inner[:, j], rcond=None)[0]
            new.append(w / (Z[:, blocks[j]] @ w).std())
        delta = max(np.max(np.abs(a - b)) for a, b in zip(new, weights, strict=True))
        weights = new
        if delta < tol:
            break
    for j in range(J):
        y = score(j, weights[j])
        if sum(np.corrcoef(Z[:, h], y)[0, 1] < 0 for h in blocks[j]) > len(blocks[j]) / 2:
            weights[j] = -weights[j]
    Y = np.column_stack([score(j, weights[j]) for j in range(J)])
    loadings = [np.array([np.corrcoef(Z[:, h], Y[:, j])[0, 1] for h in blocks[j]])
                for j in range(J)]
    coefs = np.zeros((J, J))
    r2 = {}
    for j in range(J):
        preds = [a for a, b in paths if b == j]
        if preds:
            beta = np.linalg.lstsq(Y[:, preds], Y[:, j], rcond=None)[0]
            coefs[preds, j] = beta
            r2[j] = 1 - np.var(Y[:, j] - Y[:, preds] @ beta) / np.var(Y[:, j])
    return np.concatenate(weights), np.concatenate(loadings), coefs, r2


def fit_hand(**kwargs):
    model = SatisfactionIndex(HAND_CONSTRUCTS, HAND_PATHS, target="c", scale=(1, 7),
                              min_n=10, **kwargs)
    return model.fit(HAND)


@pytest.mark.parametrize(("scheme", "mode"), [("path", "A"), ("centroid", "A"),
                                              ("factorial", "A"), ("path", {"c": "B"})])
def test_matches_independent_reference(scheme, mode):
    model = fit_hand(scheme=scheme, mode=mode)
    modes = ["B" if isinstance(mode, dict) and c in mode else "A" for c in "abc"]
    w, lam, coefs, r2 = reference_plspm(HAND.to_numpy(), [[0, 1], [2, 3], [4, 5]],
                                        [(0, 1), (0, 2), (1, 2)], modes, scheme)
    assert model.converged_
    np.testing.assert_allclose(model.outer_weights_.to_numpy(), w, atol=1e-6)
    np.testing.assert_allclose(model.loadings_.to_numpy(), lam, atol=1e-6)
    np.testing.assert_allclose(model.path_coefficients_.to_numpy(), coefs, atol=1e-6)
    np.testing.assert_allclose(model.r_squared_[["b", "c"]], [r2[1], r2[2]], atol=1e-6)


def test_single_indicator_constructs_reduce_to_ols_on_standardized_items():
    data = HAND[["a1", "b1", "c1"]]
    model = SatisfactionIndex({"a": ["a1"], "b": ["b1"], "c": ["c1"]}, HAND_PATHS,
                              target="c", scale=(1, 7), min_n=10).fit(data)
    z = ((data - data.mean()) / data.std(ddof=0)).to_numpy()
    np.testing.assert_allclose(model.outer_weights_, 1.0, atol=1e-12)
    np.testing.assert_allclose(model.loadings_, 1.0, atol=1e-12)
    beta = np.linalg.lstsq(z[:, :2], z[:, 2], rcond=None)[0]
    np.testing.assert_allclose(model.path_coefficients_.loc[["a", "b"], "c"], beta, atol=1e-10)
    r_ab = np.corrcoef(z[:, 0], z[:, 1])[0, 1]
    assert model.path_coefficients_.loc["a", "b"] == pytest.approx(r_ab, abs=1e-10)
    assert model.r_squared_["b"] == pytest.approx(r_ab**2, abs=1e-10)
    # Total effect of a on c: direct path plus the path through b.
    total = beta[0] + r_ab * beta[1]
    assert model.total_effects_.loc["a", "c"] == pytest.approx(total, abs=1e-10)


def test_two_blocks_mode_a_weights_are_covariances_with_the_other_score():
    data = HAND[["a1", "a2", "b1", "b2"]]
    model = SatisfactionIndex({"a": ["a1", "a2"], "b": ["b1", "b2"]}, [("a", "b")],
                              target="b", scale=(1, 7), min_n=10).fit(data)
    z = ((data - data.mean()) / data.std(ddof=0)).to_numpy()
    for block, other in (("a", "b"), ("b", "a")):
        cols = [0, 1] if block == "a" else [2, 3]
        cov = z[:, cols].T @ model.scores_[other].to_numpy() / len(z)
        w = model.outer_weights_[block].to_numpy()
        np.testing.assert_allclose(w / np.linalg.norm(w), cov / np.linalg.norm(cov), atol=1e-6)
    corr = model.scores_.corr().loc["a", "b"]
    assert model.path_coefficients_.loc["a", "b"] == pytest.approx(corr, abs=1e-10)


def test_sign_is_fixed_by_the_majority_of_indicators():
    flipped = HAND.copy()
    flipped[["c1", "c2"]] = 8 - flipped[["c1", "c2"]]  # reverse-coded items
    base, model = fit_hand(), SatisfactionIndex(HAND_CONSTRUCTS, HAND_PATHS, target="c",
                                                scale=(1, 7), min_n=10).fit(flipped)
    assert (model.loadings_ > 0).all()
    np.testing.assert_allclose(model.path_coefficients_["c"], -base.path_coefficients_["c"],
                               atol=1e-8)


def test_sign_follows_the_majority_even_when_the_item_sum_points_the_other_way():
    rng = np.random.default_rng(5)
    eta = rng.normal(size=300)
    noise = rng.normal(size=(300, 6))
    data = pd.DataFrame({
        # Two weak items and one strong reverse-coded item: the unit-weight start
        # (the item sum) runs against eta, and PLS keeps the orientation it starts with.
        "q1": 0.3 * eta + noise[:, 0], "q2": 0.3 * eta + noise[:, 1],
        "q3": -0.95 * eta + 0.3 * noise[:, 2],
        **{f"s{i}": 0.6 * eta + 0.6 * noise[:, 2 + i] for i in (1, 2, 3)},
    })
    model = SatisfactionIndex({"q": ["q1", "q2", "q3"], "s": ["s1", "s2", "s3"]},
                              [("q", "s")], target="s", scale=(-10, 10)).fit(data)
    assert list(model.loadings_["q"] > 0) == [True, True, False]
    assert model.path_coefficients_.loc["q", "s"] > 0.5
    assert np.corrcoef(model.scores_["q"], eta)[0, 1] > 0.9


# --- recovery of a known ECSI structure ------------------------------------------------
TRUE_PATHS = {
    ("image", "expectations"): 0.5, ("image", "satisfaction"): 0.2, ("image", "loyalty"): 0.25,
    ("expectations", "quality"): 0.55, ("expectations", "value"): 0.2,
    ("expectations", "satisfaction"): 0.1, ("quality", "value"): 0.5,
    ("quality", "satisfaction"): 0.4, ("value", "satisfaction"): 0.25,
    ("satisfaction", "complaints"): -0.4, ("satisfaction", "loyalty"): 0.45,
    ("complaints", "loyalty"): -0.15,
}
ORDER = list(ECSI_CONSTRUCTS)  # already a topological order of ECSI_PATHS
LOADING = 0.85


def latent_correlations():
    """Correlations of the unit-variance latents implied by TRUE_PATHS."""
    phi = np.eye(len(ORDER))
    for j, target in enumerate(ORDER):
        for k in range(j):
            phi[j, k] = phi[k, j] = sum(b * phi[ORDER.index(s), k]
                                        for (s, t), b in TRUE_PATHS.items() if t == target)
    return phi


def simulate_ecsi(n, seed):
    rng = np.random.default_rng(seed)
    phi, eta, items = latent_correlations(), {}, {}
    for target in ORDER:
        preds = [(ORDER.index(s), b) for (s, t), b in TRUE_PATHS.items() if t == target]
        idx, beta = [k for k, _ in preds], np.array([b for _, b in preds])
        resid = 1 - beta @ phi[np.ix_(idx, idx)] @ beta if preds else 1.0
        eta[target] = (sum(b * eta[ORDER[k]] for k, b in preds)
                       + np.sqrt(resid) * rng.normal(size=n))
    for construct, names in ECSI_CONSTRUCTS.items():
        for name in names:
            items[name] = LOADING * eta[construct] + np.sqrt(1 - LOADING**2) * rng.normal(size=n)
    return pd.DataFrame(items)


def pls_limits():
    """Population PLS paths: OLS on the correlations of equally weighted composites.

    With equal loadings the population Mode A weights are equal, and a composite of k
    items correlates with its latent by rho = k*l / sqrt(k + k(k-1) l^2) (0.94 for three
    items, 0.85 for complaints' single item). Correlations between composites are
    attenuated by rho_j * rho_k, which is why PLS underestimates strong paths.
    """
    k = np.array([len(ECSI_CONSTRUCTS[c]) for c in ORDER])
    rho = k * LOADING / np.sqrt(k + k * (k - 1) * LOADING**2)
    corr = latent_correlations() * np.outer(rho, rho)
    np.fill_diagonal(corr, 1.0)
    limits = {}
    for target in ORDER:
        preds = [ORDER.index(s) for (s, t) in TRUE_PATHS if t == target]
        if preds:
            beta = np.linalg.solve(corr[np.ix_(preds, preds)], corr[preds, ORDER.index(target)])
            limits.update({(ORDER[p], target): b for p, b in zip(preds, beta, strict=True)})
    return limits


def test_recovers_known_ecsi_paths():
    model = SatisfactionIndex(scale=(-10, 10)).fit(simulate_ecsi(2000, seed=1))
    limits = pls_limits()
    rows = [(s, t, b, limits[s, t], model.path_coefficients_.loc[s, t])
            for (s, t), b in TRUE_PATHS.items()]
    table = pd.DataFrame(rows, columns=["source", "target", "true", "limit", "estimate"])
    # Sampling error only: n=2000 gives standard errors of 0.02-0.03, so 0.06 is about
    # 2.5 of them (the largest gap over 20 seeds was 0.054).
    assert (table["estimate"] - table["limit"]).abs().max() < 0.06, table
    # Against the true paths add the attenuation of three 0.85-loading indicators
    # (up to 0.08 on the 0.5 paths); every sign must be right.
    assert (table["estimate"] - table["true"]).abs().max() < 0.12, table
    assert (np.sign(table["estimate"]) == np.sign(table["true"])).all()
    strong = table["true"].abs() >= 0.4
    assert (table.loc[strong, "estimate"].abs() < table.loc[strong, "true"].abs()).all()
    assert set(model.r_squared_.index) == {t for _, t in ECSI_PATHS}


# --- reliability, index, bootstrap ------------------------------------------------------
def hadamard_data():
    """Items built from orthogonal +-1 columns, so correlations are known exactly."""
    h = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    h = np.kron(h, np.array([[1, 1], [1, -1]]))[:, 1:]  # 8x7, columns orthogonal, mean 0
    h = np.tile(h, (5, 1))  # 40 respondents
    return pd.DataFrame({"x1": 4 + h[:, 0], "x2": 4 + h[:, 0] + h[:, 1],
                         "y1": 4 + h[:, 0] + h[:, 2], "y2": 4 + h[:, 0] + h[:, 3]})


def test_reliability_hand_case():
    model = SatisfactionIndex({"x": ["x1", "x2"], "y": ["y1", "y2"]}, [("x", "y")], target="y",
                              scale=(1, 7)).fit(hadamard_data())
    rel = model.reliability_
    # cor(x1, x2) = 1/sqrt(2), cor(y1, y2) = 1/2; standardized alpha = 2r / (1 + r).
    assert rel.loc["x", "cronbach_alpha"] == pytest.approx(2 * np.sqrt(2) - 2, abs=1e-12)
    assert rel.loc["y", "cronbach_alpha"] == pytest.approx(2 / 3, abs=1e-12)
    lam = model.loadings_["x"].to_numpy()
    rho = lam.sum() ** 2 / (lam.sum() ** 2 + (1 - lam**2).sum())
    assert rel.loc["x", "composite_reliability"] == pytest.approx(rho, abs=1e-12)
    assert rel.loc["x", "ave"] == pytest.approx(np.mean(lam**2), abs=1e-12)
    assert rel.loc["x", "n_items"] == 2


def small_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=n)
    satisfaction = 0.6 * quality + 0.8 * rng.normal(size=n)
    cols = {f"{name}_{i}": np.clip(np.round(5.5 + 2 * (v + 0.6 * rng.normal(size=n))), 1, 10)
            for name, v in (("quality", quality), ("satisfaction", satisfaction))
            for i in (1, 2, 3)}
    return pd.DataFrame(cols)


SMALL = {"quality": ["quality_1", "quality_2", "quality_3"],
         "satisfaction": ["satisfaction_1", "satisfaction_2", "satisfaction_3"]}


def small_model(**kwargs):
    return SatisfactionIndex(SMALL, [("quality", "satisfaction")], **{"scale": (1, 10), **kwargs})


def test_index_follows_acsi_formula_and_hits_the_scale_ends():
    data = small_data()
    model = small_model().fit(data)
    for construct, items in SMALL.items():
        w = model.outer_weights_[construct].to_numpy() / data[items].std(ddof=0).to_numpy()
        w = w / w.sum()
        expected = 100 * ((data[items].mean().to_numpy() @ w) - 1) / 9
        assert model.index_[construct] == pytest.approx(expected, abs=1e-10)
    extremes = pd.DataFrame([[10.0] * 6, [1.0] * 6], columns=data.columns)
    np.testing.assert_allclose(model.transform(extremes).to_numpy(),
                               [[100, 100], [0, 0]], atol=1e-10)
    # A group answering the scale maximum everywhere scores 100, its complement stays inside.
    top = pd.concat([data, pd.DataFrame([[10.0] * 6] * 30, columns=data.columns)],
                    ignore_index=True)
    groups = pd.Series(["rest"] * len(data) + ["top"] * 30, name="segment")
    by_group = small_model().fit(top, groups=groups).index_by_group_
    assert by_group.loc["top", "satisfaction"] == pytest.approx(100.0, abs=1e-10)
    assert 0 < by_group.loc["rest", "satisfaction"] < 100
    assert by_group.index.name == "segment"
    assert list(by_group["n"]) == [len(data), 30]


def test_index_by_group_marks_tiny_groups_not_reportable():
    data = small_data()
    groups = np.where(np.arange(len(data)) < 10, "tiny", "big")
    table = small_model(min_group_n=30).fit(data, groups=groups).index_by_group_
    assert not table.loc["tiny", "reportable"]
    assert np.isnan(table.loc["tiny", "satisfaction"])
    assert "n=10 < min_group_n=30" in table.loc["tiny", "note"]
    assert table.loc["big", "reportable"] and table.loc["big", "satisfaction"] > 0


def test_bootstrap_intervals_contain_estimate_and_are_reproducible():
    data = small_data()
    first = small_model(n_boot=200, random_state=3).fit(data).bootstrap_
    again = small_model(n_boot=200, random_state=3).fit(data).bootstrap_
    other = small_model(n_boot=200, random_state=4).fit(data).bootstrap_
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["ci_lower"], other["ci_lower"])
    assert ((first["ci_lower"] <= first["estimate"])
            & (first["estimate"] <= first["ci_upper"])).all()
    path = first.loc[("path", "quality -> satisfaction")]
    assert 0.05 < path["std_error"] < 0.2
    assert set(first.index.get_level_values("kind")) == {"path", "total_effect", "loading",
                                                         "index"}


def test_listwise_deletion_is_counted_and_equals_fitting_complete_rows():
    data = small_data()
    holes = data.copy()
    holes.iloc[[3, 8, 40], [0, 4, 5]] = np.nan
    model = small_model().fit(holes)
    assert model.n_dropped_ == 3 and model.n_obs_ == len(data) - 3
    complete = small_model().fit(data.drop(index=[3, 8, 40]))
    pd.testing.assert_frame_equal(model.path_coefficients_, complete.path_coefficients_)


def test_drivers_summary_and_figures():
    model = SatisfactionIndex(n_boot=20, scale=(-10, 10)).fit(simulate_ecsi(300, seed=2))
    drivers = model.drivers()
    assert set(drivers.index) == {"image", "expectations", "quality", "value"}
    total = model.total_effects_["satisfaction"]
    assert drivers["importance"].to_dict() == pytest.approx(total[drivers.index].to_dict())
    p = model.path_coefficients_
    quality_total = p.loc["quality", "satisfaction"] + p.loc["quality", "value"] * p.loc[
        "value", "satisfaction"]
    assert drivers.loc["quality", "importance"] == pytest.approx(quality_total, abs=1e-12)
    assert (drivers["importance_ci_lower"] <= drivers["importance"]).all()

    summary = model.summary()
    assert "satisfaction index" in str(summary) and "<table" in summary._repr_html_()
    assert list(summary.to_frame().index) == list(ECSI_CONSTRUCTS)
    assert len(dict(summary.extra_tables)["Paths"]) == len(ECSI_PATHS)

    ipa = plot_importance_performance(drivers)
    assert list(ipa.data[0].text) == list(drivers.index)
    assert ipa.layout.shapes[0].x0 == pytest.approx(drivers["importance"].mean())
    assert ipa.layout.shapes[1].y0 == pytest.approx(drivers["performance"].mean())

    diagram = plot_path_diagram(model)
    nodes = next(t for t in diagram.data if t.name == "constructs")
    assert list(nodes.text) == list(ECSI_CONSTRUCTS)
    layer = dict(zip(nodes.text, nodes.x, strict=True))
    assert layer["image"] == 0 and layer["loyalty"] == 6  # image-exp-qual-value-sat-compl-loy
    labels = next(t for t in diagram.data if t.name == "path coefficients")
    assert f"{p.loc['quality', 'satisfaction']:.2f}" in labels.text
    assert len(diagram.layout.annotations) == len(ECSI_PATHS)

    sla = plot_sla_trend(pd.DataFrame({"week": [2, 1], "share": [0.8, 0.9]}), "week", "share",
                         target=0.85)
    assert list(sla.data[0].x) == [1, 2] and list(sla.data[0].y) == [0.9, 0.8]
    assert sla.layout.shapes[0].y0 == 0.85


# --- errors and warnings ------------------------------------------------------------------
@pytest.mark.parametrize(("make", "match"), [
    (lambda d: (small_model(), d.drop(columns="quality_3")),
     r"'quality_3' \(construct 'quality'\)"),
    (lambda d: (small_model(), d.assign(quality_2=d["quality_2"].where(d.index != 5, 11))),
     r"Item 'quality_2' has 1 score\(s\) outside its scale \[1, 10\]"),
    (lambda d: (small_model(), d.assign(satisfaction_1=4.0)),
     r"'satisfaction_1' .* is constant"),
    (lambda d: (small_model(), d.assign(quality_1=np.nan)), r"'quality_1' .* has no answers"),
    (lambda d: (SatisfactionIndex({**SMALL, "value": []}, [("quality", "satisfaction")]), d),
     r"Construct 'value' has no items"),
    (lambda d: (SatisfactionIndex(SMALL, [("quality", "loyalty")]), d),
     r"unknown construct 'loyalty'"),
    (lambda d: (SatisfactionIndex({"a": ["quality_1"], "b": ["quality_2"], "c": ["quality_3"]},
                                  [("a", "b"), ("b", "c"), ("c", "a")], target="a"), d),
     r"cycle"),
    (lambda d: (small_model(), d.head(25)), r"Only 25 complete responses .* at least 30"),
    (lambda d: (small_model(scheme="mode"), d), r"'scheme' parameter of SatisfactionIndex"),
    (lambda d: (small_model(target="loyalty"), d), r"'target' parameter"),
    (lambda d: (SatisfactionIndex(SMALL), d),
     r"Path \('image', 'expectations'\) names unknown construct 'image'.*pass paths="),
])
def test_clear_errors(make, match):
    model, data = make(small_data())
    with pytest.raises(InputError, match=match):
        model.fit(data)


def test_isolated_construct_and_default_minimum():
    data = small_data().assign(extra=np.arange(120) % 7)
    with pytest.raises(InputError, match="Construct 'other' is in no path"):
        SatisfactionIndex({**SMALL, "other": ["extra"]}, [("quality", "satisfaction")]).fit(data)
    with pytest.raises(InputError, match=r"Only 80 complete .* at least 90"):  # 18 items x 5
        SatisfactionIndex(scale=(-10, 10)).fit(simulate_ecsi(80, seed=0))


def test_warnings_and_not_fitted():
    with pytest.raises(NotFittedError):
        small_model().drivers()
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        small_model(max_iter=1).fit(small_data())
    with pytest.warns(DataQualityWarning, match=r"observed range \[1, 10\]"):
        small_model(scale=None).fit(small_data())
