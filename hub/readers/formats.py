"""The site's card format as the compiler and the API read it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from hub.readers.models import CardFormatRow
from wire import CardFormatRule


async def card_format(session: AsyncSession, site_id: str) -> CardFormatRule:
    """The site's card format; the default (26 and 34 bits, no facility check) until set."""
    row = await session.get(CardFormatRow, site_id)
    if row is None:
        return CardFormatRule()
    return CardFormatRule.model_validate({
        "wiegand": [int(b) for b in row.wiegand.split(",") if b],
        "check_facility": row.check_facility,
        "facility_codes": [int(c) for c in row.facility_codes.split(",") if c]})
