import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _xdist(config) -> bool:
    """True in a pytest-xdist worker and in its controller (``-n N``, N > 0)."""
    return bool(os.environ.get("PYTEST_XDIST_WORKER") or getattr(config.option, "numprocesses", None))


def pytest_collection_modifyitems(session, config, items):
    """tests/test_backends.py runs its work in subprocesses (see ``backend_jobs``). In one process,
    they start with the session and the module's tests go last, to collect the results while the
    rest ran. Under pytest-xdist (the default, ``-n 2 --dist loadfile`` in pyproject.toml) the module
    goes first, so that the worker it lands on starts them at once and the other worker runs the
    rest of the suite meanwhile."""
    items.sort(key=lambda item: item.module.__name__.endswith("test_backends") != _xdist(config))


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
