"""ORM tables, one module per area. Importing this package registers every table on ``Base.metadata``."""

from aicoe.models.audit import AuditEvent, AuditHead
from aicoe.models.files import StoredFile
from aicoe.models.jobs import Job
from aicoe.models.org import ApiToken, BusinessUnit, LoginAttempt, RoleAssignment, User, UserSession

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AuditHead",
    "BusinessUnit",
    "Job",
    "LoginAttempt",
    "RoleAssignment",
    "StoredFile",
    "User",
    "UserSession",
]
