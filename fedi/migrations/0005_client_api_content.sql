-- Client API content: notifications (filled by triggers, so the inbox needs no change), media
-- attachments, scheduled statuses, idempotency keys, the staff audit log, per-department settings,
-- and the application a local post was written with.

ALTER TABLE posts ADD COLUMN application_id bigint REFERENCES oauth_applications (id) ON DELETE SET NULL;

-- Per-department switches; a department without a row has every default.
CREATE TABLE department_settings (
    actor_id bigint PRIMARY KEY REFERENCES actors (id) ON DELETE CASCADE,
    append_signature boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- What happened to a department. A notification goes when the follow, interaction or post that caused
-- it goes (an Undo removes it); a deleted post's notifications are hidden when read.
CREATE TABLE notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    type text NOT NULL CHECK (type IN ('mention', 'status', 'reblog', 'follow', 'follow_request', 'favourite', 'update')),
    from_actor_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    post_id bigint REFERENCES posts (id) ON DELETE CASCADE,
    follow_id bigint REFERENCES follows (id) ON DELETE CASCADE,
    interaction_id bigint REFERENCES interactions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    dismissed_at timestamptz
);
CREATE INDEX notifications_actor_idx ON notifications (actor_id, id DESC) WHERE dismissed_at IS NULL;
-- A post mentions a department once, however often its mentions are rewritten or it replies too.
CREATE UNIQUE INDEX notifications_mention_key ON notifications (actor_id, post_id) WHERE type = 'mention';

-- Notify a live local department of something another actor did; anything else is ignored.
CREATE FUNCTION notify_department(
    recipient bigint, kind text, sender bigint, post bigint, follow bigint, interaction bigint
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO notifications (actor_id, type, from_actor_id, post_id, follow_id, interaction_id)
    SELECT recipient, kind, sender, post, follow, interaction
    FROM actors a
    WHERE a.id = recipient AND a.local AND a.actor_type = 'Organization' AND a.deleted_at IS NULL
      AND recipient <> sender
    ON CONFLICT DO NOTHING
$$;

CREATE FUNCTION notifications_on_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify_department(
        NEW.followee_id, CASE WHEN NEW.state = 'accepted' THEN 'follow' ELSE 'follow_request' END,
        NEW.follower_id, NULL, NEW.id, NULL
    );
    RETURN NULL;
END
$$;
CREATE TRIGGER follows_notify AFTER INSERT ON follows FOR EACH ROW EXECUTE FUNCTION notifications_on_follow();

-- An approved follow request becomes a follower.
CREATE FUNCTION notifications_on_follow_accepted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE notifications SET type = 'follow' WHERE follow_id = NEW.id AND type = 'follow_request';
    RETURN NULL;
END
$$;
CREATE TRIGGER follows_notify_accepted AFTER UPDATE OF state ON follows FOR EACH ROW
    WHEN (OLD.state = 'pending' AND NEW.state = 'accepted') EXECUTE FUNCTION notifications_on_follow_accepted();

-- Likes (and emoji reactions, which Mastodon shows as favourites) and boosts of local posts.
CREATE FUNCTION notifications_on_interaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify_department(
        p.author_id, CASE WHEN NEW.kind = 'announce' THEN 'reblog' ELSE 'favourite' END, NEW.actor_id, p.id, NULL, NEW.id
    )
    FROM posts p WHERE p.id = NEW.post_id AND p.local;
    RETURN NULL;
END
$$;
CREATE TRIGGER interactions_notify AFTER INSERT ON interactions FOR EACH ROW EXECUTE FUNCTION notifications_on_interaction();

-- A reply to a department's post mentions the department, whether or not it carries a Mention tag.
CREATE FUNCTION notifications_on_reply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify_department(parent.author_id, 'mention', NEW.author_id, NEW.id, NULL, NULL)
    FROM posts parent WHERE parent.id = NEW.in_reply_to_id AND parent.local;
    RETURN NULL;
END
$$;
CREATE TRIGGER posts_notify_reply AFTER INSERT ON posts FOR EACH ROW
    WHEN (NEW.in_reply_to_id IS NOT NULL AND NEW.deleted_at IS NULL) EXECUTE FUNCTION notifications_on_reply();

CREATE FUNCTION notifications_on_mention() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify_department(NEW.actor_id, 'mention', p.author_id, p.id, NULL, NULL)
    FROM posts p WHERE p.id = NEW.post_id AND p.deleted_at IS NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER post_mentions_notify AFTER INSERT ON post_mentions FOR EACH ROW EXECUTE FUNCTION notifications_on_mention();

-- An edited post: the departments that boosted it or that it mentions hear of every edit.
CREATE FUNCTION notifications_on_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify_department(concerned.actor_id, 'update', NEW.author_id, NEW.id, NULL, NULL)
    FROM (
        SELECT actor_id FROM interactions WHERE post_id = NEW.id AND kind = 'announce'
        UNION
        SELECT actor_id FROM post_mentions WHERE post_id = NEW.id
    ) concerned;
    RETURN NULL;
END
$$;
CREATE TRIGGER posts_notify_edit AFTER UPDATE OF edited_at ON posts FOR EACH ROW
    WHEN (NEW.edited_at IS DISTINCT FROM OLD.edited_at AND NEW.deleted_at IS NULL) EXECUTE FUNCTION notifications_on_edit();

-- Uploaded images: a file under <data dir>/media/, owned by a department until a post uses it.
CREATE TABLE media_attachments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    staff_id bigint REFERENCES staff (id) ON DELETE SET NULL,
    post_id bigint REFERENCES posts (id) ON DELETE SET NULL,
    position integer NOT NULL DEFAULT 0,
    kind text NOT NULL CHECK (kind IN ('image')),
    content_type text NOT NULL,
    file_name text NOT NULL UNIQUE,
    size integer NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    description text,
    focus_x real CHECK (focus_x BETWEEN -1 AND 1),
    focus_y real CHECK (focus_y BETWEEN -1 AND 1),
    blurhash text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_attachments_post_idx ON media_attachments (post_id, position) WHERE post_id IS NOT NULL;
CREATE INDEX media_attachments_actor_idx ON media_attachments (actor_id, id);

-- Posts to publish later: a queue (pending -> published | failed) claimed with SKIP LOCKED; the post
-- and the row's change to published are committed together, so each is published exactly once.
CREATE TABLE scheduled_statuses (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    staff_id bigint REFERENCES staff (id) ON DELETE SET NULL,
    application_id bigint REFERENCES oauth_applications (id) ON DELETE SET NULL,
    params jsonb NOT NULL,
    scheduled_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'published', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until timestamptz,
    last_error text,
    published_post_id bigint REFERENCES posts (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scheduled_statuses_due_idx ON scheduled_statuses (next_attempt_at) WHERE state = 'pending';
CREATE INDEX scheduled_statuses_actor_idx ON scheduled_statuses (actor_id, id) WHERE state = 'pending';

-- ``Idempotency-Key`` of POST /api/v1/statuses: the same key from the same staff member as the same
-- department within an hour gives back the first result.
CREATE TABLE idempotency_keys (
    staff_id bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    actor_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    key text NOT NULL,
    post_id bigint REFERENCES posts (id) ON DELETE CASCADE,
    scheduled_status_id bigint REFERENCES scheduled_statuses (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (staff_id, actor_id, key)
);

-- Which staff member did what as which department; kept when the staff member or the post goes.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id bigint REFERENCES staff (id) ON DELETE SET NULL,
    staff_username text NOT NULL,
    actor_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    action text NOT NULL CHECK (action IN (
        'post', 'edit', 'delete', 'favourite', 'unfavourite', 'reblog', 'unreblog', 'pin', 'unpin',
        'schedule', 'reschedule', 'unschedule'
    )),
    post_id bigint REFERENCES posts (id) ON DELETE SET NULL,
    application_id bigint REFERENCES oauth_applications (id) ON DELETE SET NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at DESC);
