"""Utility meters: registry, readings and monthly consumption."""
