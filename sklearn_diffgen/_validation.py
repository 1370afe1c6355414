"""Checks and resolvers that the package's estimators share: random states, sample counts, devices, threads,
joblib tasks, atomic fits."""

from __future__ import annotations

import contextlib
import functools
from numbers import Integral

import numpy as np
import torch
from joblib import Parallel, delayed, effective_n_jobs
from joblib.parallel import get_active_backend
from sklearn.base import clone
from sklearn.utils import check_random_state

__all__ = ["check_random_state_fresh", "seeded_clone", "torch_generator", "check_n_samples", "resolve_device",
           "resolve_n_threads", "torch_threads", "run_tasks", "keep_state_on_error", "SEED_MAX"]

#: Seeds drawn for torch generators and wrapped estimators lie in [0, SEED_MAX).
SEED_MAX = np.iinfo(np.int32).max


def check_random_state_fresh(random_state) -> np.random.RandomState:
    """:func:`~sklearn.utils.check_random_state`, except that None draws fresh OS entropy.

    scikit-learn's None uses (and advances) numpy's global RandomState; this leaves it alone.

    Examples
    --------
    >>> state = np.random.get_state()[1].copy()
    >>> _ = check_random_state_fresh(None).rand()
    >>> bool((np.random.get_state()[1] == state).all())
    True
    """
    if random_state is None:
        return np.random.RandomState(np.random.default_rng().integers(2**32))
    return check_random_state(random_state)


def seeded_clone(estimator, rng: np.random.RandomState):
    """A clone of ``estimator`` whose ``random_state`` parameter, if it has one, is drawn from ``rng``
    (which is left untouched otherwise).

    Examples
    --------
    >>> from sklearn.mixture import GaussianMixture
    >>> seeded_clone(GaussianMixture(), np.random.RandomState(0)).random_state
    209652396
    """
    est = clone(estimator)
    if "random_state" in est.get_params():
        est.set_params(random_state=int(rng.randint(SEED_MAX)))
    return est


def torch_generator(random_state) -> torch.Generator:
    """A CPU torch generator seeded from ``random_state`` (see :func:`check_random_state_fresh`).

    Examples
    --------
    >>> bool(torch.equal(torch.rand(2, generator=torch_generator(0)), torch.rand(2, generator=torch_generator(0))))
    True
    """
    return torch.Generator().manual_seed(int(check_random_state_fresh(random_state).randint(SEED_MAX)))


def check_n_samples(n_samples) -> int:
    """``n_samples`` as an int, or a ValueError unless it is a positive integer (bools refused).

    Examples
    --------
    >>> check_n_samples(3)
    3
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    return int(n_samples)


def resolve_device(device) -> torch.device:
    """The torch device of a ``device`` parameter: ``"auto"`` is CUDA when available, else the CPU.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: only 'cpu' and 'cuda' devices are supported")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    return dev


def resolve_n_threads(n_jobs) -> int:
    """Threads for the parallel work of a call: ``n_jobs`` as joblib reads it, within torch's limit.

    None is 1, unless a :func:`joblib.parallel_config` context sets ``n_jobs``; -1 is every
    core. The count never exceeds :func:`torch.get_num_threads` as it stands when the call
    starts: the limit that ``OMP_NUM_THREADS``, :func:`torch.set_num_threads` or joblib (in
    its workers) has set.

    Examples
    --------
    >>> resolve_n_threads(None), resolve_n_threads(1)
    (1, 1)
    >>> resolve_n_threads(-1) == torch.get_num_threads()
    True
    """
    return max(1, min(int(effective_n_jobs(n_jobs)), torch.get_num_threads()))


@contextlib.contextmanager
def torch_threads(n_threads: int):
    """Set torch's intra-op thread count for the span of a ``with`` block, then restore it.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _on_one_thread(func, *args, **kwargs):
    with torch_threads(1):
        return func(*args, **kwargs)


def _scattered(value, n_jobs):
    """``value`` scattered to every worker once (a copy on each, so that a worker that dies takes
    none with it) when joblib's Dask backend will run the tasks; else ``value`` itself."""
    backend, default_n_jobs = get_active_backend()
    n_jobs = default_n_jobs if n_jobs is None else n_jobs
    if type(backend).__name__ == "DaskDistributedBackend" and backend.effective_n_jobs(n_jobs) != 1:
        return backend.client.scatter(value, broadcast=True, hash=False)
    return value


def run_tasks(func, tasks, *, n_jobs=None, shared=None, in_process=False):
    """``func(*task, **shared)`` for each task, in order, each on one torch thread, as a generator.

    The tasks go through ``joblib.Parallel(n_jobs=n_jobs)``: in this process for None (unless a
    :func:`joblib.parallel_config` context says otherwise), in worker processes, or on a Dask
    cluster's workers under ``parallel_config(backend="dask")``, where the ``shared`` keyword
    arguments are sent to every worker once rather than with each task. One thread a task
    makes the results the same wherever they run. ``in_process`` runs them here without
    joblib (work on a GPU).

    Examples
    --------
    >>> list(run_tasks(pow, [(2, 3), (3, 2)]))
    [8, 9]
    >>> list(run_tasks(lambda a, b: a - b, [(5,), (7,)], shared={"b": 1}, n_jobs=2))
    [4, 6]
    """
    shared = dict(shared or {})
    if in_process:
        return (_on_one_thread(func, *task, **shared) for task in tasks)
    shared = {key: _scattered(value, n_jobs) for key, value in shared.items()}
    return Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_on_one_thread)(func, *task, **shared) for task in tasks)


def keep_state_on_error(fit):
    """Decorate ``fit`` so that, when it raises (or is interrupted), the estimator is as it was.

    The estimator's attributes are restored to those it had before the call: a fitted model
    keeps its old fitted state, an unfitted one stays unfitted.

    Examples
    --------
    >>> class Est:
    ...     @keep_state_on_error
    ...     def fit(self, fail):
    ...         self.coef_ = 1
    ...         if fail:
    ...             raise ValueError("bad")
    ...         return self
    >>> est = Est()
    >>> try:
    ...     est.fit(fail=True)
    ... except ValueError:
    ...     pass
    >>> hasattr(est, "coef_")
    False
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        before = dict(vars(self))
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    return wrapper
