"""The quarantine (docs/features.md F9): mail that could not be processed, to inspect,
reprocess or drop.

Reprocessing does exactly what `postroom quarantine reprocess` does: the converter's own
`reprocess` runs in this process on the API's store and broker, so the admin gets the outcome
at once, and a mail that fails again stays quarantined with one attempt more.
"""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status

from postroom_api.auth import RequireAdmin, RequireRead
from postroom_api.deps import BrokerDep, BrokerReadyDep, SettingsDep, StoreDep
from postroom_api.routes.items import blob_response
from postroom_api.routing import CONFLICT, NOT_FOUND, PathId, SafeRoute, conflict, not_found
from postroom_api.schemas import QuarantinePage, QuarantineView, ReprocessView
from postroom_api.store import ApiStore
from postroom_converter import ops
from postroom_shared.errors import TransientError
from postroom_shared.logs import get_logger
from postroom_shared.models import QuarantineEntry

__all__ = ["router"]

log = get_logger(__name__)
router = APIRouter(prefix="/v1/quarantine", tags=["quarantine"], route_class=SafeRoute)

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "The broker is unreachable; try again."}
}


async def _load(store: ApiStore, entry_id: str) -> QuarantineEntry:
    entry = await store.get_quarantine(entry_id)
    if entry is None:
        raise not_found(f"no quarantine entry {entry_id}")
    return entry


@router.get("", summary="Quarantined mail, newest first", dependencies=[RequireRead])
async def list_quarantine(
    store: StoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> QuarantinePage:
    entries = await store.list_quarantine(limit=limit)
    return QuarantinePage(
        total=await store.count_quarantine(), entries=[QuarantineView.of(e) for e in entries]
    )


@router.get(
    "/{entry_id}", summary="One quarantined mail", responses=NOT_FOUND, dependencies=[RequireRead]
)
async def get_quarantined(store: StoreDep, entry_id: PathId) -> QuarantineView:
    return QuarantineView.of(await _load(store, entry_id))


@router.get(
    "/{entry_id}/raw",
    summary="The quarantined mail as received (.eml)",
    responses={200: {"content": {"message/rfc822": {}}}, **NOT_FOUND},
    response_class=Response,
    dependencies=[RequireRead],
)
async def quarantined_raw(store: StoreDep, entry_id: PathId) -> Response:
    entry = await _load(store, entry_id)
    if not entry.blob_ref:
        raise not_found(f"the raw mail of {entry_id} is not stored")
    return await blob_response(
        store,
        entry.blob_ref,
        content_type="message/rfc822",
        filename=f"{entry_id}.eml",
        fallback="message.eml",
    )


@router.post(
    "/{entry_id}/reprocess",
    summary="Run the mail through the converter again",
    description="On success the entry leaves the quarantine; if it fails again it stays, with"
    " one attempt more and the new reason. An entry that holds only a mail's headers (too"
    " large, or unreadable on the server) cannot be reprocessed: 409.",
    responses={**NOT_FOUND, **CONFLICT, **_UNAVAILABLE},
    dependencies=[RequireAdmin],
)
async def reprocess(
    store: StoreDep,
    broker: BrokerDep,
    broker_ready: BrokerReadyDep,
    settings: SettingsDep,
    entry_id: PathId,
) -> ReprocessView:
    await _load(store, entry_id)
    # the topology is declared before broker_ready is set (app.py): nothing to declare here
    if not (broker_ready.is_set() and await broker.ping(timeout=2.0)):
        raise HTTPException(status_code=503, detail="the broker is unreachable; try again")
    secret_key = settings.secret_key.get_secret_value()
    try:
        outcome = await ops.reprocess(store, broker, secret_key=secret_key, entry_id=entry_id)
    except KeyError:  # discarded or reprocessed concurrently
        raise not_found(f"no quarantine entry {entry_id}") from None
    except ops.HeadersOnlyError as exc:
        raise conflict(str(exc)) from None
    except TransientError as exc:
        raise HTTPException(status_code=503, detail=f"try again: {exc}") from None
    except Exception as exc:  # e.g. the broker refused a publish: the entry is still there
        log.warning("reprocessing failed", quarantine_id=entry_id, error=repr(exc))
        raise HTTPException(
            status_code=503, detail=f"reprocessing failed, the entry stays: {exc!r}"
        ) from None
    return ReprocessView(outcome=str(outcome), quarantined=isinstance(outcome, ops.Quarantined))


@router.delete(
    "/{entry_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Discard a quarantined mail (its raw bytes stay in the blob store)",
    responses=NOT_FOUND,
    dependencies=[RequireAdmin],
)
async def discard(store: StoreDep, entry_id: PathId) -> None:
    if not await store.delete_quarantine(entry_id):
        raise not_found(f"no quarantine entry {entry_id}")
