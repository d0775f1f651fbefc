"""The batched sweep against a loop of scikit-learn fits on the same embeddings.

Synthetic embeddings shaped like a foundation model's (a mean offset, a 128-dim latent
part with a power-law spectrum, isotropic noise) with a weak class signal; 11 per-class
budgets × 5 seeds of training sets, one shared test set. Baselines, measured in the same
run on the same float32 arrays:

- logreg: ``LogisticRegression(C=1, max_iter=1000)`` (default lbfgs, ``tol=1e-4``) fitted
  and applied fit by fit. BLAS is limited to one thread by default (``--sklearn-threads 1``):
  on a 2-core machine scikit-learn's default threading makes this loop several times
  slower, which would flatter the ratio; ``--sklearn-threads 0`` measures that default.
- knn: ``KNeighborsClassifier(n_neighbors=20, metric="cosine", algorithm="brute")``.

Printed per dimension: both times, their ratio (loop / batched), and the largest
difference over all fits of balanced accuracy and AUROC (and of any probability).
``--converged`` also times a loop with ``tol=1e-8`` on float64 copies of the embeddings
(on float32 input lbfgs stalls at float32 precision, far from the optimum): the optimum
both should reach, so its "prob" column is the batched solver's own error.

    python bench/bench_sweep.py [--quick] [--dims 1024 2560] [--cells 15000] [--sklearn-threads 1]
"""

from __future__ import annotations

import argparse
import time
import warnings
from contextlib import nullcontext

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

from mitoviz.evaluate.classifiers import KNeighborsCappedWarning
from mitoviz.evaluate.metrics import binary_metrics_many
from mitoviz.evaluate.sweep import sweep

BUDGETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000)


def embeddings(n: int, dim: int, signal: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    rank = min(128, dim)
    spectrum = 1.0 / np.sqrt(1.0 + np.arange(rank))
    mixing = rng.standard_normal((rank, dim)) / np.sqrt(dim) * 8.0
    latent = rng.standard_normal((n, rank)) * spectrum
    shift = rng.standard_normal(rank) * spectrum
    latent += y[:, None] * shift * (signal / np.linalg.norm(shift))
    X = latent @ mixing + 0.3 * rng.standard_normal((n, dim)) + 0.5
    return X.astype(np.float32), y


def train_sets(y: np.ndarray, pool: np.ndarray, budgets: tuple[int, ...], seeds: int) -> list[np.ndarray]:
    sets = []
    pos, neg = pool[y[pool] == 1], pool[y[pool] == 0]
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        for k in budgets:
            sets.append(
                np.concatenate(
                    [
                        rng.choice(pos, min(k, pos.size), replace=False),
                        rng.choice(neg, min(k, neg.size), replace=False),
                    ]
                )
            )
    return sets


def sklearn_loop(make, X, y, sets, test, threads: int) -> tuple[np.ndarray, float]:
    limit = threadpool_limits(threads) if threads > 0 else nullcontext()
    out = []
    t0 = time.perf_counter()
    with limit, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tr in sets:
            out.append(make(tr.size).fit(X[tr], y[tr]).predict_proba(X[test])[:, 1])
    return np.array(out), time.perf_counter() - t0


def compare(
    name: str, y_test: np.ndarray, ref: np.ndarray, t_ref: float, ours: np.ndarray, t_ours: float
) -> None:
    a, b = binary_metrics_many(y_test, ref), binary_metrics_many(y_test, ours)
    d_bacc = float(np.nanmax(np.abs(a["balanced_accuracy"] - b["balanced_accuracy"])))
    d_auc = float(np.nanmax(np.abs(a["auroc"] - b["auroc"])))
    d_p = float(np.abs(ref - ours).max())
    print(
        f"  {name:<28} loop {t_ref:7.2f} s | batched {t_ours:6.2f} s | ratio {t_ref / t_ours:6.1f}x | "
        f"max |Δ| bal.acc {d_bacc:.4f}, AUROC {d_auc:.4f}, prob {d_p:.4f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    parser.add_argument("--dims", type=int, nargs="+", default=[1024, 2560])
    parser.add_argument("--cells", type=int, default=15000)
    parser.add_argument("--test", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--signal", type=float, default=0.4, help="class mean shift in latent SD units")
    parser.add_argument(
        "--sklearn-threads", type=int, default=1, help="BLAS threads of the loop; 0 = default"
    )
    parser.add_argument("--converged", action="store_true", help="also time a tol=1e-8 scikit-learn loop")
    parser.add_argument("--skip-knn", action="store_true")
    args = parser.parse_args()
    budgets = BUDGETS
    if args.quick:
        args.dims, args.cells, args.test, args.seeds = [64, 300], 2000, 400, 2
        budgets = (1, 5, 25, 100, 400)

    for dim in args.dims:
        X, y = embeddings(args.cells, dim, args.signal)
        order = np.random.default_rng(7).permutation(args.cells)
        test, pool = order[: args.test], order[args.test :]
        sets = train_sets(y, pool, budgets, args.seeds)
        y_test = y[test]
        print(
            f"d = {dim}: {args.cells} cells, {len(sets)} fits ({len(budgets)} budgets × {args.seeds} seeds, "
            f"{min(s.size for s in sets)}–{max(s.size for s in sets)} training cells), {test.size} test cells",
            flush=True,
        )
        sweep(X, y, sets[:2], test[:10], "logreg")  # warm-up: imports, thread pools

        ref, t_ref = sklearn_loop(
            lambda n: LogisticRegression(C=1.0, max_iter=1000), X, y, sets, test, args.sklearn_threads
        )
        t0 = time.perf_counter()
        ours = sweep(X, y, sets, test, "logreg")
        t_ours = time.perf_counter() - t0
        compare("logreg vs sklearn loop", y_test, ref, t_ref, ours, t_ours)
        if args.converged:
            tight, t_tight = sklearn_loop(
                lambda n: LogisticRegression(C=1.0, max_iter=100000, tol=1e-8),
                X.astype(np.float64),
                y,
                sets,
                test,
                args.sklearn_threads,
            )
            compare("logreg vs converged loop", y_test, tight, t_tight, ours, t_ours)

        if not args.skip_knn:
            knn = lambda n: KNeighborsClassifier(n_neighbors=min(20, n), metric="cosine", algorithm="brute")  # noqa: E731
            ref, t_ref = sklearn_loop(knn, X, y, sets, test, args.sklearn_threads)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", KNeighborsCappedWarning)
                ours = sweep(X, y, sets, test, "knn", {"n_neighbors": 20})
            t_ours = time.perf_counter() - t0
            compare("knn (cosine, k=20)", y_test, ref, t_ref, ours, t_ours)


if __name__ == "__main__":
    main()
