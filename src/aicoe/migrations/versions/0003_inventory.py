"""inventory: AI systems, models, datasets, deployments, vendors, lineage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 18:34:51.371756
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vendors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('website', sa.String(length=500), nullable=False),
    sa.Column('contact_name', sa.String(length=120), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendors')),
    sa.UniqueConstraint('name', name=op.f('uq_vendors_name'))
    )
    op.create_table('datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('business_unit_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('steward_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=True),
    sa.Column('location_uri', sa.String(length=1000), nullable=False),
    sa.Column('format', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('row_count', sa.BigInteger(), nullable=True),
    sa.Column('classification', sa.String(length=16), nullable=False),
    sa.Column('personal_data', sa.Boolean(), nullable=False),
    sa.Column('special_category_data', sa.Boolean(), nullable=False),
    sa.Column('legal_basis', sa.String(length=24), nullable=True),
    sa.Column('consent_status', sa.String(length=120), nullable=False),
    sa.Column('retention_period_days', sa.Integer(), nullable=True),
    sa.Column('deletion_date', sa.Date(), nullable=True),
    sa.Column('residency', sa.String(length=120), nullable=False),
    sa.Column('licence', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_unit_id'], ['business_units.id'], name=op.f('fk_datasets_business_unit_id_business_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_datasets_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['steward_id'], ['users.id'], name=op.f('fk_datasets_steward_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_datasets_vendor_id_vendors'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets')),
    sa.UniqueConstraint('name', name=op.f('uq_datasets_name'))
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_datasets_business_unit_id'), ['business_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_datasets_vendor_id'), ['vendor_id'], unique=False)

    op.create_table('models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('business_unit_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('vendor_id', sa.Integer(), nullable=True),
    sa.Column('base_model_id', sa.Integer(), nullable=True),
    sa.Column('licence', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('intended_use', sa.Text(), nullable=False),
    sa.Column('out_of_scope_uses', sa.Text(), nullable=False),
    sa.Column('limitations', sa.Text(), nullable=False),
    sa.Column('known_biases', sa.Text(), nullable=False),
    sa.Column('evaluation_summary', sa.Text(), nullable=False),
    sa.Column('artefact_uri', sa.String(length=1000), nullable=False),
    sa.Column('checksum', sa.String(length=80), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('mlflow_name', sa.String(length=200), nullable=True),
    sa.Column('mlflow_version', sa.String(length=32), nullable=True),
    sa.Column('mlflow_run_id', sa.String(length=64), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['base_model_id'], ['models.id'], name=op.f('fk_models_base_model_id_models'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['business_unit_id'], ['business_units.id'], name=op.f('fk_models_business_unit_id_business_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_models_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_models_vendor_id_vendors'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_models_name_version'))
    )
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_models_base_model_id'), ['base_model_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_business_unit_id'), ['business_unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_vendor_id'), ['vendor_id'], unique=False)

    op.create_table('ai_systems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('use_case_id', sa.Integer(), nullable=True),
    sa.Column('business_unit_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('technical_owner_id', sa.Integer(), nullable=True),
    sa.Column('ai_type', sa.String(length=20), nullable=False),
    sa.Column('lifecycle_status', sa.String(length=20), nullable=False),
    sa.Column('eu_ai_act_role', sa.String(length=16), nullable=False),
    sa.Column('affected_people', sa.Text(), nullable=False),
    sa.Column('human_oversight', sa.Text(), nullable=False),
    sa.Column('risk_tier', sa.String(length=16), nullable=True),
    sa.Column('assessment_status', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['business_unit_id'], ['business_units.id'], name=op.f('fk_ai_systems_business_unit_id_business_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_ai_systems_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['technical_owner_id'], ['users.id'], name=op.f('fk_ai_systems_technical_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['use_case_id'], ['use_cases.id'], name=op.f('fk_ai_systems_use_case_id_use_cases'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_systems')),
    sa.UniqueConstraint('name', name=op.f('uq_ai_systems_name'))
    )
    with op.batch_alter_table('ai_systems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ai_systems_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_ai_systems_unit_status', ['business_unit_id', 'lifecycle_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_ai_systems_use_case_id'), ['use_case_id'], unique=False)

    op.create_table('model_datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_model_datasets_dataset_id_datasets'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_model_datasets_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_datasets')),
    sa.UniqueConstraint('model_id', 'dataset_id', 'purpose', name=op.f('uq_model_datasets_model_id_dataset_id_purpose'))
    )
    with op.batch_alter_table('model_datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_datasets_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_model_datasets_model_id'), ['model_id'], unique=False)

    op.create_table('ai_system_vendors',
    sa.Column('ai_system_id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ai_system_id'], ['ai_systems.id'], name=op.f('fk_ai_system_vendors_ai_system_id_ai_systems'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_ai_system_vendors_vendor_id_vendors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ai_system_id', 'vendor_id', name=op.f('pk_ai_system_vendors'))
    )
    with op.batch_alter_table('ai_system_vendors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ai_system_vendors_vendor_id'), ['vendor_id'], unique=False)

    op.create_table('deployments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ai_system_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=True),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('endpoint', sa.String(length=1000), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('deployed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('gateway_route', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ai_system_id'], ['ai_systems.id'], name=op.f('fk_deployments_ai_system_id_ai_systems'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_deployments_model_id_models'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments'))
    )
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deployments_ai_system_id'), ['ai_system_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployments_model_id'), ['model_id'], unique=False)

    op.create_table('system_datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ai_system_id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['ai_system_id'], ['ai_systems.id'], name=op.f('fk_system_datasets_ai_system_id_ai_systems'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_system_datasets_dataset_id_datasets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_system_datasets')),
    sa.UniqueConstraint('ai_system_id', 'dataset_id', name=op.f('uq_system_datasets_ai_system_id_dataset_id'))
    )
    with op.batch_alter_table('system_datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_system_datasets_ai_system_id'), ['ai_system_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_system_datasets_dataset_id'), ['dataset_id'], unique=False)

    op.create_table('system_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ai_system_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['ai_system_id'], ['ai_systems.id'], name=op.f('fk_system_models_ai_system_id_ai_systems'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_system_models_model_id_models'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_system_models')),
    sa.UniqueConstraint('ai_system_id', 'model_id', name=op.f('uq_system_models_ai_system_id_model_id'))
    )
    with op.batch_alter_table('system_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_system_models_ai_system_id'), ['ai_system_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_system_models_model_id'), ['model_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('system_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_system_models_model_id'))
        batch_op.drop_index(batch_op.f('ix_system_models_ai_system_id'))

    op.drop_table('system_models')
    with op.batch_alter_table('system_datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_system_datasets_dataset_id'))
        batch_op.drop_index(batch_op.f('ix_system_datasets_ai_system_id'))

    op.drop_table('system_datasets')
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deployments_model_id'))
        batch_op.drop_index(batch_op.f('ix_deployments_ai_system_id'))

    op.drop_table('deployments')
    with op.batch_alter_table('ai_system_vendors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ai_system_vendors_vendor_id'))

    op.drop_table('ai_system_vendors')
    with op.batch_alter_table('model_datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_datasets_model_id'))
        batch_op.drop_index(batch_op.f('ix_model_datasets_dataset_id'))

    op.drop_table('model_datasets')
    with op.batch_alter_table('ai_systems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ai_systems_use_case_id'))
        batch_op.drop_index('ix_ai_systems_unit_status')
        batch_op.drop_index(batch_op.f('ix_ai_systems_owner_id'))

    op.drop_table('ai_systems')
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_models_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_models_business_unit_id'))
        batch_op.drop_index(batch_op.f('ix_models_base_model_id'))

    op.drop_table('models')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasets_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_datasets_business_unit_id'))

    op.drop_table('datasets')
    op.drop_table('vendors')
