"""Health and metrics, without an API key (what probes and Prometheus scrape).

- `GET /healthz`: liveness. 200 whenever this process serves HTTP; restart it when that stops.
- `GET /readyz`: readiness. 200 only when the store and the broker answer and (unless
  `?services=false`) the fetcher, converter and replier each have a fresh ready heartbeat;
  503 with `checks` saying what is missing. `make run` waits on it.
- `GET /metrics`: Prometheus text format (this process's counters plus the system gauges:
  quarantine size, queue depths, account fetch state, refreshed at most every
  POSTROOM_METRICS_CACHE_S over one kept broker connection).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from postroom_api.deps import BrokerDep, BrokerReadyDep, GaugesDep, StoreDep
from postroom_shared.health import fresh_services
from postroom_shared.metrics import render_latest

__all__ = ["REQUIRED_SERVICES", "router"]

REQUIRED_SERVICES = ("fetcher", "converter", "replier")
router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: 200 while the API process serves requests")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness of the store, the broker and (by default) every service",
    responses={503: {"description": "Something is not ready; `checks` says what."}},
)
async def readyz(
    store: StoreDep,
    broker: BrokerDep,
    broker_ready: BrokerReadyDep,
    response: Response,
    services: Annotated[
        bool, Query(description="Also require fresh heartbeats of fetcher, converter, replier.")
    ] = True,
) -> dict[str, Any]:
    checks: dict[str, str] = {"api": "ok"}
    try:
        await store.ping()
        checks["store"] = "ok"
        if services:
            beats = await fresh_services(store)
            for name in REQUIRED_SERVICES:
                beat = beats.get(name)
                checks[name] = (
                    "ok" if beat and beat.ready else (beat.detail if beat else "no heartbeat")
                )
    except Exception as exc:
        checks["store"] = f"unreachable: {exc!r}"
    up = broker_ready.is_set() and await broker.ping(timeout=2.0)
    checks["broker"] = "ok" if up else "unreachable"
    ready = all(value == "ok" for value in checks.values())
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"status": "ok" if ready else "unavailable", "checks": checks}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(gauges: GaugesDep) -> Response:
    await gauges.refresh()  # cached: POSTROOM_METRICS_CACHE_S
    body, content_type = render_latest()
    return Response(content=body, media_type=content_type)
