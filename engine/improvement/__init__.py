"""Continuous improvement (docs/improvement.md): disputes, notifications, adoption KPIs, accuracy, rule reviews,
cost avoidance, the allocation system's own cost and benchmarks against editable target bands."""
