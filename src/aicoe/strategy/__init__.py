"""Strategy: the CoE mission (versioned), strategic objectives and KPIs with measurements over time."""
