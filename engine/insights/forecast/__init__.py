"""Forecasts of direct spend per cost centre and business unit: month-end and next quarter from a run-rate with a
weekly profile plus known commitments, an 80% interval that widens with the horizon, a backtest of past months, and
budget vs forecast vs actual. Method and limits: docs/forecast.md.

- model       the run-rate and its interval (numpy, no store)
- series      what is read from the store (scoped, attributed through engine.insights.attribution)
- projection  month-end and next-quarter per cost centre, roll-up per business unit
- backtest    MAPE, bias and interval coverage over past months
- budget      the executives' read model: budget vs forecast vs actual
"""
