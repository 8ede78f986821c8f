-- TokenVault foundation: bases and their data keys, app registrations and client credentials, API keys, audit trail.
--
-- Scale-out rule (DESIGN.md): every tenant table carries base_id, its primary and unique keys include it, and every
-- query of tenant data filters by it, so the schema can be distributed by base (Citus). The global tables are small:
-- system_keys, api_keys, bases itself (a reference table when distributed).

-- Data keys that are not a base's: wrapped by a master key like the base keys. The 'system' key derives the
-- API-key hashing key and the audit-chain key.
CREATE TABLE system_keys (
    name          text PRIMARY KEY,
    master_key_id text NOT NULL,
    wrapped_key   bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    rewrapped_at  timestamptz
);

CREATE TABLE bases (
    id           uuid PRIMARY KEY,
    slug         text NOT NULL CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    base_url     text NOT NULL,
    tenant       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('onboarding', 'active', 'secret_expired', 'disabled', 'offboarded')),
    version      bigint NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    deleted_at   timestamptz
);
-- A slug names one live base; an offboarded base keeps its row (and its audit trail) and frees the slug.
CREATE UNIQUE INDEX bases_live_slug ON bases (slug) WHERE deleted_at IS NULL;

-- One data-encryption key per base, wrapped (AES-256-GCM) by the master key named here. Deleting the row is the
-- crypto-shredding of everything sealed for the base.
CREATE TABLE base_keys (
    base_id       uuid PRIMARY KEY REFERENCES bases (id),
    master_key_id text NOT NULL,
    wrapped_key   bytea NOT NULL,
    key_version   integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    rewrapped_at  timestamptz
);

CREATE TABLE app_registrations (
    base_id    uuid PRIMARY KEY REFERENCES bases (id),
    client_id  text NOT NULL,
    tenant     text NOT NULL,
    version    bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Client secrets (sealed) with their 4-character hint and expiry. Several can be active at once so that a secret is
-- rotated with overlap; retired and expired ones stay for the record.
CREATE TABLE client_credentials (
    base_id         uuid NOT NULL REFERENCES app_registrations (base_id),
    id              uuid NOT NULL,
    client_id       text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('secret', 'certificate')),
    secret_sealed   bytea NOT NULL,
    hint            text NOT NULL CHECK (length(hint) <= 4),
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    retired_at      timestamptz,
    last_used_at    timestamptz,
    last_error_code text,
    PRIMARY KEY (base_id, id)
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    prefix       text NOT NULL UNIQUE,
    key_hash     bytea NOT NULL,
    role         text NOT NULL CHECK (role IN ('admin', 'instance', 'auditor')),
    base_id      uuid REFERENCES bases (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at   timestamptz NOT NULL,
    created_by   text NOT NULL,
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    revoked_by   text,
    CHECK ((role = 'instance') = (base_id IS NOT NULL))
);

-- The audit trail: one hash chain per base (events that concern no base use the nil UUID), each link an
-- HMAC-SHA256 keyed by a key the database does not hold, so a row altered or removed behind the service's back
-- breaks the chain. Rows are written in the same transaction as the change they record.
CREATE TABLE audit_chain_heads (
    base_id   uuid PRIMARY KEY,
    last_seq  bigint NOT NULL,
    last_hash bytea NOT NULL
);

CREATE SEQUENCE audit_events_id_seq;

CREATE TABLE audit_events (
    base_id     uuid NOT NULL,
    seq         bigint NOT NULL,
    id          bigint NOT NULL DEFAULT nextval('audit_events_id_seq'),
    occurred_at timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    request_id  text,
    details     text NOT NULL CHECK (details::jsonb IS NOT NULL),
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL,
    PRIMARY KEY (base_id, seq)
);
CREATE UNIQUE INDEX audit_events_id ON audit_events (id, base_id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_target ON audit_events (target_id, id);
CREATE INDEX audit_events_time ON audit_events (occurred_at);

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
