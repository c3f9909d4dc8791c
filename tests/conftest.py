import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _xdist(config) -> bool:
    """True in a pytest-xdist worker and in its controller (``-n N``, N > 0)."""
    return bool(os.environ.get("PYTEST_XDIST_WORKER") or getattr(config.option, "numprocesses", None))


#: Modules in decreasing order of their serial run time (seconds measured 2026-11-26 on the 2-core
#: machine, `pytest -n 0 --durations=0`; tests/test_backends.py's subprocesses about 650 CPU-s).
#: Only a scheduling hint: under pytest-xdist each module is one unit of work (``--dist loadfile``),
#: handed out in collection order (``--no-loadscope-reorder`` in pyproject.toml), so the longest go
#: first and the last unit is a short one. A module not listed goes after these, in file order.
LONGEST_FIRST = ("test_backends", "test_weights_equivalence", "test_runner", "test_zoo_core", "test_compare_bench",
                 "test_compare_ray", "test_cards", "test_depth", "test_zoo_googlenet_resnet", "test_reports",
                 "test_train_aux", "test_compare_run_cli", "test_zoo_alexnet_zfnet_vgg", "test_compare_eval")


def _rank(item) -> int:
    name = item.module.__name__.rsplit(".", 1)[-1]
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(session, config, items):
    """tests/test_backends.py runs its work in subprocesses (see ``backend_jobs``). In one process,
    they start with the session and the module's tests go last, to collect the results while the
    rest ran. Under pytest-xdist (the default, ``-n 2 --dist loadfile --no-loadscope-reorder`` in
    pyproject.toml) modules go longest first (``LONGEST_FIRST``): the worker that takes
    test_backends starts its subprocesses at once, and the other worker runs the rest meanwhile."""
    if _xdist(config):
        items.sort(key=_rank)
    else:
        items.sort(key=lambda item: item.module.__name__.endswith("test_backends"))


@pytest.fixture(scope="session", autouse=True)
def backend_jobs(request, tmp_path_factory):
    """The backend round trips of tests/test_backends.py, started when the session starts; under
    pytest-xdist only by the worker that runs that module (every worker collects every test)."""
    items = [item for item in request.session.items if item.module.__name__.endswith("test_backends")]
    if not items or _xdist(request.config):
        yield {}
        return
    from test_backends import start_jobs

    pool, futures = start_jobs(items, tmp_path_factory)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def _step_traces(monkeypatch, step: str) -> list[str]:
    """The names of the models whose ``step`` (``train_step``, ``predict_step``) TensorFlow traced
    during the test, in order (Keras runs a step's Python only while TensorFlow traces it)."""
    import keras

    traces = []
    method = getattr(keras.Model, step)
    monkeypatch.setattr(keras.Model, step, lambda self, data: traces.append(self.name) or method(self, data))
    return traces


@pytest.fixture
def train_step_traces(monkeypatch) -> list[str]:
    return _step_traces(monkeypatch, "train_step")


@pytest.fixture
def predict_step_traces(monkeypatch) -> list[str]:
    return _step_traces(monkeypatch, "predict_step")


@pytest.fixture
def ctrl_c_as_begun(monkeypatch):
    """``arm(when)``: Ctrl-C (a KeyboardInterrupt) comes right after the store writes the ``running``
    row of the first trial whose config satisfies ``when``, before the loop that asked for it
    learns its id: the narrowest window a user's Ctrl-C can hit."""
    from compare.store import Store

    def arm(when=lambda cfg: True) -> None:
        real = Store.begin

        def begin(self, config):
            trial_id = real(self, config)
            if when(config):
                monkeypatch.setattr(Store, "begin", real)
                raise KeyboardInterrupt
            return trial_id

        monkeypatch.setattr(Store, "begin", begin)

    return arm
