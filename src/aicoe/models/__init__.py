"""ORM tables, one module per area. Importing this package registers every table on ``Base.metadata``."""

from aicoe.models.audit import AuditEvent, AuditHead
from aicoe.models.compliance import (
    Assessment,
    Classification,
    Control,
    ControlImplementation,
    ControlRequirement,
    Evidence,
    EvidenceLink,
    Framework,
    Requirement,
    RequirementMapping,
    RequirementResult,
)
from aicoe.models.evaluation import EvaluationRun
from aicoe.models.files import StoredFile
from aicoe.models.gateway import (
    GatewayBudget,
    GatewayProvider,
    GatewayReservation,
    GatewayRoute,
    GatewaySpend,
    GuardrailEvent,
    GuardrailPolicy,
    PromptLog,
    UsageRecord,
    VirtualKey,
)
from aicoe.models.inventory import (
    AISystem,
    Dataset,
    Deployment,
    Model,
    ModelDataset,
    SystemDataset,
    SystemModel,
    Vendor,
)
from aicoe.models.jobs import Job
from aicoe.models.org import ApiToken, BusinessUnit, LoginAttempt, RoleAssignment, User, UserSession
from aicoe.models.policy import Attestation, Policy, PolicyVersion
from aicoe.models.portfolio import (
    Counter,
    ExpectedBenefit,
    Pattern,
    Score,
    ScoringCriterion,
    ScoringModel,
    StageTransition,
    SuccessCriterion,
    UseCase,
    ValueEntry,
)
from aicoe.models.reviews import ReviewCadence, ReviewComment, ReviewDecision, ReviewRequest
from aicoe.models.risk import Risk, RiskMatrix
from aicoe.models.sensitive import SensitiveFinding, SensitiveScan
from aicoe.models.strategy import Kpi, KpiMeasurement, MissionVersion, Objective

__all__ = [
    "AISystem", "Dataset", "Deployment", "Model", "ModelDataset", "SystemDataset", "SystemModel", "Vendor",
    "ApiToken", "AuditEvent", "AuditHead", "BusinessUnit", "Counter", "ExpectedBenefit", "Job", "Kpi",
    "KpiMeasurement", "LoginAttempt", "MissionVersion", "Objective", "Pattern", "RoleAssignment", "Score",
    "ScoringCriterion", "ScoringModel", "StageTransition", "StoredFile", "SuccessCriterion", "UseCase", "User",
    "UserSession", "ValueEntry",
    "Assessment", "Classification", "Control", "ControlImplementation", "ControlRequirement", "Evidence",
    "EvidenceLink", "Framework", "Requirement", "RequirementMapping", "RequirementResult",
    "Attestation", "Policy", "PolicyVersion", "ReviewCadence", "ReviewComment", "ReviewDecision", "ReviewRequest",
    "Risk", "RiskMatrix", "SensitiveFinding", "SensitiveScan", "EvaluationRun",
    "GatewayBudget", "GatewayProvider", "GatewayReservation", "GatewayRoute", "GatewaySpend", "GuardrailEvent",
    "GuardrailPolicy", "PromptLog", "UsageRecord", "VirtualKey",
]
