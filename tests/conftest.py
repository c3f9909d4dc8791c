import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_collection_modifyitems(session, config, items):
    """tests/test_backends.py runs its work in subprocesses started with the session (see
    ``backend_jobs``); its tests go last, to collect the results while the rest ran."""
    items.sort(key=lambda item: item.module.__name__.endswith("test_backends"))


@pytest.fixture(scope="session", autouse=True)
def backend_jobs(request, tmp_path_factory):
    """The backend round trips of tests/test_backends.py, started when the session starts."""
    items = [item for item in request.session.items if item.module.__name__.endswith("test_backends")]
    if not items:
        yield {}
        return
    from test_backends import start_jobs

    pool, futures = start_jobs(items, tmp_path_factory)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)
