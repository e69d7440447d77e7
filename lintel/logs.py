"""Logging for every `lintel` command: INFO for what a person follows, DEBUG for the plumbing."""

from __future__ import annotations

import logging

# Lines that are plumbing, not news, whatever level their library gives them: alembic's
# plugin set-up and per-connection preamble on every start, and one line per HTTP request.
_PLUMBING_LOGGERS = ("alembic.runtime.plugins", "aiohttp.access")
_PLUMBING_MESSAGES = {"alembic.runtime.migration": ("Context impl ", "Will assume ")}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class PlumbingToDebug(logging.Filter):
    """Lowers the plumbing's INFO lines to DEBUG: shown with `lintel -v`, hidden otherwise."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self._verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not _is_plumbing(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return self._verbose


def _is_plumbing(record: logging.LogRecord) -> bool:
    if record.name in _PLUMBING_LOGGERS:
        return True
    prefixes = _PLUMBING_MESSAGES.get(record.name)
    return prefixes is not None and str(record.msg).startswith(prefixes)


def configure_logging(verbose: bool = False) -> None:
    """One stderr handler on the root logger, INFO (DEBUG when verbose), plumbing at DEBUG."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=FORMAT)
    for handler in logging.getLogger().handlers:
        handler.addFilter(PlumbingToDebug(verbose))


__all__ = ["FORMAT", "PlumbingToDebug", "configure_logging"]
