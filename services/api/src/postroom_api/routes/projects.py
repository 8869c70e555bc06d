"""Item types (the fixed set) and projects (named by the accounts that file items into them)."""

from fastapi import APIRouter

from postroom_api.auth import RequireRead
from postroom_api.deps import StoreDep
from postroom_api.routing import SafeRoute
from postroom_api.schemas import ItemTypeView, ProjectView

__all__ = ["router"]

router = APIRouter(
    prefix="/v1",
    tags=["item types and projects"],
    route_class=SafeRoute,
    dependencies=[RequireRead],
)


@router.get("/item-types", summary="The item types an account can create")
async def list_item_types() -> list[ItemTypeView]:
    return ItemTypeView.all()


@router.get("/projects", summary="Projects that accounts file new items into")
async def list_projects(store: StoreDep) -> list[ProjectView]:
    projects: dict[str, list[str]] = {}
    for account in await store.list_accounts():
        projects.setdefault(account.project, []).append(account.id)
    return [ProjectView(name=name, account_ids=ids) for name, ids in sorted(projects.items())]
