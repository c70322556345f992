"""The functional layer as the ``nn`` classes see it: fast, or textbook inside
:func:`minitorch_cv.reference.use`.

``functional.conv2d_forward(...)`` here calls
:data:`minitorch_cv.reference.switch.TEXTBOOK` ``["conv2d_forward"]`` while a ``use()``
block is active in this thread, and :func:`minitorch_cv.functional.conv2d_forward`
otherwise (looked up at each call). Both have one signature, so nothing is adapted.
"""

import functools

from . import functional as fast
from .reference.switch import TEXTBOOK, is_active

__all__ = ["functional"]


class _Functional:
    """:mod:`minitorch_cv.functional`, where a function with a textbook version runs that
    version inside a :func:`~minitorch_cv.reference.use` block."""

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
