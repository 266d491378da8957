"""Workloads that misbehave on purpose, for the runner's tests."""

import os
import signal
import time

import numpy as np

from labench import Kernel, Param, Workload, implementation


class Doubling(Workload):
    """y = 2 x, with one honest, one fast-but-wrong, one crashing and one badly shaped kernel."""

    name = "test.doubling"
    params = {"n": Param(1000, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": rng.standard_normal(params["n"]).astype(dtype)}

    def reference(self, inputs, params):
        return 2 * inputs["x"].astype(np.float64)

    def footprint(self, params, itemsize):
        return params["n"] * (2 * itemsize + 16)

    @implementation("numpy")
    def honest(self, inputs, params):
        x = inputs["x"]
        return lambda: 2 * x

    @implementation("numpy")
    def fast_wrong(self, inputs, params):
        x = inputs["x"]
        return lambda: x  # skips the work: faster, and wrong

    @implementation("numpy")
    def crashing(self, inputs, params):
        def run():
            raise RuntimeError("kernel exploded")

        return run

    @implementation("numpy")
    def misshapen(self, inputs, params):
        x = inputs["x"]
        return lambda: 2 * x[:-1]

    @implementation("numpy")
    def nan(self, inputs, params):
        x = inputs["x"]
        return lambda: np.full_like(x, np.nan)


class Zeros(Workload):
    name = "test.zeros"
    params = {"n": Param(10, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": np.zeros(params["n"], dtype=dtype)}

    def reference(self, inputs, params):
        return inputs["x"].astype(np.float64)

    @implementation("numpy")
    def copy(self, inputs, params):
        x = inputs["x"]
        return lambda: x.copy()


class Approximate(Workload):
    """y = 2 x approximated as 2.02 x: an honest approximation and a broken fast one."""

    name = "test.approximate"
    params = {"n": Param(100, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": rng.standard_normal(params["n"]).astype(dtype)}

    def reference(self, inputs, params):
        return 2 * inputs["x"].astype(np.float64)

    @implementation("numpy")
    def honest(self, inputs, params):
        x = inputs["x"]
        return Kernel(lambda: 2.02 * x, expected=2.02 * x.astype(np.float64))

    @implementation("numpy")
    def broken(self, inputs, params):
        x = inputs["x"]
        return Kernel(lambda: 2.0 * x, expected=2.02 * x.astype(np.float64))


class OneVector(Workload):
    """A random vector of n, whose reference is itself: the kernels below copy it, or fail."""

    params = {"n": Param(8, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": rng.standard_normal(params["n"]).astype(dtype)}

    def reference(self, inputs, params):
        return inputs["x"].astype(np.float64)


class Misbehaving(OneVector):
    """Kernels that hang or kill their process, for isolation and timeouts."""

    name = "test.misbehaving"

    @implementation("numpy")
    def honest(self, inputs, params):
        x = inputs["x"]
        return lambda: x.copy()

    @implementation("numpy")
    def sleeps_forever(self, inputs, params):
        def run():
            while True:
                time.sleep(60)

        return run

    @implementation("numpy")
    def aborts(self, inputs, params):
        return os.abort

    @implementation("numpy")
    def exits(self, inputs, params):
        return lambda: os._exit(3)


class Counted(OneVector):
    """Logs every case it measures, and can interrupt the run at one point like Ctrl-C would,
    or kill it there: the environment variables make it resumable under test."""

    name = "test.counted"

    def _measured(self, inputs, params, name):
        if os.environ.get("LABENCH_INTERRUPT_AT") == f"{params['n']}/{name}":
            raise KeyboardInterrupt
        if os.environ.get("LABENCH_KILL_AT") == f"{params['n']}/{name}":
            os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would: no clean-up runs
        with open(os.environ["LABENCH_MEASURE_LOG"], "a") as log:
            log.write(f"{params['n']}/{name}\n")
        x = inputs["x"]
        return lambda: x.copy()

    @implementation("numpy")
    def first(self, inputs, params):
        return self._measured(inputs, params, "first")

    @implementation("numpy")
    def second(self, inputs, params):
        return self._measured(inputs, params, "second")


class KillsItsHost(OneVector):
    """Kills the process that started its isolated worker (on a fleet, the Dask worker: the
    worker's fork server's parent), once per marker file, as a host that dies would."""

    name = "test.kills_its_host"

    @implementation("numpy")
    def once(self, inputs, params):
        try:
            os.close(os.open(os.environ["LABENCH_KILL_MARK"], os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            x = inputs["x"]
            return lambda: x.copy()
        fork_server = os.getppid()
        with open(f"/proc/{fork_server}/stat") as stat:
            host = int(stat.read().rsplit(")", 1)[1].split()[1])
        os.kill(host, signal.SIGKILL)
        os._exit(1)
