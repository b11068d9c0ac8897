-- `?as_of=` reads a stream by version and stops at its first event recorded after the
-- instant (`StreamBound::cut`), so the `(stream_id, recorded_at)` index served nothing
-- else: dropped, one index fewer written per event (and about 60 bytes per event on
-- disk). The rows stay as they are.
DROP INDEX IF EXISTS events_stream_time_idx;
