"""A one-line hint when a long job runs far slower than it should because the CPU is shared.

On a 2-core laptop with another heavy program running, PyTorch's default of one thread per core makes every
training step wait for the other program: a run measured at 0.37 s/step on an idle machine took 4-5 s/step. The
job cannot fix that, but it can say so once, with the fix (``--threads 1``, or close the other program).

The check needs no benchmark of the machine: it compares the CPU time this process got with the wall-clock time
its threads waited. A process whose threads get less than half of the wall time is being starved. An expected step
time (measured on an idle machine) can be given as well.

    hint = SlowStepHint(expected_step_s=0.4)      # optional expectation
    for step in ...:
        ... one optimizer step ...
        hint.tick()                                  # prints at most once

``SlowStepHint.callback`` fits the ``callbacks=`` of chapter 9's ``Trainer`` (called after every step).
"""
from __future__ import annotations

import os
import sys
import time


def _threads() -> int:
    try:
        import torch
        return max(torch.get_num_threads(), 1)
    except ImportError:  # pragma: no cover - torch is a core dependency
        return 1


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class SlowStepHint:
    """Measures step times and prints one hint line when steps are much slower than the CPU should allow.

    ``expected_step_s``: the step time on an idle machine (``None``: judge by CPU share only).
    ``factor``: how much slower than expected counts as "far above"; ``min_step_s``: faster steps never get a hint.
    ``warmup``: steps ignored at the start (the first steps include one-off costs).
    ``window``: steps measured before judging.
    """

    def __init__(self, expected_step_s: float | None = None, factor: float = 3.0, warmup: int = 3,
                 window: int = 10, min_share: float = 0.5, min_step_s: float = 0.2, stream=None,
                 flag: str = "--threads"):
        self.expected_step_s = expected_step_s
        self.factor = factor
        self.warmup = warmup
        self.window = window
        self.min_share = min_share
        self.min_step_s = min_step_s
        self.stream = stream
        self.flag = flag
        self.steps = 0
        self.shown = False
        self.message: str | None = None
        self._wall0 = self._cpu0 = None

    def tick(self) -> str | None:
        """Call after every step; returns (and prints, once) the hint when it applies."""
        self.steps += 1
        if self.shown:
            return None
        if self.steps == self.warmup:
            self._wall0, self._cpu0 = time.perf_counter(), time.process_time()
            return None
        if self._wall0 is None or self.steps < self.warmup + self.window:
            return None
        wall = time.perf_counter() - self._wall0
        cpu = time.process_time() - self._cpu0
        self._wall0, self._cpu0 = time.perf_counter(), time.process_time()   # next window
        message = self.judge(wall / self.window, cpu / self.window)
        if message:
            self.shown = True
            self.message = message
            print(message, file=self.stream or sys.stdout, flush=True)
        return message

    def judge(self, step_s: float, cpu_per_step_s: float) -> str | None:
        """The hint for a measured step time and the CPU time the process used per step (``None``: fine)."""
        threads = _threads()
        share = cpu_per_step_s / max(step_s * min(threads, _cores()), 1e-9)   # 1.0 = every thread always ran
        too_slow = self.expected_step_s is not None and step_s > self.factor * self.expected_step_s
        starved = share < self.min_share
        if step_s < self.min_step_s or not (too_slow or starved):
            return None
        expected = f" (about {self.expected_step_s:.2f} s on an idle machine)" if self.expected_step_s else ""
        why = (f"this program got only {share:.0%} of the CPU time its {threads} thread(s) asked for, so other "
               "programs are using the cores" if starved else "the machine is slower or busier than expected")
        fix = (f"Try {self.flag} 1, or stop the other programs" if threads > 1
               else "Stop the other programs, or run this when the machine is idle")
        return f"[hint] steps take {step_s:.2f} s{expected}: {why}. {fix}."

    def callback(self, trainer=None) -> None:
        """``Trainer(callbacks=[hint.callback])`` in chapter 9 (judges CPU runs only: a GPU run waits on purpose)."""
        device = getattr(trainer, "device", None)
        if getattr(device, "type", "cpu") == "cpu":
            self.tick()
