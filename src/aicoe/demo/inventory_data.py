"""Meridian Trust's AI inventory (fictional): vendors, datasets, models and AI systems matching the portfolio."""

from __future__ import annotations

from dataclasses import dataclass, field

# name, type, website, contact name, contact email
VENDORS: list[tuple[str, str, str, str, str]] = [
    ("Nimbus AI", "model_provider", "https://nimbus-ai.example", "Dana Ruiz", "dana.ruiz@nimbus-ai.example"),
    ("OpenWeights Foundation", "model_provider", "https://openweights.example", "", ""),
    ("DocuLens", "isv", "https://doculens.example", "Jonas Berg", "jonas@doculens.example"),
    ("Northbridge Consulting", "system_integrator", "https://northbridge.example", "Priya Shah",
     "priya.shah@northbridge.example"),
    ("CreditSphere Data", "data_provider", "https://creditsphere.example", "Tom Elliott",
     "t.elliott@creditsphere.example"),
    ("CodeMate", "isv", "https://codemate.example", "", ""),
]

# name, unit, owner, source, vendor, uri, format, rows, classification, personal, special, legal basis, retention days
DATASETS: list[tuple[str, str, str, str, str | None, str, str, int, str, bool, bool, str | None, int]] = [
    ("Card authorisations 2023-2026", "RET-CARDS", "ben.carter", "internal", None,
     "s3://meridian-lake/cards/authorisations/", "parquet", 1_850_000_000, "confidential", True, False,
     "legitimate_interests", 2555),
    ("Confirmed fraud labels", "RET-CARDS", "ben.carter", "internal", None, "s3://meridian-lake/cards/fraud-labels/",
     "parquet", 2_400_000, "confidential", True, False, "legal_obligation", 2555),
    ("Merchant applications", "RET-CARDS", "ben.carter", "internal", None, "s3://meridian-lake/cards/merchants/",
     "parquet", 310_000, "confidential", True, False, "contract", 2555),
    ("Loan applications and outcomes", "RET-LEND", "julia.novak", "internal", None,
     "s3://meridian-lake/lending/applications/", "parquet", 4_200_000, "restricted", True, False, "contract", 3650),
    ("Credit bureau attributes", "RET-LEND", "julia.novak", "vendor", "CreditSphere Data",
     "s3://meridian-lake/vendor/creditsphere/", "parquet", 4_200_000, "restricted", True, False, "contract", 1825),
    ("SME transaction history", "CORP", "li.wei", "internal", None, "s3://meridian-lake/corporate/transactions/",
     "parquet", 96_000_000, "confidential", False, False, None, 3650),
    ("Mortgage document samples (labelled)", "RET-LEND", "julia.novak", "internal", None,
     "s3://meridian-lake/lending/mortgage-docs/", "pdf", 52_000, "restricted", True, False, "contract", 1825),
    ("Motor claims history", "INS", "samuel.adeyemi", "internal", None, "s3://meridian-lake/insurance/claims/",
     "parquet", 2_900_000, "confidential", True, True, "contract", 3650),
    ("Claims medical and repair reports", "INS", "samuel.adeyemi", "internal", None,
     "s3://meridian-lake/insurance/reports/", "pdf", 640_000, "restricted", True, True, "contract", 3650),
    ("Contact-centre knowledge base", "OPS", "carlos.silva", "internal", None,
     "https://kb.meridian.example/api/export", "html", 18_500, "internal", False, False, None, 730),
    ("Call transcripts (redacted)", "OPS", "carlos.silva", "internal", None, "s3://meridian-lake/ops/transcripts/",
     "jsonl", 7_300_000, "confidential", True, False, "legitimate_interests", 365),
    ("Contact-centre call volumes", "OPS", "carlos.silva", "internal", None, "s3://meridian-lake/ops/volumes/",
     "csv", 420_000, "internal", False, False, None, 1825),
    ("Policy wordings library", "INS", "samuel.adeyemi", "internal", None,
     "https://docs.meridian.example/insurance/wordings", "pdf", 380, "internal", False, False, None, 3650),
    ("Customer complaints", "RET", "daniel.okafor", "internal", None, "s3://meridian-lake/retail/complaints/",
     "jsonl", 610_000, "confidential", True, False, "legal_obligation", 2190),
    ("AML alerts and investigations", "RISK", "priya.raman", "internal", None, "s3://meridian-lake/risk/aml/",
     "parquet", 3_100_000, "restricted", True, False, "legal_obligation", 1825),
    ("Wealth client meeting notes", "WLT", "eva.rossi", "internal", None, "s3://meridian-lake/wealth/notes/",
     "jsonl", 240_000, "restricted", True, False, "contract", 2555),
    ("Trade finance documents", "CORP", "li.wei", "internal", None, "s3://meridian-lake/corporate/trade-docs/",
     "pdf", 88_000, "confidential", False, False, None, 3650),
    ("Source code repositories", "OPS", "grace.kim", "internal", None, "https://git.meridian.example", "git",
     0, "confidential", False, False, None, 3650),
    ("HR policy handbook", "GRP", "zoe.turner", "internal", None, "https://intranet.meridian.example/hr/handbook",
     "html", 120, "internal", False, False, None, 730),
    ("Public regulatory texts", "RISK", "fatima.zahra", "public", None, "https://eur-lex.europa.eu", "html",
     12_000, "public", False, False, None, 3650),
]

# name, version, kind, vendor, licence, base (name, version) or None
FOUNDATION_MODELS: list[tuple[str, str, str, str, str]] = [
    ("nimbus-chat", "2026-05", "third_party_api", "Nimbus AI", "Nimbus commercial terms"),
    ("nimbus-embed", "3", "third_party_api", "Nimbus AI", "Nimbus commercial terms"),
    ("ow-llm-70b-instruct", "3.1", "open_weights", "OpenWeights Foundation", "OpenWeights community licence"),
    ("doculens-extract", "5.2", "third_party_api", "DocuLens", "DocuLens enterprise licence"),
    ("codemate-assist", "2026.2", "third_party_api", "CodeMate", "CodeMate SaaS terms"),
]


@dataclass
class DemoSystem:
    use_case: str | None  # title of the demo use case it delivers
    name: str
    unit: str
    ai_type: str
    status: str
    owner: str
    tech_owner: str
    models: list[tuple[str, str]]  # (name, version) — own models are listed in OWN_MODELS
    datasets: list[str] = field(default_factory=list)  # used directly (e.g. retrieval corpora)
    vendors: list[str] = field(default_factory=list)
    role: str = "deployer"
    oversight: str = "A named reviewer checks every output that affects a customer before it takes effect."
    route: str = ""


# name, version, kind, unit, owner, base (name, version) or None, [(dataset, purpose)], metrics
OWN_MODELS: list[tuple[str, str, str, str, str, tuple[str, str] | None, list[tuple[str, str]], dict[str, float]]] = [
    ("card-fraud-gbm", "4.2", "in_house", "RET-CARDS", "chloe.dubois", None,
     [("Card authorisations 2023-2026", "train"), ("Confirmed fraud labels", "train"),
      ("Confirmed fraud labels", "evaluate")], {"roc_auc": 0.962, "precision_at_1pct_fpr": 0.71}),
    ("merchant-risk-gbm", "1.3", "in_house", "RET-CARDS", "chloe.dubois", None,
     [("Merchant applications", "train")], {"roc_auc": 0.901}),
    ("loan-decision-xgb", "7.0", "in_house", "RET-LEND", "lena.fischer", None,
     [("Loan applications and outcomes", "train"), ("Credit bureau attributes", "train"),
      ("Loan applications and outcomes", "evaluate")], {"roc_auc": 0.874, "gini": 0.748}),
    ("sme-limit-recommender", "0.4", "in_house", "CORP", "lena.fischer", None,
     [("SME transaction history", "train")], {"mae_eur": 18250.0}),
    ("claims-triage-gbm", "3.1", "in_house", "INS", "omar.haddad", None,
     [("Motor claims history", "train"), ("Motor claims history", "evaluate")], {"accuracy": 0.913}),
    ("claims-fraud-graph", "0.2", "in_house", "INS", "omar.haddad", None, [("Motor claims history", "train")], {}),
    ("call-volume-forecaster", "2.4", "in_house", "OPS", "grace.kim", None,
     [("Contact-centre call volumes", "train")], {"mape": 0.061}),
    ("complaint-classifier", "0.9", "fine_tuned", "RET", "chloe.dubois", ("ow-llm-70b-instruct", "3.1"),
     [("Customer complaints", "fine_tune"), ("Customer complaints", "evaluate")], {"macro_f1": 0.83}),
    ("aml-alert-ranker", "1.1", "in_house", "RISK", "lena.fischer", None,
     [("AML alerts and investigations", "train"), ("AML alerts and investigations", "evaluate")],
     {"recall_at_20pct": 0.88}),
    ("meridian-assistant-ft", "1.0", "fine_tuned", "OPS", "grace.kim", ("ow-llm-70b-instruct", "3.1"),
     [("Call transcripts (redacted)", "fine_tune")], {"answer_acceptance_rate": 0.81}),
    ("wealth-notes-drafter", "0.3", "fine_tuned", "WLT", "rahul.mehta", ("meridian-assistant-ft", "1.0"),
     [("Wealth client meeting notes", "fine_tune")], {}),
]

SYSTEMS: list[DemoSystem] = [
    DemoSystem("Real-time card fraud scoring", "Fraud Sentinel", "RET-CARDS", "predictive_ml", "in_production",
               "ben.carter", "chloe.dubois", [("card-fraud-gbm", "4.2")], role="provider",
               oversight="Declines above the review band go to fraud analysts; customers can dispute in the app."),
    DemoSystem("Merchant onboarding anomaly checks", "Merchant Watch", "RET-CARDS", "predictive_ml", "in_validation",
               "ben.carter", "chloe.dubois", [("merchant-risk-gbm", "1.3")], role="provider"),
    DemoSystem("Automated personal loan decisions", "Credit Decision Engine", "RET-LEND", "predictive_ml",
               "in_production", "julia.novak", "lena.fischer", [("loan-decision-xgb", "7.0")],
               vendors=["CreditSphere Data"], role="provider",
               oversight="Automated approvals only; every decline is reviewed by an underwriter (GDPR Art. 22)."),
    DemoSystem("SME credit limit recommendations", "SME Limit Advisor", "CORP", "predictive_ml", "in_development",
               "li.wei", "lena.fischer", [("sme-limit-recommender", "0.4")], role="provider"),
    DemoSystem("Mortgage document extraction", "Mortgage DocReader", "RET-LEND", "generative_ai", "in_validation",
               "julia.novak", "rahul.mehta", [("doculens-extract", "5.2")],
               datasets=["Mortgage document samples (labelled)"], vendors=["DocuLens"]),
    DemoSystem("Claims triage and fast-track", "Claims Triage", "INS", "predictive_ml", "in_production",
               "samuel.adeyemi", "omar.haddad", [("claims-triage-gbm", "3.1")], role="provider"),
    DemoSystem("Claims letter summarisation", "Claims Summariser", "INS", "generative_ai", "in_production",
               "samuel.adeyemi", "omar.haddad", [("nimbus-chat", "2026-05"), ("nimbus-embed", "3")],
               datasets=["Claims medical and repair reports"], vendors=["Nimbus AI", "Northbridge Consulting"],
               route="claims-summary"),
    DemoSystem("Insurance fraud network detection", "Claims Network Analytics", "INS", "predictive_ml",
               "in_development", "samuel.adeyemi", "omar.haddad", [("claims-fraud-graph", "0.2")], role="provider"),
    DemoSystem("Contact-centre agent assistant", "Agent Copilot", "OPS", "generative_ai", "in_production",
               "carlos.silva", "grace.kim", [("meridian-assistant-ft", "1.0"), ("nimbus-embed", "3")],
               datasets=["Contact-centre knowledge base"], vendors=["Nimbus AI"], role="provider",
               route="agent-copilot"),
    DemoSystem("Customer chat assistant for cards", "Cards Chat", "RET-CARDS", "generative_ai", "in_validation",
               "ben.carter", "grace.kim", [("nimbus-chat", "2026-05"), ("nimbus-embed", "3")],
               datasets=["Contact-centre knowledge base"], vendors=["Nimbus AI"], route="cards-chat",
               oversight="Hands off to a human agent on low confidence or on request; answers cite sources."),
    DemoSystem("Wealth client meeting notes", "Adviser Notes Drafter", "WLT", "generative_ai", "in_development",
               "eva.rossi", "rahul.mehta", [("wealth-notes-drafter", "0.3")], role="provider"),
    DemoSystem("Trade finance document checks", "LC Document Checker", "CORP", "generative_ai", "in_development",
               "li.wei", "rahul.mehta", [("doculens-extract", "5.2"), ("nimbus-chat", "2026-05")],
               datasets=["Trade finance documents"], vendors=["DocuLens", "Nimbus AI"]),
    DemoSystem("Call volume forecasting", "Volume Forecaster", "OPS", "predictive_ml", "in_production",
               "carlos.silva", "grace.kim", [("call-volume-forecaster", "2.4")], role="provider",
               oversight="Planners review and adjust the forecast before rosters are published."),
    DemoSystem("Developer code assistant", "Code Assistant", "OPS", "generative_ai", "in_production",
               "marcus.chen", "grace.kim", [("codemate-assist", "2026.2")], datasets=["Source code repositories"],
               vendors=["CodeMate"], route="code-assist",
               oversight="Suggestions are reviewed by the engineer and by code review before merge."),
    DemoSystem("Complaint classification and routing", "Complaint Router", "RET", "generative_ai",
               "in_development", "daniel.okafor", "chloe.dubois", [("complaint-classifier", "0.9")], role="provider"),
    DemoSystem("AML alert prioritisation", "AML Prioritiser", "RISK", "predictive_ml", "in_validation",
               "priya.raman", "lena.fischer", [("aml-alert-ranker", "1.1")], role="provider",
               oversight="Investigators still review every alert; the model only orders the queue."),
    DemoSystem("HR policy assistant", "HR Policy Bot", "GRP", "generative_ai", "retired", "zoe.turner", "grace.kim",
               [("nimbus-chat", "2026-05")], datasets=["HR policy handbook"], vendors=["Nimbus AI"]),
    DemoSystem("Policy wording Q&A for underwriters", "Wording Assistant", "INS", "generative_ai",
               "in_development", "samuel.adeyemi", "omar.haddad", [("nimbus-chat", "2026-05"), ("nimbus-embed", "3")],
               datasets=["Policy wordings library"], vendors=["Nimbus AI"]),
    DemoSystem("Invoice processing for procurement", "Invoice Reader", "PROC", "generative_ai", "in_development",
               "victor.ng", "rahul.mehta", [("doculens-extract", "5.2")], vendors=["DocuLens"]),
    DemoSystem("Model monitoring automation", "Model Monitor", "COE", "predictive_ml", "in_development",
               "marcus.chen", "grace.kim", [], role="provider"),
    DemoSystem("Regulatory change summaries", "RegWatch Summariser", "RISK", "generative_ai", "in_development",
               "fatima.zahra", "rahul.mehta", [("nimbus-chat", "2026-05")], datasets=["Public regulatory texts"],
               vendors=["Nimbus AI"]),
    DemoSystem(None, "Enterprise Search (RAG)", "OPS", "generative_ai", "in_production", "marcus.chen",
               "grace.kim", [("ow-llm-70b-instruct", "3.1"), ("nimbus-embed", "3")],
               datasets=["Contact-centre knowledge base", "HR policy handbook", "Policy wordings library"],
               vendors=["OpenWeights Foundation", "Nimbus AI"], role="provider", route="enterprise-search"),
    DemoSystem(None, "Document Redaction Service", "OPS", "predictive_ml", "in_production", "nina.petrova",
               "grace.kim", [], role="provider",
               oversight="Samples of redacted documents are checked weekly by the data protection team."),
    DemoSystem(None, "Churn Signals Pilot", "RET", "predictive_ml", "in_development", "daniel.okafor",
               "lena.fischer", [], role="provider"),
    DemoSystem(None, "Collections Contact Optimiser", "RET-LEND", "predictive_ml", "in_development",
               "julia.novak", "lena.fischer", [], role="provider"),
    DemoSystem(None, "Synthetic Data Generator", "COE", "generative_ai", "in_development", "marcus.chen",
               "lena.fischer", [("ow-llm-70b-instruct", "3.1")], vendors=["OpenWeights Foundation"],
               role="provider"),
    DemoSystem(None, "Branch Footfall Forecaster", "RET", "predictive_ml", "in_development", "daniel.okafor",
               "grace.kim", [], role="provider"),
    DemoSystem(None, "IT Incident Summariser", "OPS", "generative_ai", "in_development", "carlos.silva",
               "hannah.berg", [("nimbus-chat", "2026-05")], vendors=["Nimbus AI"]),
    DemoSystem(None, "Voice Verification (paused)", "RET", "predictive_ml", "retired", "daniel.okafor",
               "grace.kim", [], vendors=["Northbridge Consulting"]),
    DemoSystem(None, "Sanctions Name Matcher", "RISK", "predictive_ml", "in_development", "priya.raman",
               "lena.fischer", [], role="provider"),
]
