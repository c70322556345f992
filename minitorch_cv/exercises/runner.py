"""Run a student's file in a separate Python process, with a time limit per call.

The grader never imports student code. It writes a *plan* -- the calls to make, with their
input arrays -- to a temporary folder and starts this file as a script (``python runner.py
FOLDER START``; it imports only the standard library and NumPy, to start fast), which imports
the student's file and writes each call's :class:`StepResult` as ``i.json`` and ``i.npz``
(never a pickle). A call that runs over its limit, exits or crashes costs one call: the
process is restarted after it (docs/exercises.md, "How the grader works").

Argument encoding in the plan (JSON)::

    {"a": "key"}       a fresh copy of array ``key`` of inputs.npz
    {"v": value}       a JSON value (int, float, str, bool, null)
    {"cache": "name"}  the second element returned by an earlier call (kept in the process)
    {"rng": seed}      numpy.random.default_rng(seed)
    {"module": expr}   a minitorch_cv Module built by ``expr`` (e.g. "nn.Linear(3, 4)")
"""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

__all__ = ["run_plan", "StepResult"]

#: Seconds a single call may take, unless the plan says otherwise.
DEFAULT_STEP_LIMIT = 10.0
#: Seconds the student's file may take to import.
IMPORT_LIMIT = 30.0
#: Seconds a new process may take to start Python and NumPy (a busy machine).
STARTUP_LIMIT = 120.0


class StepResult(dict):
    """What one call did: ``status`` ("ok", "not_implemented", "raised", "exit",
    "missing", "import_error", "refused", "timeout", "crashed", "not_run"), ``message``,
    ``printed``, ``mutated`` (indices of input arrays the call changed), ``elements`` (one
    description per returned value) and ``arrays`` (the returned arrays by name: ``out0``,
    ``out1``, ..., and ``arg3`` for inputs the plan asked to see after the call)."""

    @property
    def ok(self):
        return self.get("status") == "ok"


# ------------------------------------------------------------------------ grader side
def run_plan(module_path, steps, arrays, time_scale=1.0, max_restarts=3, watch_library=False):
    """Make the calls of ``steps`` (see the module docstring; a step may set its ``"limit"``
    in seconds, which ``time_scale`` multiplies) on the input ``arrays`` by name, on the
    student's file ``module_path`` in a subprocess; one :class:`StepResult` per step. The
    process is started again after a call that was killed or crashed, at most
    ``max_restarts`` times. ``watch_library`` refuses (status "refused") a call that runs the
    library's implementations or imports a framework (:mod:`.own_work`)."""
    from . import own_work  # grader side: the student's process never imports it
    results = [None] * len(steps)
    watch = own_work.watch_settings() if watch_library else None
    with tempfile.TemporaryDirectory(prefix="minitorch_cv_grade_") as folder:
        with open(os.path.join(folder, "plan.json"), "w") as f:
            json.dump({"module_path": os.path.abspath(str(module_path)), "steps": steps,
                       "watch": watch}, f)
        np.savez(os.path.join(folder, "inputs.npz"), **arrays)
        start, restarts = 0, 0
        while start < len(steps):
            stopped_at, (status, message) = _run_worker(folder, steps, start, time_scale)
            end = len(steps) if stopped_at is None else stopped_at
            results[start:end] = [_read_result(folder, i) for i in range(start, end)]
            if stopped_at is None:
                break
            # a file whose import does not finish fails every call alike
            last = len(steps) if status == "import_error" else stopped_at + 1
            results[stopped_at:last] = [StepResult(status=status, message=message)
                                        for _ in range(stopped_at, last)]
            start, restarts = last, restarts + 1
            if restarts > max_restarts:
                results[start:] = [StepResult(status="not_run", message="not run: the grader "
                                              f"gave up after {max_restarts + 1} calls were "
                                              "killed or crashed") for _ in results[start:]]
                break
    return results


def _run_worker(folder, steps, start, time_scale):
    """Run steps from ``start`` on; return (None, (None, None)) when all ran, else the index of
    the step that did not finish and (status, message)."""
    importing = os.path.join(folder, "importing")
    with contextlib.suppress(FileNotFoundError):
        os.remove(importing)                                # left by an earlier process
    with open(os.path.join(folder, "worker.log"), "w") as log:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), folder, str(start)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
                                start_new_session=os.name == "posix")
        phase, since = "startup", time.monotonic()
        try:
            while proc.poll() is None:
                time.sleep(0.01)
                running = _latest_started(folder, start, len(steps))
                if running is None:        # "import": Python and NumPy are up
                    running = "import" if os.path.exists(importing) else "startup"
                if running != phase:
                    phase, since = running, time.monotonic()
                limit = STARTUP_LIMIT if phase == "startup" else time_scale * (
                    IMPORT_LIMIT if phase == "import" else steps[phase].get("limit",
                                                                            DEFAULT_STEP_LIMIT))
                if time.monotonic() - since > limit:
                    _kill(proc)
                    if phase in ("startup", "import"):
                        return start, ("import_error", ("importing your file did not finish "
                                       f"within {limit:.0f} s (an infinite loop at import?)"))
                    return phase, ("timeout", (f"did not finish within {limit:.0f} s "
                                   "(an infinite loop? the call was stopped)"))
        finally:
            if proc.poll() is None:
                _kill(proc)
    missing = [i for i in range(start, len(steps))
               if not os.path.exists(os.path.join(folder, f"{i}.json"))]
    if not missing:
        return None, (None, None)
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        why = f"the Python process running your code died ({name})"
    else:
        why = (f"the Python process running your code exited (status {proc.returncode}) "
               "in the middle of the call (os._exit?)")
    return missing[0], ("crashed", why)


def _kill(proc):
    """Stop the student's process and anything it started (its own session on POSIX)."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.kill()                                 # no-op for a process already gone
    proc.wait()


def _latest_started(folder, start, n):
    """The last step from ``start`` on that has started (None: none has)."""
    i = start
    while i < n and os.path.exists(os.path.join(folder, f"{i}.start")):
        i += 1
    return i - 1 if i > start else None


def _read_result(folder, i):
    with open(os.path.join(folder, f"{i}.json")) as f:
        result = StepResult(json.load(f), arrays={})
    path = os.path.join(folder, f"{i}.npz")
    if os.path.exists(path):
        with np.load(path, allow_pickle=False) as data:
            result["arrays"] = {k: data[k] for k in data.files}
    return result


# ------------------------------------------------------------------------ student side
def _describe_error(exc, module_path):
    """'TypeError: ... (line 12, in conv2d_forward: out = x @ w)': the error and the last
    frame in the student's file."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(f.filename) == module_path]
    where = ""
    if frames:
        f = frames[-1]
        where = f" (line {f.lineno}, in {f.name}: {f.line})" if f.line else f" (line {f.lineno})"
    return f"{type(exc).__name__}: {exc}"[:500] + where


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def _describe(value):
    if isinstance(value, np.ndarray):
        return {"kind": "array", "shape": list(value.shape), "dtype": str(value.dtype)}
    if value is None:
        return {"kind": "none"}
    return {"kind": "scalar" if _is_number(value) else "other", "type": type(value).__name__}


class _Worker:
    def __init__(self, folder):
        self.folder = folder
        with open(os.path.join(folder, "plan.json")) as f:
            plan = json.load(f)
        self.module_path = plan["module_path"]
        self.steps = plan["steps"]
        self.inputs = np.load(os.path.join(folder, "inputs.npz"), allow_pickle=False)
        self.caches = {}
        self.watch = plan.get("watch")
        self.ran_library = None

    def _trace(self, frame, event, arg):
        """sys.settrace hook while a student's call runs: notes the first library function
        it runs that is not Module mechanics or a permitted helper."""
        name = frame.f_code.co_filename
        if (event == "call" and self.ran_library is None and name.startswith(
                self.watch["package"]) and not name.startswith(tuple(self.watch["allowed"]))):
            self.ran_library = os.path.relpath(name, os.path.dirname(self.watch["package"]))

    def _framework_loaded(self):
        frameworks = self.watch["frameworks"] if self.watch else ()
        return next((f for f in frameworks if f in sys.modules), None)

    def import_student(self):
        """Import the student's file; the result of every call if that fails."""
        import importlib.util
        printed = io.StringIO()
        sys.path.insert(0, os.path.dirname(self.module_path))   # the student's own helpers
        open(os.path.join(self.folder, "importing"), "w").close()
        try:
            spec = importlib.util.spec_from_file_location("student_exercise", self.module_path)
            module = importlib.util.module_from_spec(spec)
            with contextlib.redirect_stdout(printed):
                spec.loader.exec_module(module)
        except BaseException as exc:                    # noqa: BLE001 -- student code
            message = f"your file could not be imported: {_describe_error(exc, self.module_path)}"
            if isinstance(exc, FileNotFoundError) and not os.path.exists(self.module_path):
                message = f"no file {self.module_path}"
            return {"status": "import_error", "message": message}
        framework = self._framework_loaded()
        if framework:
            return {"message": f"your file imports {framework}: not graded, write the "
                    "functions yourself with NumPy", "status": "refused"}
        self.module, self.import_printed = module, printed.getvalue()
        return None

    def argument(self, spec):
        if "a" in spec:
            return np.array(self.inputs[spec["a"]], copy=True)
        if "v" in spec:
            return spec["v"]
        if "rng" in spec:
            return np.random.default_rng(spec["rng"])
        if "cache" in spec:
            return self.caches[spec["cache"]]        # KeyError: the earlier call failed
        if "module" in spec:
            from minitorch_cv import models, nn
            return eval(spec["module"], {"nn": nn, "models": models})   # the grader's text
        raise ValueError(f"bad argument {spec}")

    def run(self, start):
        failed = self.import_student()         # a file that does not import fails every call
        for i in range(start, len(self.steps)):
            open(os.path.join(self.folder, f"{i}.start"), "w").close()
            result, arrays = (dict(failed), {}) if failed else self.step(self.steps[i])
            if i == start and not failed and self.import_printed:
                result["printed"] = self.import_printed + result.get("printed", "")
            self._write(str(i), result, arrays)

    def step(self, step):
        """Make one call of the plan: (result, arrays) as described in :class:`StepResult`."""
        function = getattr(self.module, step["function"], None)
        if not callable(function):
            return {"status": "missing",
                    "message": f"your file has no function {step['function']}"}, {}
        try:
            args = [self.argument(a) for a in step.get("args", [])]
            kwargs = {k: self.argument(a) for k, a in step.get("kwargs", {}).items()}
        except LookupError as missing:
            return {"status": "not_run", "message": "not run: the call it continues "
                    f"({missing.args[0]}) did not return a result"}, {}
        before = [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]
        printed = io.StringIO()
        np.random.seed(1234)
        rng_state = np.random.get_state()[1].copy()
        failed, value = None, None
        try:
            with contextlib.redirect_stdout(printed):
                if self.watch:                      # the library's calls are watched
                    sys.settrace(self._trace)
                if step.get("kind") == "numgrad":
                    value = self.numerical_gradient(function, args, kwargs, step)
                else:
                    value = function(*args, **kwargs)
        except NotImplementedError:
            failed = {"status": "not_implemented",
                      "message": "not implemented (raises NotImplementedError)"}
        except SystemExit as exc:
            failed = {"status": "exit", "message": f"called sys.exit({exc.code!r}); a "
                      "function must return its result"}
        except BaseException as exc:                      # noqa: BLE001 -- student code
            failed = {"status": "raised",
                      "message": "raised " + _describe_error(exc, self.module_path)}
        finally:
            sys.settrace(None)
        refused = self._refusal()
        if refused or failed:
            return dict(refused or failed, printed=printed.getvalue()[:2000]), {}
        result = {"status": "ok", "printed": printed.getvalue()[:2000],
                  "global_rng_used": bool(np.any(np.random.get_state()[1] != rng_state)),
                  "mutated": [i for i, (a, b) in enumerate(zip(args, before)) if b is not None
                              and (a.shape != b.shape or not np.array_equal(a, b,
                                                                            equal_nan=True))]}
        return result, self._returned(value, args, step, result)

    def _returned(self, value, args, step, result):
        """Describe what the call returned into ``result``; the arrays to send back (the
        cache of a call whose plan says ``keep`` stays in this process)."""
        values = value if isinstance(value, tuple) else (value,)
        result["returned"] = (f"a tuple of {len(value)}" if isinstance(value, tuple)
                              else f"a {type(value).__name__}")
        result["elements"] = [_describe(v) for v in values]
        keep = step.get("keep") if isinstance(value, tuple) else None
        if keep and len(value) == 2:
            self.caches[keep] = value[1]
        arrays = {f"out{k}": np.asarray(v) for k, v in enumerate(values)
                  if not (keep and k == 1)                # the cache stays here
                  and ((isinstance(v, np.ndarray) and v.dtype != object) or _is_number(v))}
        arrays.update({f"arg{k}": args[k] for k in step.get("report_args", [])
                       if isinstance(args[k], np.ndarray)})
        return arrays

    def _refusal(self):
        """The result of a call that used the library's implementations, else None."""
        framework = self._framework_loaded()
        if self.ran_library is None and framework is None:
            return None
        used = (f"it ran the library's {self.ran_library}" if self.ran_library
                else f"it imported {framework}")
        return {"status": "refused", "message": (
            f"not graded: your solution uses the library's implementations or a framework "
            f"({used}). Write the functions yourself with NumPy")}

    def numerical_gradient(self, function, args, kwargs, step):
        """Central differences of sum(out * dout) with respect to the args in ``wrt``."""
        dout = np.asarray(self.inputs[step["dout"]], dtype=np.float64)
        eps = step.get("eps", 1e-6)

        def loss():
            value = function(*args, **kwargs)
            out = value[0] if step.get("output") == "pair" else value
            return np.asarray(out, dtype=np.float64).copy()

        grads = []
        for k in step["wrt"]:
            flat = args[k].reshape(-1)
            grad = np.empty(flat.size)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                plus = loss()
                flat[i] = old - eps
                minus = loss()
                flat[i] = old
                grad[i] = np.sum((plus - minus) * dout) / (2 * eps)
            grads.append(grad.reshape(args[k].shape))
        return tuple(grads)

    def _write(self, name, result, arrays=None):
        if arrays:
            np.savez(os.path.join(self.folder, f"{name}.npz"), **arrays)
        path = os.path.join(self.folder, f"{name}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(result, f)
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    _Worker(sys.argv[1]).run(int(sys.argv[2]))
