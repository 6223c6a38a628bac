-- Actors (local departments, the instance actor; remote actors join this table later),
-- their key pairs, staff logins and the memberships linking staff to departments.

CREATE TABLE actors (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uri text NOT NULL UNIQUE,
    local boolean NOT NULL,
    actor_type text NOT NULL,
    username text NOT NULL,
    domain text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    summary text NOT NULL DEFAULT '',
    summary_html text NOT NULL DEFAULT '',
    area text NOT NULL DEFAULT '',
    avatar_url text,
    header_url text,
    fields jsonb NOT NULL DEFAULT '[]',
    manually_approves_followers boolean NOT NULL DEFAULT false,
    discoverable boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

-- A local username is taken for good, even after the department is deleted (as in Mastodon),
-- so that old posts and follows can never be attributed to a newcomer.
CREATE UNIQUE INDEX actors_local_username_key ON actors (lower(username)) WHERE local;

CREATE TABLE keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    key_id text NOT NULL UNIQUE,
    generation integer NOT NULL,
    public_key_pem text NOT NULL,
    private_key_encrypted bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz,
    UNIQUE (actor_id, generation)
);

CREATE UNIQUE INDEX keys_one_active_per_actor ON keys (actor_id) WHERE retired_at IS NULL;

CREATE TABLE staff (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    email text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX staff_username_key ON staff (lower(username));
CREATE UNIQUE INDEX staff_email_key ON staff (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE memberships (
    staff_id bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    actor_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (staff_id, actor_id)
);

CREATE INDEX memberships_actor_idx ON memberships (actor_id);
