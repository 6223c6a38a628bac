-- Client API authentication: staff passwords, OAuth 2 applications, authorization codes, tokens,
-- and the login attempts that rate-limit the login form.

ALTER TABLE staff
    ADD COLUMN password_hash text,
    ADD COLUMN signature_name text NOT NULL DEFAULT '';

CREATE TABLE oauth_applications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    website text,
    redirect_uris text[] NOT NULL,
    scopes text NOT NULL,
    client_id text NOT NULL UNIQUE,
    client_secret_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_grants (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code_hash text NOT NULL UNIQUE,
    application_id bigint NOT NULL REFERENCES oauth_applications (id) ON DELETE CASCADE,
    staff_id bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    actor_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    redirect_uri text NOT NULL,
    scopes text NOT NULL,
    code_challenge text,
    code_challenge_method text,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A token acts for one staff member as one department (both NULL for client_credentials tokens).
CREATE TABLE oauth_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    refresh_token_hash text UNIQUE,
    application_id bigint REFERENCES oauth_applications (id) ON DELETE CASCADE,
    staff_id bigint REFERENCES staff (id) ON DELETE CASCADE,
    actor_id bigint REFERENCES actors (id) ON DELETE CASCADE,
    scopes text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    CHECK ((staff_id IS NULL) = (actor_id IS NULL))
);
CREATE INDEX oauth_tokens_staff_idx ON oauth_tokens (staff_id);

CREATE TABLE login_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_address text NOT NULL,
    username text NOT NULL,
    succeeded boolean NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_address_idx ON login_attempts (client_address, attempted_at);
CREATE INDEX login_attempts_username_idx ON login_attempts (lower(username), attempted_at);
