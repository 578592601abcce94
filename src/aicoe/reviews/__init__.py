"""Board reviews and approvals, re-review schedules, and the governance stage-gate checks."""
