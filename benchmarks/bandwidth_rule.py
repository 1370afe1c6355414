"""Measure the cross-validated KernelDensity bandwidth against Scott's factor on standardised data.

The ratio spreads from about 0.2 (multimodal toy sets) to 1.3 (Gaussian data), so no fixed
multiple of Scott's factor serves: this is why ``bandwidth="auto"`` cross-validates the teacher
KDE on the data at hand instead. Run ``python benchmarks/bandwidth_rule.py [--threads N]`` (about
a minute on 2 cores); it prints its table and writes no page.
"""

import numpy as np
from sklearn.datasets import (load_breast_cancer, load_digits, load_iris, load_wine,
                              make_circles, make_moons)
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from report import make_parser, parse_args


def datasets():
    rs = np.random.RandomState(0)
    yield "moons (2000)", make_moons(2000, noise=0.1, random_state=0)[0]
    yield "moons (500)", make_moons(500, noise=0.1, random_state=0)[0]
    yield "circles (2000)", make_circles(2000, noise=0.05, factor=0.5, random_state=0)[0]
    yield "gaussian 2-D", rs.multivariate_normal([0, 0], [[2, 0.9], [0.9, 1]], 2000)
    yield "gaussian 5-D", rs.normal(size=(2000, 5))
    yield "iris", load_iris().data
    yield "wine", load_wine().data
    cancer = StandardScaler().fit_transform(load_breast_cancer().data)
    yield "breast cancer, PCA 5", PCA(5).fit_transform(cancer)
    yield "digits, PCA 10", PCA(10).fit_transform(load_digits().data)


def main(argv=None):
    parse_args(make_parser(__doc__, quick=False, seed=False, out=False), argv)
    ratios = []
    print(f"{'data':22s} {'n':>5s} {'d':>3s} {'scott':>6s} {'cv best':>8s} {'ratio':>6s}")
    for name, X in datasets():
        X = StandardScaler().fit_transform(X)
        n, d = X.shape
        scott = n ** (-1 / (d + 4))
        grid = GridSearchCV(KernelDensity(), {"bandwidth": scott * np.logspace(-1.3, 0.3, 25)}, cv=5)
        best = grid.fit(X).best_params_["bandwidth"]
        ratios.append(best / scott)
        print(f"{name:22s} {n:5d} {d:3d} {scott:6.3f} {best:8.3f} {best / scott:6.2f}")
    print(f"median ratio: {np.median(ratios):.2f}")


if __name__ == "__main__":
    main()
