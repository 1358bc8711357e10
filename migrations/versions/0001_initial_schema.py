"""initial schema

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-25 09:19:09.884860

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads')),
    sa.UniqueConstraint('email', name=op.f('uq_leads_email')),
    sa.UniqueConstraint('external_id', name=op.f('uq_leads_external_id')),
    sa.UniqueConstraint('phone', name=op.f('uq_leads_phone'))
    )
    op.create_table('operators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('max_load', sa.Integer(), nullable=False),
    sa.Column('active_load', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('active_load >= 0', name=op.f('ck_operators_active_load_non_negative')),
    sa.CheckConstraint('max_load >= 0 AND max_load <= 10000', name=op.f('ck_operators_max_load_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operators'))
    )
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.create_index('uq_operators_name_live', ['name'], unique=True, sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))

    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('webhook_token', sa.String(length=128), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources')),
    sa.UniqueConstraint('key', name=op.f('uq_sources_key')),
    sa.UniqueConstraint('name', name=op.f('uq_sources_name'))
    )
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_contacts_lead_id_leads')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_contacts_operator_id_operators')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_contacts_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_contacts_lead_id', ['lead_id', 'created_at'], unique=False)
        batch_op.create_index('ix_contacts_operator_active', ['operator_id', 'created_at'], unique=False, sqlite_where=sa.text('is_active'), postgresql_where=sa.text('is_active'))
        batch_op.create_index('ix_contacts_operator_id', ['operator_id', 'id'], unique=False)
        batch_op.create_index('ix_contacts_queue', ['created_at', 'id'], unique=False, sqlite_where=sa.text('is_active AND operator_id IS NULL'), postgresql_where=sa.text('is_active AND operator_id IS NULL'))
        batch_op.create_index('ix_contacts_source_id', ['source_id', 'id'], unique=False)

    op.create_table('lead_duplicates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('lead_id <> duplicate_of_id', name=op.f('ck_lead_duplicates_not_self')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['leads.id'], name=op.f('fk_lead_duplicates_duplicate_of_id_leads'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_lead_duplicates_lead_id_leads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_duplicates')),
    sa.UniqueConstraint('lead_id', 'duplicate_of_id', name=op.f('uq_lead_duplicates_lead_id'))
    )
    with op.batch_alter_table('lead_duplicates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_duplicates_duplicate_of_id'), ['duplicate_of_id'], unique=False)

    op.create_table('source_operator_distributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.CheckConstraint('weight >= 0.01 AND weight <= 999.99', name=op.f('ck_source_operator_distributions_weight_range')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_source_operator_distributions_operator_id_operators'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_source_operator_distributions_source_id_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_operator_distributions')),
    sa.UniqueConstraint('source_id', 'operator_id', name=op.f('uq_source_operator_distributions_source_id'))
    )
    with op.batch_alter_table('source_operator_distributions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_operator_distributions_operator_id'), ['operator_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('is_enabled', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('supervisor', 'operator')", name=op.f('ck_users_role_known')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_users_operator_id_operators'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_operator_id'), ['operator_id'], unique=False)

    op.create_table('webhook_idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_webhook_idempotency_keys_source_id_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_idempotency_keys')),
    sa.UniqueConstraint('source_id', 'key', name=op.f('uq_webhook_idempotency_keys_source_id'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)




def downgrade():
    
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('webhook_idempotency_keys')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_operator_id'))

    op.drop_table('users')
    with op.batch_alter_table('source_operator_distributions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_operator_distributions_operator_id'))

    op.drop_table('source_operator_distributions')
    with op.batch_alter_table('lead_duplicates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_duplicates_duplicate_of_id'))

    op.drop_table('lead_duplicates')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_source_id')
        batch_op.drop_index('ix_contacts_queue', sqlite_where=sa.text('is_active AND operator_id IS NULL'), postgresql_where=sa.text('is_active AND operator_id IS NULL'))
        batch_op.drop_index('ix_contacts_operator_id')
        batch_op.drop_index('ix_contacts_operator_active', sqlite_where=sa.text('is_active'), postgresql_where=sa.text('is_active'))
        batch_op.drop_index('ix_contacts_lead_id')
        batch_op.drop_index('ix_contacts_created_at')

    op.drop_table('contacts')
    op.drop_table('sources')
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_index('uq_operators_name_live', sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))

    op.drop_table('operators')
    op.drop_table('leads')

