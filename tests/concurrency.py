"""Running actions at the same instant in threads, for race tests on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(actions: list[Callable[[], object]]) -> tuple[list[object], list[Exception]]:
    """Start every action in its own thread (own database connection) at the same instant."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def worker(action: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            outcome = action()
            with lock:
                results.append(outcome)
        except Exception as exc:  # collected and asserted on by the test
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return results, errors
