-- `?as_of=` reads a stream by version and stops at its first event recorded after the
-- instant (`StreamBound::cut`), so the `(stream_id, recorded_at)` index served nothing
-- else: dropped, one index fewer written per event (fewer pages per commit).
DROP INDEX IF EXISTS events_stream_time_idx;
