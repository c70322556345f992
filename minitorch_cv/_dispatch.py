"""The functional layer as the ``nn`` classes see it: :mod:`minitorch_cv.functional`, or
the textbook version while a :func:`minitorch_cv.reference.use` block is active in this
thread (looked up at each call)."""

import functools

from . import functional as fast
from .reference.switch import TEXTBOOK, is_active

__all__ = ["functional"]


class _Functional:
    """:mod:`minitorch_cv.functional`, switching to the textbook inside ``use()``."""

    def __getattr__(self, name):
        function = getattr(fast, name)
        if name not in TEXTBOOK:
            return function

        @functools.wraps(function)
        def run(*args, **kwargs):          # both looked up at each call
            return (TEXTBOOK[name] if is_active() else getattr(fast, name))(*args, **kwargs)

        self.__dict__[name] = run          # built once per name
        return run

    def __dir__(self):
        return sorted(set(dir(fast)) | set(TEXTBOOK))

    def __repr__(self):
        return "<minitorch_cv.functional, or minitorch_cv.reference inside reference.use()>"


functional = _Functional()
