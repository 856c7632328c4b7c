"""The learning-rate schedule of a run with a time budget: warm up, then decay to zero when the budget ends.

A fixed linear schedule over `epochs` stops wherever the budget cuts it, at a third of the peak rate on a slow
machine; a run that ends at a high rate ends noisy, so the end of the decay follows the steps that really fit.
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class WarmupDecay:
    """Linear warm-up over `warmup` steps, then linear decay to zero at step `total` (a callable object, so the
    scheduler's state_dict keeps `total` when a run resumes)."""

    def __init__(self, warmup: int, total: int):
        self.warmup, self.total = warmup, max(total, 1)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))


class BudgetSchedule:
    def __init__(self, optimizer: Optimizer, warmup: int, total: int):
        self.shape = WarmupDecay(warmup, total)
        self.scheduler = LambdaLR(optimizer, self.shape)

    @property
    def total(self) -> int:
        return self.shape.total

    @property
    def steps_done(self) -> int:
        return self.scheduler.last_epoch

    def step(self) -> None:
        self.scheduler.step()

    def fit_to_budget(self, steps_done: int, seconds_per_step: float, seconds_left: float) -> None:
        """Shorten the decay to the steps that fit in `seconds_left` (never lengthen it past the planned epochs)."""
        if seconds_per_step <= 0:
            return
        fits = steps_done + int(max(seconds_left, 0.0) / seconds_per_step)
        self.shape.total = max(steps_done + 1, self.shape.warmup + 1, min(self.shape.total, fits))

    def state_dict(self) -> dict:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.scheduler.load_state_dict(state)
