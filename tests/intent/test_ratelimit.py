"""The one rate limiter behind every per-peer limit: bursts, sustained rate, bounded memory."""

from nexus_wyoming.intent.ratelimit import RateLimiter, peer_host
from tests.sessions.conftest import Clock


def test_a_burst_up_to_the_rate_then_one_more_per_interval():
    clock = Clock(0.0)
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")  # each key has its own bucket
    clock.advance(19.0)
    assert not limiter.allow("a")
    clock.advance(1.0)  # 60 s / 3 = one event every 20 s
    assert limiter.allow("a") and not limiter.allow("a")


def test_refused_events_spend_nothing_so_a_flood_cannot_lock_a_peer_out_for_longer():
    clock = Clock(0.0)
    limiter = RateLimiter(2, clock=clock)
    for _ in range(100):
        limiter.allow("a")
    clock.advance(30.0)
    assert limiter.allow("a")


def test_zero_means_no_limit():
    limiter = RateLimiter(0)
    assert all(limiter.allow("a") for _ in range(10_000))


def test_memory_is_bounded_idle_peers_go_first():
    clock = Clock(0.0)
    limiter = RateLimiter(1, clock=clock, max_keys=3)
    limiter.allow("idle")
    clock.advance(61.0)
    limiter.allow("busy1")
    limiter.allow("busy2")
    assert limiter.allow("new") and len(limiter._buckets) == 3
    assert not limiter.allow("busy1")  # remembered: still over its rate


def test_peer_host_is_the_address_without_the_port():
    assert peer_host("192.168.1.7:51234") == "192.168.1.7"
    assert peer_host("::1:51234") == "::1"
    assert peer_host("local") == "local"
