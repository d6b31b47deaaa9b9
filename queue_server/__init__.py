"""motcua: queue ticketing and hall display for Vietnamese one-stop offices."""

__version__ = "0.1.0"
