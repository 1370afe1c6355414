"""Fit time with default parameters on 2,000 rows of two moons, next to KernelDensity and GaussianMixture.

Prints the median of ``--repeats`` fits with its breakdown (bandwidth selection, labelling,
generator and inverse training), and the peers' tuned fit times measured in the same run, as
ratios. Run: ``python benchmarks/fit_time.py`` (about a minute on 2 cores).
"""

import argparse
import time

import numpy as np
from sklearn.datasets import make_moons
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity

from sklearn_diffgen import DiffusionSupervisedGenerator


def timed(make):
    start = time.perf_counter()
    est = make()
    return time.perf_counter() - start, est


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X, _ = make_moons(4000, noise=0.1, random_state=0)
    X_train, X_test = X[:2000], X[2000:]

    rows = []
    for seed in range(args.repeats):
        total, est = timed(lambda: DiffusionSupervisedGenerator(random_state=seed).fit(X_train))
        t = est.fit_times_
        rows.append((total, t["bandwidth"], t["labelling"], t["training"], t["inverse"],
                     est.n_iter_, est.score(X_test)))
    rows = np.array(rows)
    med = np.median(rows, axis=0)
    t_kde, kde = timed(lambda: GridSearchCV(KernelDensity(),
                                            {"bandwidth": np.logspace(-2, 0, 20)}).fit(X_train))
    t_gmm, gmm = timed(lambda: GridSearchCV(GaussianMixture(random_state=0),
                                            {"n_components": [1, 2, 4, 8, 16, 32]}).fit(X_train))

    print(f"two moons, 2,000 train / 2,000 test rows, median of {args.repeats} fits")
    print(f"  DiffusionSupervisedGenerator() fit   {med[0]:6.1f} s  (bandwidth CV {med[1]:.1f}, labelling "
          f"{med[2]:.1f}, generator {med[3]:.1f} in {med[5]:.0f} epochs, inverse {med[4]:.1f})")
    print(f"  held-out log-likelihood              {med[6]:7.3f}  (range {rows[:, 6].min():.3f} .. "
          f"{rows[:, 6].max():.3f})")
    print(f"  KernelDensity, GridSearchCV(20)      {t_kde:6.1f} s  ratio {med[0] / t_kde:5.1f}x   "
          f"log-lik {kde.best_estimator_.score(X_test) / len(X_test):7.3f}")
    print(f"  GaussianMixture, GridSearchCV(6)     {t_gmm:6.1f} s  ratio {med[0] / t_gmm:5.1f}x   "
          f"log-lik {gmm.best_estimator_.score(X_test):7.3f}")


if __name__ == "__main__":
    main()
