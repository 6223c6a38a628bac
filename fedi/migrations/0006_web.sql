-- The public web side: a log of follower changes of local actors (for "followers over time"),
-- and indexes for the per-day and per-week queries of the pages, feeds and transparency report.

-- One row per change of a local actor's accepted followers: +1 when a follow is accepted, -1 when
-- an accepted follow goes. Kept by a trigger on ``follows``; the running sum is the follower count.
CREATE TABLE follow_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    followee_id bigint NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    delta smallint NOT NULL CHECK (delta IN (-1, 1)),
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX follow_events_followee_idx ON follow_events (followee_id, occurred_at);

-- Only follows of local actors are logged; when the followee itself is being removed (a cascade),
-- its events go with it, so nothing is logged for it.
CREATE FUNCTION log_follow_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_accepted boolean := false;
    is_accepted boolean := false;
    followee bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        was_accepted := OLD.state = 'accepted';
        followee := OLD.followee_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        is_accepted := NEW.state = 'accepted';
        followee := NEW.followee_id;
    END IF;
    IF was_accepted <> is_accepted THEN
        INSERT INTO follow_events (followee_id, delta)
        SELECT followee, CASE WHEN is_accepted THEN 1 ELSE -1 END
        WHERE EXISTS (SELECT 1 FROM actors WHERE id = followee AND local);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER follows_log_events AFTER INSERT OR UPDATE OF state OR DELETE ON follows
    FOR EACH ROW EXECUTE FUNCTION log_follow_event();

-- Follows accepted before this migration count from the time they were accepted.
INSERT INTO follow_events (followee_id, delta, occurred_at)
SELECT f.followee_id, 1, COALESCE(f.accepted_at, f.created_at)
FROM follows f JOIN actors a ON a.id = f.followee_id AND a.local
WHERE f.state = 'accepted';

-- The organisation's feed: every department's latest live posts.
CREATE INDEX posts_local_published_idx ON posts (published_at DESC, id DESC) WHERE local AND deleted_at IS NULL;

-- A feed's Last-Modified: the latest publication, edit or deletion, of one department or of all.
CREATE INDEX posts_local_changed_idx ON posts ((GREATEST(published_at, edited_at, deleted_at))) WHERE local;
CREATE INDEX posts_author_changed_idx ON posts (author_id, (GREATEST(published_at, edited_at, deleted_at))) WHERE local;

-- Citizens' replies by the time they arrived, for the transparency report.
CREATE INDEX posts_remote_replies_idx ON posts (created_at) WHERE NOT local AND in_reply_to_id IS NOT NULL;
