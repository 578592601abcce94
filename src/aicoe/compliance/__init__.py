"""Compliance: framework catalogs in the database, EU AI Act classification, assessments, controls, evidence."""
