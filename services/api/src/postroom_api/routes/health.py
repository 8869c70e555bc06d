"""`GET /healthz`: 200 only when the store, the broker and every service are ready."""

from typing import Any

from fastapi import APIRouter, Request, Response, status
from faststream.rabbit import RabbitBroker

from postroom_shared.health import fresh_services
from postroom_shared.store import Store

__all__ = ["REQUIRED_SERVICES", "router"]

REQUIRED_SERVICES = ("fetcher", "converter", "replier")
router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Readiness of the whole system",
    responses={503: {"description": "Something is not ready; `checks` says what."}},
)
async def healthz(request: Request, response: Response) -> dict[str, Any]:
    store: Store = request.app.state.store
    broker: RabbitBroker = request.app.state.broker
    checks: dict[str, str] = {"api": "ok"}
    try:
        await store.ping()
        checks["store"] = "ok"
        beats = await fresh_services(store)
        for name in REQUIRED_SERVICES:
            beat = beats.get(name)
            checks[name] = (
                "ok" if beat and beat.ready else (beat.detail if beat else "no heartbeat")
            )
    except Exception as exc:
        checks["store"] = f"unreachable: {exc!r}"
    checks["broker"] = "ok" if await broker.ping(timeout=2.0) else "unreachable"
    ready = all(value == "ok" for value in checks.values())
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"status": "ok" if ready else "unavailable", "checks": checks}
