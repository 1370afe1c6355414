"""Pickle and joblib round trips, and loading a CUDA-fitted model where CUDA is absent."""

import pickle
from unittest import mock

import joblib
import numpy as np
import pytest
import torch

from sklearn_diffgen import DiffusionSupervisedGenerator as DSG

from conftest import FAST


@pytest.fixture(scope="module")
def est():
    X = np.random.RandomState(0).normal(size=(300, 3))
    return DSG(random_state=0, **FAST).fit(X), X


def test_pickle_round_trip(est):
    model, X = est
    back = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(back.sample(20, random_state=1), model.sample(20, random_state=1))
    np.testing.assert_array_equal(back.score_samples(X[:10]), model.score_samples(X[:10]))
    assert isinstance(back.generator_, torch.nn.Module) and back.device_ == model.device_
    # the anchors are not stored but rebuilt from the generator and their seed, to the bit
    assert torch.equal(back.anchors_.x, model.anchors_.x) and torch.equal(back.anchors_.z, model.anchors_.z)


def test_joblib_round_trip(est, tmp_path):
    model, X = est
    joblib.dump(model, tmp_path / "m.joblib")
    back = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(back.sample(20, random_state=1), model.sample(20, random_state=1))
    np.testing.assert_array_equal(back.score_samples(X[:10]), model.score_samples(X[:10]))


def test_pickle_holds_no_live_modules(est):
    state = est[0].__getstate__()
    assert isinstance(state["generator_"], dict) and isinstance(state["device_"], str)
    assert state["anchors_"] == {"seed": est[0].anchors_.seed, "n": est[0].anchors_.z.shape[0]}
    assert all(t.device.type == "cpu" for t in state["generator_"]["state_dict"].values())


def test_cuda_fitted_model_loads_on_cpu_only_machine(est):
    model, X = est
    state = model.__getstate__()
    state["device_"] = "cuda:0"  # as written by a model fitted on a GPU
    with mock.patch("torch.cuda.is_available", return_value=False):
        back = DSG.__new__(DSG)
        with pytest.warns(UserWarning, match="CUDA is not available"):
            back.__setstate__(state)
    assert back.device_ == torch.device("cpu")
    np.testing.assert_array_equal(back.sample(20, random_state=1), model.sample(20, random_state=1))
    np.testing.assert_array_equal(back.score_samples(X[:10]), model.score_samples(X[:10]))
