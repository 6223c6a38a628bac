-- Timeline markers of the client API: where a staff member stopped reading a department's home
-- timeline or notifications, kept per staff member and department (a token acts as one of them).

CREATE TABLE markers (
    staff_id bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    actor_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    timeline text NOT NULL CHECK (timeline IN ('home', 'notifications')),
    last_read_id bigint NOT NULL,
    version integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (staff_id, actor_id, timeline)
);
