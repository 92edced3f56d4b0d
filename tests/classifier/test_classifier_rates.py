"""Error rates and calibrated probabilities measured against planted truth (synthetic scores, repeated seeds)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from classifier.calibration import METHODS, Calibration, choose, fit, log_loss
from classifier.error_rates import folds_of
from classifier.evaluate import reliability
from classifier.tail import cross_fitted

CLASSES = ["Acme", "Bolt"]
# Raw score = sigmoid(latent); latent ~ normal with these means (sd 1) per kind of photo and brand column.
MEANS = {"Acme": {"shows": 1.5, "nologo": -1.0, "other": -0.3}, "Bolt": {"shows": 1.0, "nologo": -1.2, "other": -0.6}}


def _world(rng: np.random.Generator, per_brand: int = 60, nologo: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Labels (N, 2) and raw scores (N, 2): photos of Acme, of Bolt and with no logo."""
    labels = np.concatenate(
        [np.tile([1, 0], (per_brand, 1)), np.tile([0, 1], (per_brand, 1)), np.zeros((nologo, 2))]
    ).astype(np.float32)
    latent = np.zeros(labels.shape)
    for col, brand in enumerate(CLASSES):
        shows = labels[:, col] > 0
        nothing = labels.sum(axis=1) == 0
        other = ~shows & ~nothing
        for mask, kind in ((shows, "shows"), (nothing, "nologo"), (other, "other")):
            latent[mask, col] = rng.normal(MEANS[brand][kind], 1.0, mask.sum())
    return labels, 1 / (1 + np.exp(-latent))


def _true_rate(brand: str, kind: str, raw_threshold: float) -> float:
    """P(score >= threshold) for that kind of photo, from the planted normal latent."""
    cut = np.log(raw_threshold / (1 - raw_threshold))
    return float(stats.norm.sf(cut, loc=MEANS[brand][kind]))


def _raw_threshold(calibration: Calibration, brand: str, threshold: float) -> float:
    """The raw score whose calibrated probability is `threshold` (calibration maps are increasing)."""
    grid = np.linspace(1e-4, 1 - 1e-4, 20001)
    mapped = calibration.apply(np.stack([grid, grid], axis=1), CLASSES)[:, CLASSES.index(brand)]
    return float(grid[np.searchsorted(mapped, threshold)])


def test_cross_fitted_rates_are_unbiased_and_their_intervals_cover_the_planted_truth():
    bias = {key: [] for key in ("recall", "fpr_nologo", "fpr_other")}
    covered, total = 0, 0
    for seed in range(60):
        labels, scores = _world(np.random.default_rng(seed))
        calibration, thresholds, counts, folds = cross_fitted(
            labels, scores, CLASSES, np.arange(len(labels)), len(labels), seed=seed
        )
        assert folds == 5
        for brand in CLASSES:
            c = counts[brand]
            assert c["positives"] == 60 and c["negatives"] == 180 and c["negatives_nologo"] == 120
            assert c["fp"] == c["fp_nologo"] + c["fp_other"]
            raw = _raw_threshold(calibration, brand, thresholds[brand])
            truth = {
                "recall": _true_rate(brand, "shows", raw),
                "fpr_nologo": _true_rate(brand, "nologo", raw),
                "fpr_other": _true_rate(brand, "other", raw),
            }
            measured = {
                "recall": c["tp"] / c["positives"],
                "fpr_nologo": c["fp_nologo"] / c["negatives_nologo"],
                "fpr_other": c["fp_other"] / c["negatives_other"],
            }
            for key in bias:
                bias[key].append(measured[key] - truth[key])
            # the reports' interval for recall: Beta(tp + 1, positives - tp + 1)
            low, high = stats.beta.ppf([0.025, 0.975], c["tp"] + 1, c["positives"] - c["tp"] + 1)
            covered += low <= truth["recall"] <= high
            total += 1
    for key, values in bias.items():
        assert abs(np.mean(values)) < 0.03, (key, np.mean(values))
    assert covered / total >= 0.85, covered / total


def test_rates_counted_on_the_photos_that_chose_the_thresholds_would_be_optimistic():
    """The reason for cross-fitting: the same photos choose and count, and the recall they report is higher."""
    gap = []
    for seed in range(30):
        labels, scores = _world(np.random.default_rng(100 + seed), per_brand=15, nologo=30)
        calibration, thresholds, counts, _ = cross_fitted(
            labels, scores, CLASSES, np.arange(len(labels)), len(labels), seed=seed
        )
        decided = calibration.apply(scores, CLASSES) >= np.array([thresholds[c] for c in CLASSES])
        in_sample = ((decided & (labels > 0)).sum() - (decided & (labels == 0)).sum()) / len(labels)
        crossed = sum(counts[b]["tp"] - counts[b]["fp"] for b in CLASSES) / len(labels)
        gap.append(in_sample - crossed)
    assert np.mean(gap) > 0, np.mean(gap)


def test_folds_spread_every_brand_evenly():
    labels, _ = _world(np.random.default_rng(0), per_brand=12, nologo=9)
    folds = folds_of(labels, 5, seed=3)
    for col in range(2):
        per_fold = np.bincount(folds[labels[:, col] > 0], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibrated_scores_are_reliable_on_a_miscalibrated_set(seed):
    rng = np.random.default_rng(seed)

    def draw(n):
        latent = rng.normal(0, 1.5, (n, 2))
        truth = 1 / (1 + np.exp(-latent))
        labels = (rng.uniform(size=(n, 2)) < truth).astype(np.float32)
        raw = 1 / (1 + np.exp(-(3 * latent + 1)))  # overconfident and shifted, like an overfit head
        return labels, raw

    labels, raw = draw(3000)
    calibration = choose(labels, raw, CLASSES, folds_of(labels, 5, seed))
    fresh_labels, fresh_raw = draw(20000)

    def worst_gap(scores):
        return max(abs(b["mean_score"] - b["observed"]) for b in reliability(fresh_labels, scores) if b["pairs"] >= 400)

    assert worst_gap(fresh_raw) > 0.1  # the planted miscalibration is visible
    assert worst_gap(calibration.apply(fresh_raw, CLASSES)) < 0.04
    losses = calibration.check["held_out_log_loss"]
    assert set(losses) == set(METHODS) and losses[calibration.method] < losses["identity"]


def test_calibration_keeps_the_order_of_scores_and_round_trips():
    rng = np.random.default_rng(5)
    labels = (rng.uniform(size=(200, 2)) < 0.3).astype(np.float32)
    raw = np.clip(labels * 0.4 + rng.uniform(0, 0.6, (200, 2)), 0, 1)
    for method in ("shared_platt", "platt", "isotonic"):
        calibration = fit(labels, raw, CLASSES, method)
        grid = np.linspace(0, 1, 101)
        mapped = calibration.apply(np.stack([grid, grid], axis=1), CLASSES)
        assert (np.diff(mapped, axis=0) > 0).all()  # strictly: photos keep their order, AP is unchanged
        assert 0 < mapped.min() and mapped.max() < 1  # never "certain"
        again = Calibration.from_dict(calibration.as_dict())
        np.testing.assert_allclose(again.apply(raw, CLASSES), calibration.apply(raw, CLASSES))
    assert Calibration.from_dict(None) is None and Calibration.from_dict({"method": "magic"}) is None


def test_with_few_photos_a_brand_calibration_does_not_make_good_scores_worse():
    """Seen on FlickrLogos (bench/calibration.py): ~4 validation photos a brand, raw scores already close; per-brand
    maps overfit (held-out log loss 0.091 Platt, 0.052 isotonic, raw 0.043), so simpler candidates must win."""
    rng = np.random.default_rng(7)
    brands = [f"B{i}" for i in range(27)]

    def draw(n):
        truth = 1 / (1 + np.exp(-rng.normal(-4.0, 2.0, (n, len(brands)))))  # rare brands, honest scores
        return (rng.uniform(size=truth.shape) < truth).astype(np.float32), truth

    labels, raw = draw(200)
    calibration = choose(labels, raw, brands, folds_of(labels, 5, 0))
    assert calibration.method in ("identity", "shared_platt"), calibration.check
    fresh_labels, fresh_raw = draw(5000)
    assert log_loss(fresh_labels, calibration.apply(fresh_raw, brands)) <= 1.03 * log_loss(fresh_labels, fresh_raw)
