"""Labelling in seeded tasks: the same labels for any n_jobs, joblib backend and rerun task."""

import os
import pickle

import numpy as np
import pytest
import torch
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV

from sklearn_diffgen import DiffusionSupervisedGenerator as DSG
from sklearn_diffgen import labeling
from sklearn_diffgen.density import SCORE_TASK_ROWS
from sklearn_diffgen.sampling import SAMPLE_TASK_ROWS
from sklearn_diffgen.labeling import LABEL_CHUNK, label_tasks, make_labels, make_labels_parallel
from sklearn_diffgen.schedules import SCHEDULES
from sklearn_diffgen.teacher import Teacher

from conftest import FAST

SCHED = SCHEDULES["paper"]


def _with_n_jobs(est, n_jobs):
    """The fitted model with another n_jobs (a copy: the fixture is shared)."""
    out = pickle.loads(pickle.dumps(est))
    return out.set_params(n_jobs=n_jobs)
N_LABELS = 2 * LABEL_CHUNK + 17  # three tasks, the last one short


@pytest.fixture(scope="module")
def teacher():
    x = torch.randn(300, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return Teacher(x, 0.3, 0.9)


@pytest.fixture(scope="module")
def local(teacher):
    return make_labels_parallel(teacher, N_LABELS, SCHED, 8, seed=5)


def test_each_task_is_make_labels_of_its_own_seed(teacher, local):
    z, lab = local
    start = 0
    for size, seed in label_tasks(N_LABELS, 5):
        zr, lr = make_labels(teacher, size, SCHED, 8, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(z[start:start + size], zr) and torch.equal(lab[start:start + size], lr)
        start += size
    assert start == N_LABELS


def test_labels_are_the_same_in_worker_processes(teacher, local):
    z, lab = make_labels_parallel(teacher, N_LABELS, SCHED, 8, seed=5, n_jobs=2)
    assert torch.equal(z, local[0]) and torch.equal(lab, local[1])


def test_fit_is_the_same_for_any_n_jobs(rng):
    X = rng.normal(size=(300, 2))
    kw = {**FAST, "n_labels": LABEL_CHUNK + 100}
    a, b = (DSG(n_jobs=n, random_state=0, **kw).fit(X) for n in (None, 2))
    np.testing.assert_array_equal(a.sample(50, random_state=1), b.sample(50, random_state=1))


@pytest.fixture(scope="module")
def scored():
    """A fitted model, rows for three scoring tasks, and their log-densities in this process."""
    rng = np.random.RandomState(0)
    est = DSG(random_state=0, **FAST).fit(rng.normal(size=(300, 2)))
    X = rng.normal(size=(2 * SCORE_TASK_ROWS + 10, 2))
    return est, X, est.score_samples(X)


def test_scoring_tasks_give_the_same_values_for_any_n_jobs_and_as_one_call(scored):
    est, X, ref = scored
    np.testing.assert_array_equal(_with_n_jobs(est, 2).score_samples(X), ref)
    # the tasks change nothing beyond rounding against one call over every row
    one = np.concatenate([est.score_samples(X[i:i + SCORE_TASK_ROWS]) for i in range(0, len(X), SCORE_TASK_ROWS)])
    np.testing.assert_array_equal(one, ref)
    alone = est.score_samples(X[:7])
    np.testing.assert_allclose(alone, ref[:7], rtol=0, atol=1e-9)


def test_sampling_tasks_give_the_rows_of_one_process(scored):
    est = scored[0]
    n = 2 * SAMPLE_TASK_ROWS + 100  # three tasks
    S = est.sample(n, random_state=3)
    np.testing.assert_array_equal(_with_n_jobs(est, 2).sample(n, random_state=3), S)
    # and the rows of the in-process path: sample(n) starts with sample(m)
    np.testing.assert_array_equal(S[:5000], est.sample(5000, random_state=3))


# ------------------------------------------------------------------------------ on Dask
distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed (extra 'dask')")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def test_labels_on_a_dask_cluster_equal_the_local_ones(client, teacher, local):
    with parallel_config(backend="dask"):
        z, lab = make_labels_parallel(teacher, N_LABELS, SCHED, 8, seed=5, n_jobs=-1)
    assert torch.equal(z, local[0]) and torch.equal(lab, local[1])


def test_a_worker_killed_while_labelling_changes_nothing(client, teacher, local, tmp_path, monkeypatch):
    marker, real = tmp_path / "killed", labeling._label_task
    second = label_tasks(N_LABELS, 5)[1][1]

    def dying(size, seed, **kw):  # pickled by value: runs on the workers
        if seed == second and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies in the middle of the labelling
        return real(size, seed, **kw)

    monkeypatch.setattr(labeling, "_label_task", dying)
    with parallel_config(backend="dask"):
        z, lab = make_labels_parallel(teacher, N_LABELS, SCHED, 8, seed=5, n_jobs=-1)
    assert marker.exists()  # the task did kill its worker, and Dask ran it again
    assert torch.equal(z, local[0]) and torch.equal(lab, local[1])


def test_scores_on_a_dask_cluster_equal_the_local_ones(client, scored):
    est, X, ref = scored
    with parallel_config(backend="dask"):
        np.testing.assert_array_equal(_with_n_jobs(est, -1).score_samples(X), ref)
        n = SAMPLE_TASK_ROWS + 10
        np.testing.assert_array_equal(_with_n_jobs(est, -1).sample(n, random_state=3), est.sample(n, random_state=3))


def test_grid_search_on_a_dask_cluster_equals_the_local_one(client, rng):
    X = rng.normal(size=(200, 2)) @ [[1.0, 0.5], [0.0, 1.0]]
    grid = {"bandwidth": [0.2, 0.6], "hidden_layer_sizes": [(16,), (32, 32)]}

    def search(n_jobs):
        return GridSearchCV(DSG(random_state=0, **FAST), grid, cv=2, n_jobs=n_jobs).fit(X)

    ref = search(None)
    with parallel_config(backend="dask"):
        out = search(-1)
    assert out.best_params_ == ref.best_params_
    np.testing.assert_array_equal(out.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"])
