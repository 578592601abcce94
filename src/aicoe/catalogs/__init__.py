"""Framework catalogs as data: the file formats (``schema``), loading and validation (``loader``), and the
catalogs and cross-framework mappings shipped with aicoe (``data/frameworks``, ``data/mappings``).

The database side (importing into Framework / Requirement / RequirementMapping rows) is
``aicoe.compliance.frameworks``.
"""
