-- Moderation by the instance's admins: blocked domains (a block covers the domain's subdomains),
-- blocked remote actors, and the staff flag that makes a login an instance moderator.
-- Distinct from ``blocks``, which records a remote actor blocking one of our departments.

CREATE TABLE blocked_domains (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain text NOT NULL UNIQUE CHECK (domain = lower(domain) AND domain <> ''),
    severity text NOT NULL DEFAULT 'suspend' CHECK (severity IN ('suspend')),
    public_comment text NOT NULL DEFAULT '',
    private_comment text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A blocked actor is named by its id, so it can be blocked before (or without) being fetched.
CREATE TABLE blocked_actors (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uri text NOT NULL UNIQUE,
    comment text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE staff ADD COLUMN is_moderator boolean NOT NULL DEFAULT false;

-- The host of an http(s) URL with any port, e.g. 'peer.test:8443' for 'https://u@peer.test:8443/x'.
CREATE FUNCTION url_host(url text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT substring(url FROM '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/?#]*)')
$$;

-- A host's name without port, lower case, without a trailing dot: 'Peer.Test:8443' -> 'peer.test'.
CREATE FUNCTION host_name(host text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT rtrim(lower(CASE WHEN host LIKE '[%' THEN substring(host FROM '^(\[[^]]*\])')
                            ELSE split_part(host, ':', 1) END), '.')
$$;

-- The name and each parent domain: 'a.b.example' -> {a.b.example, b.example, example}.
CREATE FUNCTION domain_suffixes(name text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(array_agg(array_to_string(labels[i:], '.') ORDER BY i), '{}')
    FROM string_to_array(name, '.') AS labels, generate_series(1, cardinality(labels)) AS i
$$;

-- Whether a host (with or without port) is blocked, itself or as a subdomain of a blocked domain.
CREATE FUNCTION host_blocked(host text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT host IS NOT NULL AND EXISTS (
        SELECT 1 FROM blocked_domains WHERE domain = ANY (domain_suffixes(host_name(host))))
$$;

-- Whether an actor id is blocked: the actor itself or its domain.
CREATE FUNCTION actor_blocked(uri text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM blocked_actors b WHERE b.uri = actor_blocked.uri) OR host_blocked(url_host(uri))
$$;
