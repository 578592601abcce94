"""The sensitive-data area: dataset scans, findings and governance rules over lineage."""
