"""The work-order parts a hub process runs: the notifier and the periodic jobs."""

from __future__ import annotations

from contextlib import AsyncExitStack

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.live import LiveBus
from hub.settings import HubSettings
from hub.workorders.dispatch import WorkOrderNotifier
from hub.workorders.jobs import WorkOrderJobs


async def enter_work_orders(stack: AsyncExitStack, settings: HubSettings,
                            sessions: async_sessionmaker[AsyncSession],
                            live: LiveBus) -> tuple[WorkOrderNotifier, WorkOrderJobs]:
    """Start both on `stack` (they stop when it closes)."""
    s = settings
    notifier = await stack.enter_async_context(WorkOrderNotifier(
        sessions, live, webhook_url=s.workorder_webhook_url,
        webhook_timeout_s=s.workorder_webhook_timeout_s,
        webhook_attempts=s.workorder_webhook_attempts))
    jobs = await stack.enter_async_context(WorkOrderJobs(
        sessions, interval_s=s.workorder_job_interval_s, lead_days=s.workorder_pm_lead_days))
    return notifier, jobs


__all__ = ["enter_work_orders"]
