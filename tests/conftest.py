"""Shared fixtures."""

import pytest


@pytest.fixture(scope="module")
def one_library_thread():
    """Run this library's layers in the calling thread only (MINITORCH_CV_NUM_THREADS=1).

    For test modules full of tiny arrays: handing each one to a worker thread costs more
    than the work. test_kernels.py checks that any thread count gives the same numbers.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINITORCH_CV_NUM_THREADS", "1")
        yield
