"""Password guessing per origin: typos are free, then the tries slow down, then a ban."""

from __future__ import annotations

from tcpchat.core.guard import Buckets, Strikes, arrivals, password_guard


def test_a_few_typos_cost_nothing() -> None:
    guard = Strikes(free_tries=3, backoff=1.0, backoff_max=60.0)
    for _ in range(3):
        assert guard.wait("a", 0.0) == 0
        assert not guard.failed("a", 0.0)
    assert guard.wait("a", 0.0) == 0


def test_tries_past_the_free_ones_wait_twice_as_long_each_time_up_to_the_cap() -> None:
    guard = Strikes(free_tries=0, backoff=1.0, backoff_max=8.0, ban_after=100)
    now = 0.0
    waits = []
    for _ in range(6):
        guard.failed("a", now)
        waits.append(guard.wait("a", now))
        now += waits[-1]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert guard.wait("b", now) == 0  # another origin is not slowed


def test_enough_wrong_tries_ban_the_origin_for_a_while() -> None:
    guard = Strikes(free_tries=0, backoff=0.0, backoff_max=0.0, ban_after=3, ban=600.0)
    assert not guard.failed("a", 0.0) and not guard.failed("a", 0.0)
    assert guard.failed("a", 0.0)
    assert guard.banned_for("a", 1.0) == 599.0
    assert guard.wait("a", 1.0) == 599.0
    assert guard.banned_for("a", 600.0) == 0


def test_the_right_password_forgives_and_quiet_origins_are_forgotten() -> None:
    guard = Strikes(free_tries=0, backoff=1.0, backoff_max=60.0, forget_after=100.0)
    guard.failed("a", 0.0)
    guard.succeeded("a")
    assert guard.wait("a", 0.0) == 0 and len(guard) == 0
    guard.failed("b", 0.0)
    assert guard.wait("b", 100.0) == 0 and len(guard) == 0


def test_many_origins_cannot_grow_the_memory_past_the_cap() -> None:
    guard = password_guard()
    guard.max_origins = 100
    for n in range(1000):
        guard.failed(f"198.51.100.{n}", float(n))
    assert len(guard) == 100


def test_an_origins_bucket_lets_a_burst_through_then_refills_at_its_rate() -> None:
    bucket = Buckets(burst=3, rate=0.5)
    assert [bucket.take("10.0.0.1", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("10.0.0.1", 0.0) == 2.0  # one token every 2 s
    assert bucket.take("10.0.0.2", 0.0) == 0.0  # another origin has its own
    assert bucket.take("10.0.0.1", 1.0) == 1.0
    assert bucket.take("10.0.0.1", 2.0) == 0.0
    assert bucket.take("10.0.0.1", 2.0) > 0


def test_an_attacker_with_many_addresses_cannot_grow_the_buckets() -> None:
    bucket = Buckets(burst=1, rate=0.001, max_origins=100)
    for n in range(1000):
        bucket.take(f"10.0.{n // 256}.{n % 256}", 0.0)
    assert len(bucket) == 100
    assert bucket.take("10.0.3.231", 0.0) > 0  # the newest are the ones kept


def test_arrivals_are_unlimited_only_when_asked() -> None:
    assert arrivals(0) is None
    limited = arrivals(30)
    assert limited is not None and limited.burst == 30 and limited.rate == 2.0
