"""LED notice boards at the edge: what a board shows (pages), the controller families that put
a page on a board (one module each), and the supervisor that rotates notices, takes the boards
over on a fire alarm or lockdown, and reports what each board really shows."""

from edge.boards.family import BoardFamily, Shown
from edge.boards.modbus_text import ModbusTextBoard
from edge.boards.pages import Page, emergency_page, idle_page, notice_page
from edge.boards.supervisor import BoardSupervisor

__all__ = ["BoardFamily", "BoardSupervisor", "ModbusTextBoard", "Page", "Shown",
           "emergency_page", "idle_page", "notice_page"]
