"""CJ/T 188-2004 water meters (cold and domestic hot water) on RS-485: the frame codec (the
line is the DL/T 645 meter line, told the protocol)."""

from edge.drivers.cjt188.frame import (
    COLD_WATER,
    HOT_WATER,
    WATER_TYPES,
    Current,
    Frame,
    FrameError,
    FrameReader,
    check_address,
    current_answer,
    decode,
    encode,
    parse_current,
    read_request,
)

__all__ = ["COLD_WATER", "HOT_WATER", "WATER_TYPES", "Current", "Frame", "FrameError",
           "FrameReader", "check_address", "current_answer", "decode", "encode", "parse_current", "read_request"]
