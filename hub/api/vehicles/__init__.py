"""Vehicles: registered cars, visitor-car passes, blocked plates, vehicles inside."""
