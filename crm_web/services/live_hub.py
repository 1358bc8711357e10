"""One watcher per stream process (docs/live.md, "The stream").

The streams of a process do not read the database themselves: one thread
reads the live state of every operator with an open stream, every
WATCH_EVERY seconds, in two statements whatever their number
(`live_states`), and wakes the streams whose state changed. Nothing open,
nothing read. Every instance reads the same database, so a change made
through any app instance reaches every stream; the database is the signal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .live import LiveState, live_state, live_states

WATCH_EVERY = 0.25  # seconds between two reads while any stream is open
log = logging.getLogger("crm_web.live")


class LiveHub:
    def __init__(self, engine: Engine, first_page: int, every: float = WATCH_EVERY) -> None:
        self.engine = engine
        self.first_page = first_page
        self.every = every
        self.reads = 0  # how many times the watcher read the database (tests, the bench)
        self._changed = threading.Condition()
        self._states: dict[int | None, LiveState] = {}
        self._open: Counter[int | None] = Counter()
        self._watcher: threading.Thread | None = None
        self._stopped = False

    def open(self, operator_id: int | None) -> LiveState:
        """A stream opens for an operator user (None: any other staff user): their state now."""
        with self._changed:
            known = self._states.get(operator_id)
        # Another stream of theirs is open: the watcher's state (the stream then waits on it).
        state = known or live_state(self.engine, operator_id, self.first_page, fresh=True)
        with self._changed:
            self._open[operator_id] += 1
            state = self._states.setdefault(operator_id, state)
            if self._watcher is None:  # started in the serving process (after gunicorn's fork)
                self._watcher = threading.Thread(target=self._watch, name="live-watcher", daemon=True)
                self._watcher.start()
        return state

    def close(self, operator_id: int | None) -> None:
        with self._changed:
            self._open[operator_id] -= 1
            if self._open[operator_id] <= 0:
                del self._open[operator_id]
                self._states.pop(operator_id, None)

    def next_state(
        self, operator_id: int | None, version: str, timeout: float, not_before: float = 0.0,
        count_not_before: float | None = None,
    ) -> LiveState | None:
        """The operator's state once it differs from `version`, and not before `not_before`
        (time.monotonic()), or `count_not_before` when only the number waiting differs;
        None if that did not come within `timeout`."""
        count_not_before = not_before if count_not_before is None else count_not_before
        with self._changed:
            self._changed.wait_for(
                lambda: self._ready(operator_id, version, not_before, count_not_before), timeout
            )
            state = self._states.get(operator_id)
            ready = not self._stopped and self._ready(operator_id, version, not_before, count_not_before)
            return state if ready else None

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self, wait: float = 0.0) -> None:
        """Wake every stream to end; with `wait`, give the watcher that long to finish its round."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
            watcher = self._watcher
        if wait and watcher is not None:
            watcher.join(wait)

    def _ready(self, operator_id, version: str, not_before: float, count_not_before: float) -> bool:
        if self._stopped:
            return True
        state = self._states.get(operator_id)
        if state is None or state.version == version:
            return False
        lists_changed = state.lists_version != LiveState.lists_of(version)
        return time.monotonic() >= (not_before if lists_changed else count_not_before)

    def _watch(self) -> None:
        failures = 0
        while not self._stopped:
            time.sleep(self.every * (1 + min(failures, 20)))  # a database that does not answer: slower
            with self._changed:
                operators = set(self._open)
            if not operators:
                continue
            try:
                states = live_states(self.engine, operators, self.first_page)
                failures = 0
            except SQLAlchemyError:
                failures += 1
                log.warning("live: the database did not answer", exc_info=failures == 1)
                continue
            except Exception:
                # Anything else is a bug, but a dead watcher would freeze every page of the process.
                failures += 1
                log.exception("live: the watcher's round failed")
                continue
            self.reads += 1
            with self._changed:
                changed = False
                for operator_id, state in states.items():
                    if operator_id in self._open and self._states.get(operator_id) != state:
                        self._states[operator_id] = state
                        changed = True
                if changed:
                    self._changed.notify_all()
