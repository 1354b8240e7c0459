"""Fitting a scenario to a store's history (history loaders, losses, calibrators, backtests)."""
