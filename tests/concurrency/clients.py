"""HTTP clients for the concurrency tests: thread pools and barrier races."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

REQUEST_TIMEOUT = 60.0


@dataclass
class Answer:
    status: int
    body: Any
    text: str
    index: int = 0
    thread: str = ""

    @property
    def json_or_text(self) -> Any:
        return self.body if self.body is not None else self.text


def _answer(response: requests.Response, index: int) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = None
    return Answer(response.status_code, body, response.text, index, threading.current_thread().name)


def run_in_pool(
    threads: int, jobs: list[Any], send: Callable[[requests.Session, Any], requests.Response]
) -> list[Answer]:
    """Send every job from a pool of threads, one requests.Session per thread.

    Answers come back in the order of `jobs`.
    """
    local = threading.local()
    sessions: list[requests.Session] = []
    lock = threading.Lock()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            with lock:
                sessions.append(local.session)
        return local.session

    def one(indexed: tuple[int, Any]) -> Answer:
        index, job = indexed
        return _answer(send(session(), job), index)

    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="client") as pool:
            return list(pool.map(one, enumerate(jobs)))
    finally:
        for s in sessions:
            s.close()


def run_at_once(
    count: int, send: Callable[[requests.Session, int], requests.Response], barrier_timeout: float = 30
) -> list[Answer]:
    """`count` threads, each with its own Session, released together by a Barrier."""
    barrier = threading.Barrier(count, timeout=barrier_timeout)
    sessions = [requests.Session() for _ in range(count)]

    def one(index: int) -> Answer:
        barrier.wait()
        return _answer(send(sessions[index], index), index)

    try:
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="racer") as pool:
            return list(pool.map(one, range(count)))
    finally:
        for s in sessions:
            s.close()


def describe(answers: Iterable[Answer], limit: int = 5) -> str:
    """A short account of unexpected answers for assertion messages."""
    answers = list(answers)
    shown = [f"#{a.index} {a.status}: {str(a.json_or_text)[:300]}" for a in answers[:limit]]
    more = f" (+{len(answers) - limit} more)" if len(answers) > limit else ""
    return "; ".join(shown) + more
