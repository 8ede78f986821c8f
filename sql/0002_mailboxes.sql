-- Mailboxes, their tokens, and the OAuth states of sign-ins in progress. Tenant tables: base_id leads every key.

CREATE TABLE mailboxes (
    base_id                       uuid NOT NULL REFERENCES bases (id),
    id                            uuid NOT NULL,
    address                       text NOT NULL,
    mode                          text NOT NULL CHECK (mode IN ('delegated', 'application')),
    status                        text NOT NULL CHECK (status IN ('pending', 'active', 'needs_reauthorization', 'failing', 'disabled')),
    -- Pinned at the first consent: later sign-ins must come from the same tenant and account.
    tenant_id                     text,
    object_id                     text,
    granted_scopes                text[] NOT NULL DEFAULT '{}',
    missing_scopes                text[] NOT NULL DEFAULT '{}',
    -- Sealed by the Barrier. The previous refresh token is kept until the new one has been used once.
    refresh_token_sealed          bytea,
    previous_refresh_token_sealed bytea,
    refresh_token_version         bigint NOT NULL DEFAULT 0,
    refresh_token_obtained_at     timestamptz,
    refresh_token_used_at         timestamptz,
    last_error_code               text,
    last_error                    text,
    last_error_remediation        text,
    last_error_at                 timestamptz,
    consecutive_failures          integer NOT NULL DEFAULT 0,
    authorized_at                 timestamptz,
    -- Refresh scheduling and leases: one replica at a time refreshes a mailbox.
    next_refresh_at               timestamptz,
    lease_owner                   text,
    lease_expires_at              timestamptz,
    created_at                    timestamptz NOT NULL,
    updated_at                    timestamptz NOT NULL,
    deleted_at                    timestamptz,
    PRIMARY KEY (base_id, id)
);
CREATE UNIQUE INDEX mailboxes_live_address ON mailboxes (base_id, address) WHERE deleted_at IS NULL;
CREATE INDEX mailboxes_next_refresh ON mailboxes (next_refresh_at) WHERE deleted_at IS NULL;

-- One access token per mailbox and resource ('outlook' for SMTP/IMAP/POP, 'graph'), sealed.
CREATE TABLE access_tokens (
    base_id     uuid NOT NULL,
    mailbox_id  uuid NOT NULL,
    resource    text NOT NULL CHECK (resource IN ('outlook', 'graph')),
    token_sealed bytea NOT NULL,
    scopes      text[] NOT NULL DEFAULT '{}',
    expires_at  timestamptz NOT NULL,
    obtained_at timestamptz NOT NULL,
    PRIMARY KEY (base_id, mailbox_id, resource),
    FOREIGN KEY (base_id, mailbox_id) REFERENCES mailboxes (base_id, id)
);

-- A sign-in in progress. The state sent to Microsoft is "<base id, base64url>.<256 random bits, base64url>": only its
-- SHA-256 is stored, and the base id in front lets the public confirm page find the right shard.
CREATE TABLE oauth_states (
    base_id              uuid NOT NULL,
    state_hash           bytea NOT NULL,
    mailbox_id           uuid NOT NULL,
    code_verifier_sealed bytea NOT NULL,
    redirect_uri         text NOT NULL,
    scopes               text[] NOT NULL,
    created_by           text NOT NULL,
    created_at           timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    used_at              timestamptz,
    PRIMARY KEY (base_id, state_hash),
    FOREIGN KEY (base_id, mailbox_id) REFERENCES mailboxes (base_id, id)
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
