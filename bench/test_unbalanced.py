"""The table marks an unbalanced round, for every server: run by hand, in the root:

    ./dev run python3.14 -m pytest -q bench/test_unbalanced.py
"""

from bench.cputime import unbalanced
from bench.run import Sample, Series, markdown_table, unbalanced_line
from bench.scenarios import SCENARIOS


def sample(busiest: float) -> Sample:
    return Sample(rps=100, p50_us=1000, p99_us=2000, cpu_us_per_request=50, errors=0,
                  busiest_thread=busiest)


def test_the_threshold_is_one_and_a_half_workers_share():
    assert not unbalanced(1.0, 1)  # one worker: nothing to balance
    assert not unbalanced(0.55, 2) and not unbalanced(0.75, 2)
    assert unbalanced(0.76, 2) and unbalanced(0.97, 2)
    assert not unbalanced(0.18, 8) and unbalanced(0.19, 8)


def test_an_unbalanced_round_is_marked_in_its_row_and_under_the_table():
    scenario = SCENARIOS["cpu"]
    subcorn, peer = scenario.targets[0], scenario.targets[1]
    table = [
        Series(subcorn, 1, [sample(0.99), sample(0.99)]),
        Series(subcorn, 2, [sample(0.51), sample(0.98)]),
        Series(peer, 2, [sample(0.50), sample(0.52)]),
    ]
    md = markdown_table(scenario, table, rounds=2)
    rows = md.splitlines()
    assert "busiest thread, per round" in rows[0]
    assert "| 51% **98% UNBALANCED** |" in rows[3], rows[3]
    assert "UNBALANCED" not in rows[2] and "UNBALANCED" not in rows[4]
    line = unbalanced_line(table)
    assert line and f"{subcorn.label} w2 round 2 (98%)" in line and peer.label not in line
    assert unbalanced_line([table[0], table[2]]) is None


def test_a_scenario_with_one_worker_count_shows_the_column_too():
    scenario = SCENARIOS["django"]
    table = [Series(t, 2, [sample(0.9)]) for t in scenario.targets[:2]]
    md = markdown_table(scenario, table, rounds=1)
    assert "busiest thread, per round" in md.splitlines()[0]
    assert md.count("**90% UNBALANCED**") == 2
