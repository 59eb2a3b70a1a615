"""One store (its engine and connection pool) per database URL per process, made on first use.

The feedback and inbox stores are both opened by URL from many places (routes, the inbox worker, retrain);
each URL must share one engine, or every request would open its own pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Store = TypeVar("Store")


class StoreCache(Generic[Store]):
    def __init__(self, factory: Callable[[str], Store]) -> None:
        self._factory = factory
        self._stores: dict[str, Store] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> Store:
        with self._lock:
            store = self._stores.get(url)
            if store is None:
                store = self._stores[url] = self._factory(url)
            return store
