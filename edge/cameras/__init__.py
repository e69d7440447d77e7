"""Cameras at the edge: QR codes for the door decision, motion in armed zones, tamper
faults, and snapshots spooled for upload to the hub."""
