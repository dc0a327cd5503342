"""The per-request context: loader sets built on first use, never shared across requests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import strawberry
from strawberry.fastapi import BaseContext

from gateway.db import AsyncDatabaseManager
from gateway.graphql.pagination import MAX_PAGE_SIZE, PageArgs, page_args
from gateway.identity.viewer import ANONYMOUS, Viewer

if TYPE_CHECKING:
    from gateway.subscriptions.events import Event
    from gateway.subscriptions.hub import EventHub

__all__ = ["Context", "Info"]

LoadersT = TypeVar("LoadersT")


class Context(BaseContext):
    """What every resolver gets as `info.context`.

    Usage: `info.context.loaders(UserData).by_id.load(user_id)`; `info.context.viewer` is
    who is asking (gateway.identity.viewer), as the request's verified token says.
    """

    def __init__(
        self,
        managers_by_loader_set: Mapping[type[Any], AsyncDatabaseManager],
        *,
        max_page_size: int = MAX_PAGE_SIZE,
        viewer: Viewer = ANONYMOUS,
        unavailable: Mapping[type[Any], Callable[[], Exception]] | None = None,
        events: EventHub | None = None,
    ) -> None:
        super().__init__()
        self.viewer = viewer
        self.events = events  # the process's event hub; None where there is none
        # The event being delivered: its subscribers share one set of loaders for it.
        self._shared: dict[Any, Any] | None = None
        self._managers = managers_by_loader_set
        # Loader sets this request cannot have, with what makes the error their fields
        # answer (a tenant-scoped service's, for a viewer without a provisioned tenant).
        self._unavailable = unavailable or {}
        self._loaders: dict[type[Any], Any] = {}
        self._pages: dict[tuple[int | None, str | None, int | None, str | None], PageArgs] = {}
        self.max_page_size = max_page_size

    def page(
        self,
        first: int | None,
        after: str | None,
        last: int | None = None,
        before: str | None = None,
    ) -> PageArgs:
        """A list field's `first`/`after` (or `last`/`before`), validated against the
        configured maximum page size."""
        # Every row of a nested list asks with the same arguments: validate them once.
        key = (first, after, last, before)
        page = self._pages.get(key)
        if page is None:
            page = self._pages[key] = page_args(
                first, after, last, before, max_size=self.max_page_size
            )
        return page

    def authenticate(
        self,
        viewer: Viewer,
        managers_by_loader_set: Mapping[type[Any], AsyncDatabaseManager],
        unavailable: Mapping[type[Any], Callable[[], Exception]] | None = None,
    ) -> None:
        """Become `viewer`'s context (a WebSocket's, once its connection_init token is
        verified), with the managers its tenant gives; loaders built so far are dropped."""
        self.viewer = viewer
        self._managers = managers_by_loader_set
        self._unavailable = unavailable or {}
        self._loaders = {}

    def deliver(self, event: Event) -> None:
        """Load for `event` from now on with the loaders every subscriber of it shares (one
        statement per level for all of them), fresh for each event: a subscription's rows are
        read as the event found them, never from an earlier event's cache."""
        self._shared = event.loaders

    def delivered(self, event: Event) -> None:
        """`event`'s results are out: later loads (the connection's next operation, a query
        over the same socket) use loaders of their own again, never the event's cache."""
        if self._shared is event.loaders:
            self._shared = None

    def loaders(self, loader_set: type[LoadersT]) -> LoadersT:
        """This request's instance of `loader_set`, built around its service's manager."""
        if self._shared is not None:
            return self._shared_loaders(loader_set)
        instance = self._loaders.get(loader_set)
        if instance is None:
            try:
                db = self._managers[loader_set]
            except KeyError:
                if (error := self._unavailable.get(loader_set)) is not None:
                    raise error() from None
                raise LookupError(
                    f"{loader_set.__name__} is not registered by any service; add it to its "
                    "Service(loaders=[...])."
                ) from None
            factory: Callable[[AsyncDatabaseManager], LoadersT] = loader_set
            instance = self._loaders[loader_set] = factory(db)
        return cast(LoadersT, instance)

    def _shared_loaders(self, loader_set: type[LoadersT]) -> LoadersT:
        assert self._shared is not None
        db = self._managers.get(loader_set)
        if db is None:
            if (error := self._unavailable.get(loader_set)) is not None:
                raise error()
            raise LookupError(f"{loader_set.__name__} is not registered by any service.")
        # Keyed by the manager too: two tenants' subscribers never share a tenant's loaders.
        key = (loader_set, id(db))
        instance = self._shared.get(key)
        if instance is None:
            factory: Callable[[AsyncDatabaseManager], LoadersT] = loader_set
            instance = self._shared[key] = factory(db)
        return cast(LoadersT, instance)


Info = strawberry.Info[Context, None]
