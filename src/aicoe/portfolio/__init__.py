"""The use-case portfolio: intake, scoring and prioritisation, stage gates, proofs of concept, value delivery."""
