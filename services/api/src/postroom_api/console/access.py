"""Who may see which console page: the signed-in visitor (session + CSRF), then the very scope
checks of the JSON API (`postroom_api.auth`), called as functions: `read` keys read, `agent`
keys read and work items only, `admin` keys everything."""

from typing import Annotated

from fastapi import Depends, Request

from postroom_api.auth import require_admin, require_item_read, require_read, require_work
from postroom_api.console.csrf import check_csrf
from postroom_api.console.session import Visitor, signed_in

__all__ = ["AdminDep", "ConfigReaderDep", "ItemReaderDep", "VisitorDep", "WorkerDep"]


async def _visitor(request: Request) -> Visitor:
    visitor = await signed_in(request)
    request.state.visitor = visitor  # for the page's navigation
    await check_csrf(request, visitor)
    return visitor


VisitorDep = Annotated[Visitor, Depends(_visitor)]


async def _item_reader(request: Request, visitor: VisitorDep) -> Visitor:
    require_item_read(request, visitor.principal)
    return visitor


async def _worker(visitor: VisitorDep) -> Visitor:
    require_work(visitor.principal)
    return visitor


async def _config_reader(request: Request, visitor: VisitorDep) -> Visitor:
    require_read(request, visitor.principal)
    return visitor


async def _admin(visitor: VisitorDep) -> Visitor:
    require_admin(visitor.principal)
    return visitor


ItemReaderDep = Annotated[Visitor, Depends(_item_reader)]
WorkerDep = Annotated[Visitor, Depends(_worker)]
ConfigReaderDep = Annotated[Visitor, Depends(_config_reader)]
AdminDep = Annotated[Visitor, Depends(_admin)]
