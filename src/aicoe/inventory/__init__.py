"""The AI inventory: systems, models, datasets, deployments, vendors, lineage, model cards and the AI BOM."""
