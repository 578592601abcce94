"""The GenAI gateway: an OpenAI-compatible proxy with guardrails, virtual keys, limits, budgets and metering."""
