"""portfolio: strategy, use cases, scoring, stages, criteria, value, patterns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 17:45:45.530452
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('counters',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counters'))
    )
    op.create_table('patterns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patterns')),
    sa.UniqueConstraint('name', name=op.f('uq_patterns_name'))
    )
    op.create_table('scoring_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scoring_models')),
    sa.UniqueConstraint('name', name=op.f('uq_scoring_models_name'))
    )
    op.create_table('scoring_criteria',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('inverse', sa.Boolean(), nullable=False),
    sa.Column('axis', sa.String(length=12), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['scoring_models.id'], name=op.f('fk_scoring_criteria_model_id_scoring_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scoring_criteria')),
    sa.UniqueConstraint('model_id', 'key', name=op.f('uq_scoring_criteria_model_id_key'))
    )
    with op.batch_alter_table('scoring_criteria', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scoring_criteria_model_id'), ['model_id'], unique=False)

    op.create_table('mission_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('vision', sa.Text(), nullable=False),
    sa.Column('change_note', sa.String(length=500), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_mission_versions_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mission_versions')),
    sa.UniqueConstraint('version', name=op.f('uq_mission_versions_version'))
    )
    op.create_table('objectives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_objectives_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_objectives')),
    sa.UniqueConstraint('title', name=op.f('uq_objectives_title'))
    )
    with op.batch_alter_table('objectives', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_objectives_owner_id'), ['owner_id'], unique=False)

    op.create_table('use_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('problem_statement', sa.Text(), nullable=False),
    sa.Column('opportunity_statement', sa.Text(), nullable=False),
    sa.Column('business_unit_id', sa.Integer(), nullable=False),
    sa.Column('sponsor_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('affected_users', sa.Text(), nullable=False),
    sa.Column('data_needed', sa.Text(), nullable=False),
    sa.Column('personal_data', sa.Boolean(), nullable=False),
    sa.Column('ai_type', sa.String(length=20), nullable=False),
    sa.Column('delivery_mode', sa.String(length=10), nullable=True),
    sa.Column('delivery_rationale', sa.Text(), nullable=False),
    sa.Column('build_cost_estimate', sa.Float(), nullable=False),
    sa.Column('run_cost_estimate', sa.Float(), nullable=False),
    sa.Column('target_date', sa.Date(), nullable=True),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('stage_before_hold', sa.String(length=20), nullable=True),
    sa.Column('stage_entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('production_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expected_benefit_annual', sa.Float(), nullable=False),
    sa.Column('realised_benefit', sa.Float(), nullable=False),
    sa.Column('realised_cost', sa.Float(), nullable=False),
    sa.Column('score_total', sa.Float(), nullable=True),
    sa.Column('score_value', sa.Float(), nullable=True),
    sa.Column('score_feasibility', sa.Float(), nullable=True),
    sa.Column('score_spread', sa.Float(), nullable=True),
    sa.Column('scorer_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_unit_id'], ['business_units.id'], name=op.f('fk_use_cases_business_unit_id_business_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_use_cases_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sponsor_id'], ['users.id'], name=op.f('fk_use_cases_sponsor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_use_cases_submitted_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_use_cases')),
    sa.UniqueConstraint('key', name=op.f('uq_use_cases_key'))
    )
    with op.batch_alter_table('use_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_use_cases_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_use_cases_score_total', ['score_total'], unique=False)
        batch_op.create_index('ix_use_cases_stage_unit', ['stage', 'business_unit_id'], unique=False)
        batch_op.create_index('ix_use_cases_unit_score', ['business_unit_id', 'score_total'], unique=False)
        batch_op.create_index('ix_use_cases_dashboard', ['business_unit_id', 'stage', 'stage_before_hold', 'production_at', 'stage_entered_at', 'expected_benefit_annual', 'realised_benefit', 'realised_cost'], unique=False)
        batch_op.create_index('ix_use_cases_delivered', ['business_unit_id', 'production_at', 'submitted_at'], unique=False)
        batch_op.create_index('ix_use_cases_realised_benefit', ['realised_benefit'], unique=False)

    op.create_table('expected_benefits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('use_case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=True),
    sa.Column('confidence', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['use_case_id'], ['use_cases.id'], name=op.f('fk_expected_benefits_use_case_id_use_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expected_benefits'))
    )
    with op.batch_alter_table('expected_benefits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expected_benefits_use_case_id'), ['use_case_id'], unique=False)

    op.create_table('kpis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=False),
    sa.Column('target', sa.Float(), nullable=False),
    sa.Column('target_date', sa.Date(), nullable=True),
    sa.Column('objective_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['objective_id'], ['objectives.id'], name=op.f('fk_kpis_objective_id_objectives'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_kpis_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpis')),
    sa.UniqueConstraint('name', name=op.f('uq_kpis_name'))
    )
    with op.batch_alter_table('kpis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kpis_objective_id'), ['objective_id'], unique=False)

    op.create_table('objective_units',
    sa.Column('objective_id', sa.Integer(), nullable=False),
    sa.Column('business_unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['business_unit_id'], ['business_units.id'], name=op.f('fk_objective_units_business_unit_id_business_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['objective_id'], ['objectives.id'], name=op.f('fk_objective_units_objective_id_objectives'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('objective_id', 'business_unit_id', name=op.f('pk_objective_units'))
    )
    op.create_table('scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('use_case_id', sa.Integer(), nullable=False),
    sa.Column('criterion_id', sa.Integer(), nullable=False),
    sa.Column('scorer_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['criterion_id'], ['scoring_criteria.id'], name=op.f('fk_scores_criterion_id_scoring_criteria'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scorer_id'], ['users.id'], name=op.f('fk_scores_scorer_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['use_case_id'], ['use_cases.id'], name=op.f('fk_scores_use_case_id_use_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scores')),
    sa.UniqueConstraint('use_case_id', 'criterion_id', 'scorer_id', name=op.f('uq_scores_use_case_id_criterion_id_scorer_id'))
    )
    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scores_criterion_id'), ['criterion_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scores_scorer_id'), ['scorer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scores_use_case_id'), ['use_case_id'], unique=False)

    op.create_table('stage_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('use_case_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=20), nullable=True),
    sa.Column('to_stage', sa.String(length=20), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_label', sa.String(length=254), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_stage_transitions_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['use_case_id'], ['use_cases.id'], name=op.f('fk_stage_transitions_use_case_id_use_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_transitions'))
    )
    with op.batch_alter_table('stage_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_transitions_use_case_id'), ['use_case_id'], unique=False)

    op.create_table('success_criteria',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('use_case_id', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=200), nullable=False),
    sa.Column('comparator', sa.String(length=2), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('how_measured', sa.Text(), nullable=False),
    sa.Column('result_value', sa.Float(), nullable=True),
    sa.Column('result_note', sa.Text(), nullable=False),
    sa.Column('result_link', sa.String(length=500), nullable=False),
    sa.Column('result_evidence', sa.String(length=120), nullable=False),
    sa.Column('result_recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result_recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['result_recorded_by_id'], ['users.id'], name=op.f('fk_success_criteria_result_recorded_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['use_case_id'], ['use_cases.id'], name=op.f('fk_success_criteria_use_case_id_use_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_success_criteria'))
    )
    with op.batch_alter_table('success_criteria', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_success_criteria_use_case_id'), ['use_case_id'], unique=False)

    op.create_table('use_case_objectives',
    sa.Column('use_case_id', sa.Integer(), nullable=False),
    sa.Column('objective_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['objective_id'], ['objectives.id'], name=op.f('fk_use_case_objectives_objective_id_objectives'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['use_case_id'], ['use_cases.id'], name=op.f('fk_use_case_objectives_use_case_id_use_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('use_case_id', 'objective_id', name=op.f('pk_use_case_objectives'))
    )
    op.create_table('use_case_patterns',
    sa.Column('use_case_id', sa.Integer(), nullable=False),
    sa.Column('pattern_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pattern_id'], ['patterns.id'], name=op.f('fk_use_case_patterns_pattern_id_patterns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['use_case_id'], ['use_cases.id'], name=op.f('fk_use_case_patterns_use_case_id_use_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('use_case_id', 'pattern_id', name=op.f('pk_use_case_patterns'))
    )
    with op.batch_alter_table('use_case_patterns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_use_case_patterns_pattern_id'), ['pattern_id'], unique=False)

    op.create_table('value_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('use_case_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_value_entries_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['use_case_id'], ['use_cases.id'], name=op.f('fk_value_entries_use_case_id_use_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_value_entries'))
    )
    with op.batch_alter_table('value_entries', schema=None) as batch_op:
        batch_op.create_index('ix_value_entries_use_case_period', ['use_case_id', 'period'], unique=False)

    op.create_table('kpi_measurements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kpi_id', sa.Integer(), nullable=False),
    sa.Column('measured_on', sa.Date(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_kpi_measurements_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['kpi_id'], ['kpis.id'], name=op.f('fk_kpi_measurements_kpi_id_kpis'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_measurements')),
    sa.UniqueConstraint('kpi_id', 'measured_on', name=op.f('uq_kpi_measurements_kpi_id_measured_on'))
    )
    with op.batch_alter_table('kpi_measurements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kpi_measurements_kpi_id'), ['kpi_id'], unique=False)

    op.create_table('use_case_kpis',
    sa.Column('use_case_id', sa.Integer(), nullable=False),
    sa.Column('kpi_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['kpi_id'], ['kpis.id'], name=op.f('fk_use_case_kpis_kpi_id_kpis'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['use_case_id'], ['use_cases.id'], name=op.f('fk_use_case_kpis_use_case_id_use_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('use_case_id', 'kpi_id', name=op.f('pk_use_case_kpis'))
    )


def downgrade() -> None:
    op.drop_table('use_case_kpis')
    with op.batch_alter_table('kpi_measurements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kpi_measurements_kpi_id'))

    op.drop_table('kpi_measurements')
    with op.batch_alter_table('value_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_value_entries_use_case_period')

    op.drop_table('value_entries')
    with op.batch_alter_table('use_case_patterns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_use_case_patterns_pattern_id'))

    op.drop_table('use_case_patterns')
    op.drop_table('use_case_objectives')
    with op.batch_alter_table('success_criteria', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_success_criteria_use_case_id'))

    op.drop_table('success_criteria')
    with op.batch_alter_table('stage_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_transitions_use_case_id'))

    op.drop_table('stage_transitions')
    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scores_use_case_id'))
        batch_op.drop_index(batch_op.f('ix_scores_scorer_id'))
        batch_op.drop_index(batch_op.f('ix_scores_criterion_id'))

    op.drop_table('scores')
    op.drop_table('objective_units')
    with op.batch_alter_table('kpis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kpis_objective_id'))

    op.drop_table('kpis')
    with op.batch_alter_table('expected_benefits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expected_benefits_use_case_id'))

    op.drop_table('expected_benefits')
    with op.batch_alter_table('use_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_use_cases_realised_benefit')
        batch_op.drop_index('ix_use_cases_delivered')
        batch_op.drop_index('ix_use_cases_dashboard')
        batch_op.drop_index('ix_use_cases_unit_score')
        batch_op.drop_index('ix_use_cases_stage_unit')
        batch_op.drop_index('ix_use_cases_score_total')
        batch_op.drop_index(batch_op.f('ix_use_cases_owner_id'))

    op.drop_table('use_cases')
    with op.batch_alter_table('objectives', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_objectives_owner_id'))

    op.drop_table('objectives')
    op.drop_table('mission_versions')
    with op.batch_alter_table('scoring_criteria', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scoring_criteria_model_id'))

    op.drop_table('scoring_criteria')
    op.drop_table('scoring_models')
    op.drop_table('patterns')
    op.drop_table('counters')
