import torch

from pvoice.training.schedule import BudgetSchedule


def _schedule(warmup=2, total=100):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return optimizer, BudgetSchedule(optimizer, warmup, total)


def _run(optimizer, schedule, steps):
    rates = []
    for _ in range(steps):
        optimizer.step()
        schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


def test_the_decay_ends_where_the_budget_ends():
    optimizer, schedule = _schedule()
    _run(optimizer, schedule, 10)
    # 10 steps took 1 s each and 20 s are left: the rate must reach zero at step 30, not at the planned 100
    schedule.fit_to_budget(schedule.steps_done, seconds_per_step=1.0, seconds_left=20.0)
    assert schedule.total == 30
    rates = _run(optimizer, schedule, 20)
    assert rates[-1] == 0.0
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_a_generous_budget_keeps_the_planned_schedule():
    optimizer, schedule = _schedule()
    schedule.fit_to_budget(5, seconds_per_step=0.1, seconds_left=1e6)
    assert schedule.total == 100


def test_a_resumed_run_keeps_the_fitted_end():
    optimizer, schedule = _schedule()
    _run(optimizer, schedule, 5)
    schedule.fit_to_budget(5, 1.0, 15.0)
    state = schedule.state_dict()
    again_opt, again = _schedule()
    again.load_state_dict(state)
    assert again.total == 20 and again.steps_done == 5
