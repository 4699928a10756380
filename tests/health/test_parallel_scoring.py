"""Scoring on several connections at once (HEALTH_SCORE_WORKERS): the same
rows as one connection, each chunk claimed once, a failing worker stopping
the run, and one connection whenever the caller holds a transaction."""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.backends.signals import connection_created

from accounts.models import Account
from health import scoring
from health.models import HealthScore, Measure
from health.scoring import score_accounts
from tests import factories

D = dt.date(2026, 6, 30)


def logins_scorecard(count: int) -> list[int]:
    """`count` accounts whose logins value is their position: scores 0, 1, …"""
    Measure.objects.update(active=False)
    logins = factories.MeasureFactory(code="logins")
    factories.ThresholdFactory(measure=logins, red=Decimal(0), green=Decimal(100), weight=10)
    accounts = factories.AccountFactory.create_batch(count)
    for index, each in enumerate(accounts):
        factories.ObservationFactory(account=each, measure=logins, value=index, observed_on=D)
    return [each.pk for each in accounts]


class OpenedConnections:
    """Counts the database connections opened while it is entered."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def _opened(self, sender, connection, **kwargs) -> None:
        with self._lock:
            self.count += 1

    def __enter__(self) -> OpenedConnections:
        connection_created.connect(self._opened)
        return self

    def __exit__(self, *exc: object) -> None:
        connection_created.disconnect(self._opened)


@pytest.mark.django_db(transaction=True)
def test_workers_score_every_account_once_on_connections_of_their_own():
    ids = logins_scorecard(11)

    with OpenedConnections() as opened:
        assert score_accounts(D, chunk_size=2, workers=3) == 11

    assert opened.count == 3
    scores = dict(HealthScore.objects.filter(as_of=D).values_list("account_id", "score"))
    assert scores == {pk: index for index, pk in enumerate(ids)}
    mirrored = dict(Account.objects.values_list("pk", "health_score"))
    assert mirrored == scores


@pytest.mark.django_db(transaction=True)
def test_workers_score_a_list_of_accounts_exactly():
    ids = logins_scorecard(9)
    chosen = ids[1:8:2] + ids[2:4]  # 1, 2, 3, 5, 7: unsorted, with a repeat

    with OpenedConnections() as opened:
        assert score_accounts(D, [*chosen, ids[3]], chunk_size=2, workers=2) == 5

    assert opened.count == 2
    scored = set(HealthScore.objects.values_list("account_id", flat=True))
    assert scored == {ids[1], ids[2], ids[3], ids[5], ids[7]}


@pytest.mark.django_db(transaction=True)
def test_the_same_rows_come_from_one_connection_and_from_several():
    logins_scorecard(7)
    score_accounts(D, chunk_size=2, workers=1)
    serial = list(
        HealthScore.objects.order_by("account_id").values_list(
            "account_id", "score", "band", "coverage", "parts"
        )
    )
    HealthScore.objects.all().delete()

    score_accounts(D, chunk_size=2, workers=4)

    parallel = list(
        HealthScore.objects.order_by("account_id").values_list(
            "account_id", "score", "band", "coverage", "parts"
        )
    )
    assert parallel == serial
    assert len(serial) == 7


@pytest.mark.django_db(transaction=True)
def test_a_failing_worker_stops_the_run_and_its_chunk_writes_nothing(monkeypatch):
    ids = logins_scorecard(12)
    write = scoring._postgres_chunk
    calls = []
    calls_lock = threading.Lock()

    def fail_on_the_second_chunk(chunk_filter: str, params: dict) -> None:
        with calls_lock:
            calls.append(params["low"])
            second = len(calls) == 2
        if second:
            raise RuntimeError("the disk is full")
        write(chunk_filter, params)

    monkeypatch.setattr(scoring, "_postgres_chunk", fail_on_the_second_chunk)

    with pytest.raises(RuntimeError, match="the disk is full"):
        score_accounts(D, chunk_size=2, workers=2)

    scored = HealthScore.objects.count()
    # The failed chunk wrote nothing; the other worker stopped after the
    # chunk it had claimed, far from the six chunks of the whole run.
    assert scored % 2 == 0 and scored <= 4
    assert len(calls) < len(ids) // 2


@pytest.mark.django_db
def test_inside_a_transaction_the_chunks_are_scored_on_its_own_connection():
    ids = logins_scorecard(5)

    with OpenedConnections() as opened:
        assert score_accounts(D, chunk_size=2, workers=4) == 5

    # Another connection could not see the accounts this test's transaction made.
    assert opened.count == 0
    assert HealthScore.objects.filter(account_id__in=ids).count() == 5


@pytest.mark.django_db(transaction=True)
def test_one_chunk_of_listed_accounts_is_scored_without_opening_a_connection():
    ids = logins_scorecard(3)

    with OpenedConnections() as opened:
        assert score_accounts(D, ids, chunk_size=5, workers=4) == 3

    assert opened.count == 0


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_a_claimed_chunk_locks_its_own_accounts_and_not_the_next_one():
    ids = logins_scorecard(3)
    chunks = scoring._Chunks(None, 2)
    claimed_next = threading.Event()
    next_ids: list[int] = []

    def claim_the_next_chunk() -> None:
        try:
            with transaction.atomic():
                claim = scoring._claim(chunks, {"as_of": D})
                next_ids.extend(claim[0] if claim else [])
                claimed_next.set()
        finally:
            connection.close()

    with transaction.atomic():
        first, _ = scoring._claim(chunks, {"as_of": D})
        # The first chunk is still locked by this transaction: the next
        # claim does not wait for it.
        other = threading.Thread(target=claim_the_next_chunk)
        other.start()
        assert claimed_next.wait(timeout=5)
        other.join(timeout=5)

    assert first == ids[:2]
    assert next_ids == ids[2:]
    assert not chunks.more


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_run_lets_its_workers_stop_after_their_chunk(monkeypatch):
    # A Celery soft time limit raises in the task's own thread, which is
    # waiting for the workers; a signal does the same here.
    logins_scorecard(12)
    write = scoring._postgres_chunk
    calls = []

    def slow_chunk(chunk_filter: str, params: dict) -> None:
        calls.append(params["low"])
        time.sleep(0.5)
        write(chunk_filter, params)

    def interrupt(signum, frame):
        raise TimeoutError("soft time limit")

    monkeypatch.setattr(scoring, "_postgres_chunk", slow_chunk)
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(TimeoutError):
            score_accounts(D, chunk_size=1, workers=2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    # Twelve chunks of 0.5 s on two workers take 3 s. Interrupted at 0.3 s,
    # each worker finishes the chunk it holds and takes no other: two chunks,
    # four if a slow machine handles the signal late.
    assert len(calls) <= 4
    assert HealthScore.objects.count() == len(calls)
