"""The per-request context: loader sets built on first use, never shared across requests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import strawberry
from strawberry.fastapi import BaseContext

from gateway.db import AsyncDatabaseManager
from gateway.graphql.pagination import MAX_PAGE_SIZE, PageArgs, page_args
from gateway.identity.viewer import ANONYMOUS, Viewer

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
    ) -> None:
        super().__init__()
        self.viewer = viewer
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

    def loaders(self, loader_set: type[LoadersT]) -> LoadersT:
        """This request's instance of `loader_set`, built around its service's manager."""
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


Info = strawberry.Info[Context, None]
