"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 01:29:07.621373
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("custom_domains_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "connected_domains",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("robots_disallow_meetings", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_connected_domains_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connected_domains")),
    )
    op.create_index(
        op.f("ix_connected_domains_account_id"), "connected_domains", ["account_id"], unique=False
    )
    op.create_index(
        "uq_connected_domains_domain",
        "connected_domains",
        [sa.literal_column("lower(domain)")],
        unique=True,
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contacts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index(op.f("ix_contacts_account_id"), "contacts", ["account_id"], unique=False)
    op.create_index(
        "uq_contacts_account_email",
        "contacts",
        ["account_id", sa.literal_column("lower(email)")],
        unique=True,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column(
            "seat",
            sa.Enum(
                "NONE",
                "SALES",
                "SERVICE",
                name="seat",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "tier",
            sa.Enum(
                "FREE",
                "STARTER",
                "PROFESSIONAL",
                "ENTERPRISE",
                name="tier",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("personal_email_access", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_users_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(op.f("ix_users_account_id"), "users", ["account_id"], unique=False)
    op.create_index(
        "uq_users_account_email",
        "users",
        ["account_id", sa.literal_column("lower(email)")],
        unique=True,
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_api_tokens_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_account_id"), "api_tokens", ["account_id"], unique=False)
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "calendar_connections",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "provider",
            sa.Enum(
                "GOOGLE",
                "MICROSOFT365",
                "EXCHANGE",
                name="provider",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("account_email", sa.String(length=320), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "BOTH",
                "CALENDAR_SETTINGS",
                "MEETINGS_SETTINGS",
                name="connectionpurpose",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "CONNECTED",
                "ACCESS_LOST",
                "DISCONNECTED",
                name="connectionstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "sync_state",
            sa.Enum(
                "IDLE",
                "SYNCING",
                "SYNCED",
                "ERROR",
                name="syncstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("calendar_sync_enabled", sa.Boolean(), nullable=False),
        sa.Column("task_sync_enabled", sa.Boolean(), nullable=False),
        sa.Column("scheduling_pages_enabled", sa.Boolean(), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("events_synced", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_calendar_connections_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_connections_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_connections")),
    )
    op.create_index(
        op.f("ix_calendar_connections_account_id"),
        "calendar_connections",
        ["account_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_calendar_connections_user_id"), "calendar_connections", ["user_id"], unique=False
    )
    op.create_table(
        "scheduling_pages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url_prefix", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("durations_minutes", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("slot_interval_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_before_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_after_minutes", sa.Integer(), nullable=False),
        sa.Column("minimum_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("booking_window_days", sa.Integer(), nullable=False),
        sa.Column("max_meetings_per_day", sa.Integer(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("weekly_hours", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("date_overrides", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("form_fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_scheduling_pages_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_scheduling_pages_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduling_pages")),
    )
    op.create_index(
        op.f("ix_scheduling_pages_account_id"), "scheduling_pages", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_scheduling_pages_user_id"), "scheduling_pages", ["user_id"], unique=False
    )
    op.create_index(
        "ix_scheduling_pages_user_id_id", "scheduling_pages", ["user_id", "id"], unique=False
    )
    op.create_index(
        "uq_scheduling_pages_slug",
        "scheduling_pages",
        [sa.literal_column("lower(slug)")],
        unique=True,
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_event_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_tasks_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_tasks_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tasks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(op.f("ix_tasks_account_id"), "tasks", ["account_id"], unique=False)
    op.create_index(op.f("ix_tasks_user_id"), "tasks", ["user_id"], unique=False)
    op.create_table(
        "bookings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("host_user_id", sa.BigInteger(), nullable=False),
        sa.Column("page_id", sa.BigInteger(), nullable=True),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "REQUESTED",
                "CONFIRMED",
                "CANCELLED",
                name="bookingstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("remote_event_id", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_bookings_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_bookings_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["host_user_id"],
            ["users.id"],
            name=op.f("fk_bookings_host_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["scheduling_pages.id"],
            name=op.f("fk_bookings_page_id_scheduling_pages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    op.create_index(op.f("ix_bookings_account_id"), "bookings", ["account_id"], unique=False)
    op.create_index(op.f("ix_bookings_contact_id"), "bookings", ["contact_id"], unique=False)
    op.create_index(op.f("ix_bookings_host_user_id"), "bookings", ["host_user_id"], unique=False)
    op.create_index("ix_bookings_host_user_id_id", "bookings", ["host_user_id", "id"], unique=False)
    op.create_index(op.f("ix_bookings_page_id"), "bookings", ["page_id"], unique=False)
    op.create_table(
        "calendar_settings",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("meeting_url_prefix", sa.String(length=64), nullable=False),
        sa.Column("default_page_id", sa.BigInteger(), nullable=True),
        sa.Column("meeting_domain_id", sa.BigInteger(), nullable=True),
        sa.Column("pages_enabled", sa.Boolean(), nullable=False),
        sa.Column("chat_link_enabled", sa.Boolean(), nullable=False),
        sa.Column("chat_page_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_calendar_settings_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chat_page_id"],
            ["scheduling_pages.id"],
            name=op.f("fk_calendar_settings_chat_page_id_scheduling_pages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["default_page_id"],
            ["scheduling_pages.id"],
            name=op.f("fk_calendar_settings_default_page_id_scheduling_pages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_domain_id"],
            ["connected_domains.id"],
            name=op.f("fk_calendar_settings_meeting_domain_id_connected_domains"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_settings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calendar_settings")),
    )
    op.create_index(
        op.f("ix_calendar_settings_account_id"), "calendar_settings", ["account_id"], unique=False
    )
    op.create_table(
        "credentials",
        sa.Column("connection_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_credentials_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["calendar_connections.id"],
            name=op.f("fk_credentials_connection_id_calendar_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_credentials")),
    )
    op.create_index(op.f("ix_credentials_account_id"), "credentials", ["account_id"], unique=False)
    op.create_table(
        "inbox_connections",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "PERSONAL",
                "SHARED",
                name="inboxkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "CONNECTED",
                "DISCONNECTED",
                name="inboxstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("calendar_connection_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_inbox_connections_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["calendar_connection_id"],
            ["calendar_connections.id"],
            name=op.f("fk_inbox_connections_calendar_connection_id_calendar_connections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_inbox_connections_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_connections")),
    )
    op.create_index(
        op.f("ix_inbox_connections_account_id"), "inbox_connections", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_inbox_connections_user_id"), "inbox_connections", ["user_id"], unique=False
    )
    op.create_table(
        "remote_calendars",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("connection_id", sa.BigInteger(), nullable=False),
        sa.Column("remote_id", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column(
            "access",
            sa.Enum(
                "OWNER",
                "WRITER",
                "READER",
                "FREE_BUSY_READER",
                name="calendaraccess",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("can_see_all_details", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "CONNECTED",
                "ACCESS_LOST",
                name="calendarstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_remote_calendars_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["calendar_connections.id"],
            name=op.f("fk_remote_calendars_connection_id_calendar_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_calendars")),
        sa.UniqueConstraint(
            "connection_id", "remote_id", name=op.f("uq_remote_calendars_connection_id")
        ),
    )
    op.create_index(
        op.f("ix_remote_calendars_account_id"), "remote_calendars", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_remote_calendars_connection_id"),
        "remote_calendars",
        ["connection_id"],
        unique=False,
    )
    op.create_table(
        "availability_calendars",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("remote_calendar_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_availability_calendars_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_calendar_id"],
            ["remote_calendars.id"],
            name=op.f("fk_availability_calendars_remote_calendar_id_remote_calendars"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_availability_calendars_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_calendars")),
        sa.UniqueConstraint(
            "user_id", "remote_calendar_id", name=op.f("uq_availability_calendars_user_id")
        ),
    )
    op.create_index(
        op.f("ix_availability_calendars_account_id"),
        "availability_calendars",
        ["account_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_availability_calendars_user_id"),
        "availability_calendars",
        ["user_id"],
        unique=False,
    )


def downgrade() -> None:

    op.drop_index(op.f("ix_availability_calendars_user_id"), table_name="availability_calendars")
    op.drop_index(op.f("ix_availability_calendars_account_id"), table_name="availability_calendars")
    op.drop_table("availability_calendars")
    op.drop_index(op.f("ix_remote_calendars_connection_id"), table_name="remote_calendars")
    op.drop_index(op.f("ix_remote_calendars_account_id"), table_name="remote_calendars")
    op.drop_table("remote_calendars")
    op.drop_index(op.f("ix_inbox_connections_user_id"), table_name="inbox_connections")
    op.drop_index(op.f("ix_inbox_connections_account_id"), table_name="inbox_connections")
    op.drop_table("inbox_connections")
    op.drop_index(op.f("ix_credentials_account_id"), table_name="credentials")
    op.drop_table("credentials")
    op.drop_index(op.f("ix_calendar_settings_account_id"), table_name="calendar_settings")
    op.drop_table("calendar_settings")
    op.drop_index(op.f("ix_bookings_page_id"), table_name="bookings")
    op.drop_index("ix_bookings_host_user_id_id", table_name="bookings")
    op.drop_index(op.f("ix_bookings_host_user_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_contact_id"), table_name="bookings")
    op.drop_index(op.f("ix_bookings_account_id"), table_name="bookings")
    op.drop_table("bookings")
    op.drop_index(op.f("ix_tasks_user_id"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_account_id"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index("uq_scheduling_pages_slug", table_name="scheduling_pages")
    op.drop_index("ix_scheduling_pages_user_id_id", table_name="scheduling_pages")
    op.drop_index(op.f("ix_scheduling_pages_user_id"), table_name="scheduling_pages")
    op.drop_index(op.f("ix_scheduling_pages_account_id"), table_name="scheduling_pages")
    op.drop_table("scheduling_pages")
    op.drop_index(op.f("ix_calendar_connections_user_id"), table_name="calendar_connections")
    op.drop_index(op.f("ix_calendar_connections_account_id"), table_name="calendar_connections")
    op.drop_table("calendar_connections")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_index(op.f("ix_api_tokens_account_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("uq_users_account_email", table_name="users")
    op.drop_index(op.f("ix_users_account_id"), table_name="users")
    op.drop_table("users")
    op.drop_index("uq_contacts_account_email", table_name="contacts")
    op.drop_index(op.f("ix_contacts_account_id"), table_name="contacts")
    op.drop_table("contacts")
    op.drop_index("uq_connected_domains_domain", table_name="connected_domains")
    op.drop_index(op.f("ix_connected_domains_account_id"), table_name="connected_domains")
    op.drop_table("connected_domains")
    op.drop_table("accounts")
