"""The dashboard: what the system did in the last 24 hours (or 7 days), what waits in the
queues now, and how each email account fetches. It is the landing page of admin and read
keys; agent keys, who see items only, get 403 here (`require_read`).

Every number comes from the JSON routes' own functions (`routes.activity.activity_report` and
`queue_depths`, `routes.accounts.account_state` with the accounts screen's `badge`). The panel
reloads itself every 30 seconds with htmx (`/ui/dashboard/panel`), no script of ours.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from postroom_api.console.access import ConfigReaderDep
from postroom_api.console.account_pages import Badge, badge
from postroom_api.console.charts import Bar, bar_chart
from postroom_api.console.pages import render
from postroom_api.deps import BrokerAdminDep, SettingsDep, StoreDep
from postroom_api.routes.accounts import account_state
from postroom_api.routes.activity import Range, activity_report, queue_depths
from postroom_api.schemas import AccountView
from postroom_api.schemas.activity import ActivityView, QueueDepthView
from postroom_api.settings import ApiSettings
from postroom_api.store import ApiStore
from postroom_shared.broker_admin import BrokerAdmin
from postroom_shared.logs import get_logger
from postroom_shared.models import utcnow
from postroom_shared.store.ports import ActivityKind

__all__ = ["CHARTS", "charts", "queues_or_why", "router"]

log = get_logger(__name__)
router = APIRouter(prefix="/ui/dashboard", include_in_schema=False)

# (kind, chart title, what one unit of it is); the kind is also the css class of its bars
CHARTS: tuple[tuple[ActivityKind, str, str], ...] = (
    ("mails_received", "Mails received", "mails"),
    ("items_created", "Items created", "items"),
    ("replies_sent", "Replies sent", "replies"),
    ("replies_suppressed", "Replies suppressed", "replies"),
)


@dataclass(frozen=True)
class Chart:
    kind: str
    title: str
    total: int
    svg: Markup
    rows: list[tuple[str, int]]


def charts(report: ActivityView) -> list[Chart]:
    """One chart per kind, its bars labelled by hour (or by day for the 7-day view)."""
    hourly = report.bucket == "hour"
    ticks = [s.strftime("%H" if hourly else "%a") for s in report.starts]
    names = [s.strftime("%H:00 UTC" if hourly else "%a %d %b") for s in report.starts]
    made = []
    for kind, title, what in CHARTS:
        counts = report.counts[kind]
        bars = [Bar(t, n, c) for t, n, c in zip(ticks, names, counts, strict=True)]
        span = "per hour, last 24 hours" if hourly else "per day, last 7 days"
        svg = bar_chart(bars, title=f"{title} {span}", what=what, css=kind)
        made.append(
            Chart(kind, title, report.totals[kind], svg, list(zip(names, counts, strict=True)))
        )
    return made


@dataclass(frozen=True)
class Health:
    account: AccountView
    badge: Badge


async def _health(store: ApiStore, settings: ApiSettings) -> tuple[list[Health], Counter[str]]:
    rows = [
        Health(AccountView.of(a), badge(await account_state(store, settings, a.id)))
        for a in await store.list_accounts()
    ]
    return rows, Counter(row.badge.label for row in rows)


async def queues_or_why(admin: BrokerAdmin) -> tuple[list[QueueDepthView], str]:
    """The queue depths, or why they cannot be shown (the rest of the page still can)."""
    try:
        return await queue_depths(admin), ""
    except Exception as exc:
        log.warning("dashboard: queue depths not read", error=repr(exc))
        return [], f"the broker did not answer: {exc!r}"


@dataclass(frozen=True)
class Sources:
    """Where the dashboard's numbers come from: the store, the settings, the broker."""

    store: ApiStore
    settings: ApiSettings
    admin: BrokerAdmin

    async def page(self, request: Request, span: Range, template: str) -> HTMLResponse:
        report = await activity_report(self.store, span)
        accounts, health = await _health(self.store, self.settings)
        queues, broker_error = await queues_or_why(self.admin)
        return render(
            request,
            template,
            span=span,
            charts=charts(report),
            accounts=accounts,
            health=health,
            queues=queues,
            broker_error=broker_error,
            updated=utcnow(),
        )


async def _sources(store: StoreDep, settings: SettingsDep, admin: BrokerAdminDep) -> Sources:
    return Sources(store, settings, admin)


SourcesDep = Annotated[Sources, Depends(_sources)]
_Span = Annotated[Range, Query(alias="range")]


@router.get("")
async def dashboard(
    request: Request, visitor: ConfigReaderDep, sources: SourcesDep, span: _Span = "24h"
) -> HTMLResponse:
    return await sources.page(request, span, "dashboard.html")


@router.get("/panel")
async def panel(
    request: Request, visitor: ConfigReaderDep, sources: SourcesDep, span: _Span = "24h"
) -> HTMLResponse:
    """The part htmx reloads every 30 seconds."""
    return await sources.page(request, span, "dashboard_panel.html")
